"""The workers `smartcloudops up` runs: chat apart from alerts, metrics on one solo process, every queue served."""

from __future__ import annotations

import pytest

from config.settings import Settings
from smartcloudops.commands.runtime import alert_queue_split, up_workers


def queues_of(args: list[str]) -> set[str]:
    return set(args[args.index("--queues") + 1].split(","))


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_chat_has_a_worker_of_its_own_and_metrics_one_solo_process(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, worker_metrics_port=9809)
    names = settings.queues
    workers = up_workers(settings)
    served = [queues_of(args) for args, _ in workers]
    assert {names.chat} in served  # no alert batch can queue ahead of a person's command
    assert {names.metrics} in served
    assert set().union(*served) == set(names.all())  # every pipeline queue has a consumer
    assert sum(len(queues) for queues in served) == len(names.all())  # and only one
    metrics_args, metrics_env = next(w for w in workers if queues_of(w[0]) == {names.metrics})
    assert option(metrics_args, "--pool") == "solo"  # windows scored in order
    ports = [env.get("SCO_WORKER_METRICS_PORT", "9809") for _, env in workers]
    assert len(set(ports)) == len(ports)  # each worker's /metrics on its own port


def test_thread_pools_get_a_database_pool_as_large_as_their_threads(tmp_path) -> None:
    for args, env in up_workers(Settings(data_dir=tmp_path, worker_concurrency=6)):
        if option(args, "--pool") == "threads":
            assert env["SCO_WORKER_CONCURRENCY"] == option(args, "--concurrency") == "6"


PG = "postgresql+psycopg://sco@127.0.0.1/sco"


def test_on_redis_and_postgres_the_alert_consumer_takes_the_events_queue_from_celery(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/0", database_url=PG)
    names = settings.queues
    assert settings.batches_alerts
    assert alert_queue_split(",".join(names.all()), settings) == (
        ",".join(q for q in names.all() if q != names.events), True)
    assert alert_queue_split(names.chat, settings) == (names.chat, False)  # a worker without the events queue
    assert alert_queue_split(names.events, settings) == ("", True)  # the process is the consumer itself


def test_the_embedded_default_or_a_batch_of_one_keeps_one_task_per_alert_message(tmp_path) -> None:
    embedded = Settings(data_dir=tmp_path)
    one = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/0", database_url=PG, alert_batch_messages=1)
    for settings in (embedded, one):
        queues = ",".join(settings.queues.all())
        assert not settings.batches_alerts and alert_queue_split(queues, settings) == (queues, False)


PRELOAD = """
import json, sys
from smartcloudops.commands.runtime import SHARED_LIBRARIES, WORKER_MODULES, _preload_shared_libraries
_preload_shared_libraries()
missing = [name for name in (*SHARED_LIBRARIES, *WORKER_MODULES) if name not in sys.modules]
loaded = sorted({n.split(".")[0] for n in sys.modules} & {"prometheus_client", "sklearn", "scipy", "onnxruntime"})
print(json.dumps({"missing": missing, "loaded": loaded}))
"""


def test_what_up_loads_before_the_fork_leaves_prometheus_client_and_the_model_libraries_out(tmp_path) -> None:
    """A worker must import prometheus_client after choosing its multiprocess directory; the models are one worker's."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "SCO_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", PRELOAD], env=env, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"missing": [], "loaded": []}


def test_sco_chat_workers_runs_that_many_chat_workers_each_with_its_metrics_port(tmp_path) -> None:
    """A chat worker is one process of threads (one core at most): more of them serve more commands."""
    settings = Settings(data_dir=tmp_path, worker_metrics_port=9809, chat_workers=3)
    workers = up_workers(settings)
    chat = [(args, env) for args, env in workers if queues_of(args) == {settings.queues.chat}]
    assert len(chat) == 3
    assert all(option(args, "--pool") == "threads" for args, _ in chat)
    ports = [env.get("SCO_WORKER_METRICS_PORT", "9809") for _, env in workers]
    assert len(set(ports)) == len(ports) == 5
    assert len(up_workers(Settings(data_dir=tmp_path))) == 3  # one chat worker unless asked


# kombu's own model, in the child: SQLAlchemy 2.1 deprecates the loader strategy it uses.
@pytest.mark.filterwarnings("ignore:.*noload.*:DeprecationWarning")
def test_up_makes_the_embedded_brokers_queues_in_a_child_before_anything_declares_one(tmp_path) -> None:
    """Declared at once by the server and a worker on a fresh broker, a queue's row could be inserted twice:
    kombu's SQLAlchemy transport raised IntegrityError in one of them, and a worker stopped at start."""
    import sqlite3

    from kombu.transport.sqlalchemy import Channel

    from smartcloudops.commands.runtime import _declare_queues_in_child

    settings = Settings(data_dir=tmp_path)
    assert settings.is_embedded
    _declare_queues_in_child(settings)
    with sqlite3.connect(tmp_path / "broker.sqlite") as conn:
        made = {name for (name,) in conn.execute("SELECT name FROM kombu_queue")}
    assert made == {*settings.queues.all(), settings.queues.dead_letter}
    # Made by the child: this process opened no broker connection to hand down to the processes it forks.
    assert not any(str(tmp_path) in url for url in Channel._engines)
