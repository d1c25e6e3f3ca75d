"""The HTTP server imports on use: serving every kind of request never loads the model libraries.

Each process of `smartcloudops up` pays for what it imports; scikit-learn, pandas, onnxruntime, SciPy
and numpy serve the workers only, and Alembic only the migration (run in a child). A fresh interpreter
builds the server as `up` does (embedded defaults), sends it an alert, a chat line, metric samples and
the read requests, then reports which of those packages it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

# google: protobuf, loaded by the first Prometheus remote-write request only (the samples here are JSON);
# jwt: PyJWT and cryptography's x509, loaded by the first OIDC token only (this server has no OIDC)
HEAVY = ("sklearn", "pandas", "onnxruntime", "scipy", "numpy", "alembic", "joblib", "google", "jwt")

SERVER = textwrap.dedent("""
    import json, sys
    from datetime import datetime, timezone
    from starlette.testclient import TestClient
    from smartcloudops.cli import build_parser
    from smartcloudops.bootstrap import build_http_app, settings_from_environment
    from smartcloudops.demo_payloads import alert, webhook

    build_parser("up")
    settings = settings_from_environment()
    auth = {"Authorization": "Bearer " + settings.api_token.get_secret_value()}
    now = datetime.now(timezone.utc)
    statuses = []
    with TestClient(build_http_app(settings), headers=auth) as client:
        body = webhook([alert("Imports", "svc", "i-0123456789ab", status="firing", starts_at=now)])
        statuses.append(client.post("/v1/alerts/alertmanager", json=body).status_code)
        statuses.append(client.post("/v1/chat/command", json={"text": "list incidents", "user": "api-token", "channel": "ops"}).status_code)
        samples = [{"labels": {"__name__": "cpu", "instance": "i-1"}, "samples": [[now.timestamp(), 0.5]]}]
        statuses.append(client.post("/v1/metrics", json=samples).status_code)
        for path in ("/v1/incidents", "/metrics", "/healthz", "/readyz"):
            statuses.append(client.get(path).status_code)
        if len(sys.argv) > 1:  # a read the server answers itself: the language model's arrays, numpy only
            answered = client.post("/v1/chat/command", json={"text": sys.argv[1], "channel": "ops", "wait": True})
            statuses.append(answered.status_code)
    loaded = sorted({n.split(".")[0] for n in sys.modules if n.split(".")[0] in HEAVY})
    print(json.dumps({"loaded": loaded, "statuses": statuses}))
""")


def serve_and_report(tmp_path: Path, *read_line: str) -> dict:
    env = {**os.environ, "SCO_DATA_DIR": str(tmp_path), "SCO_API_TOKEN": "imports-token-0123456789abcdef",
           "SCO_API_TOKEN_ROLE": "admin", "SCO_LOG_LEVEL": "WARNING"}
    for name in ("SCO_BROKER_URL", "SCO_DATABASE_URL", "SCO_REDIS_URL"):
        env.pop(name, None)
    migrated = subprocess.run([sys.executable, "-m", "smartcloudops", "db", "upgrade"], env=env, capture_output=True,
                              text=True, timeout=100)  # as `up` does, in a child of its own
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    done = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + SERVER, *read_line], env=env,
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(status < 500 for status in report["statuses"]), report
    assert report["statuses"][:3] == [202, 202, 202], report  # alert, chat line and samples were published
    return report


def test_serving_alerts_chat_metrics_and_reads_never_imports_the_model_libraries(tmp_path: Path) -> None:
    report = serve_and_report(tmp_path)
    assert report["loaded"] == [], f"the HTTP server imported {report['loaded']}"


@pytest.mark.parametrize("line", ["list incidents", "anything burning in the checkout service right now?"])
def test_answering_a_read_itself_the_server_loads_numpy_and_never_scikit_learn(tmp_path: Path, line: str) -> None:
    from adapters.nlu_model import ensure_intent_model

    ensure_intent_model(tmp_path)  # trained by `up` (or a chat worker) into the shared data dir
    report = serve_and_report(tmp_path, line)
    assert report["statuses"][-1] == 200, report  # answered in the response, not queued
    assert set(report["loaded"]) <= {"numpy"}, f"the HTTP server imported {report['loaded']}"


SCORER = textwrap.dedent("""
    import json, sys
    from datetime import datetime, timezone
    from smartcloudops.bootstrap import bootstrap, settings_from_environment
    from pipeline.metric_events import SampleBatch
    from tasks.metrics import metric_scorer
    from tasks import runtime

    settings = settings_from_environment()
    runtime.configure(lambda: bootstrap(settings))
    now = datetime.now(timezone.utc)
    stamps = [int(now.timestamp() * 1000) - 15000 * k for k in (2, 1, 0)]
    batch = SampleBatch.from_data({"series": [{"key": "cpu-i-1", "labels": {"__name__": "cpu", "instance": "i-1"},
                                               "t": stamps, "v": [0.5, 0.6, 0.55]}]})
    outcome = metric_scorer().score(batch, trace_id="t" * 32, now=now)
    loaded = sorted({n.split(".")[0] for n in sys.modules if n.split(".")[0] in TRAINING})
    print(json.dumps({"loaded": loaded, "scored": outcome.scored}))
""")


def test_scoring_metrics_with_the_shipped_model_never_imports_the_training_libraries(tmp_path: Path) -> None:
    """A metrics worker runs the shipped detector (NumPy) without scikit-learn, joblib, onnx or SciPy."""
    training = ("sklearn", "joblib", "onnx", "scipy", "pandas")
    env = {**os.environ, "SCO_DATA_DIR": str(tmp_path), "SCO_LOG_LEVEL": "WARNING"}
    for name in ("SCO_BROKER_URL", "SCO_DATABASE_URL", "SCO_REDIS_URL", "SCO_ANOMALY_MODEL_PATH"):
        env.pop(name, None)
    migrated = subprocess.run([sys.executable, "-m", "smartcloudops", "db", "upgrade"], env=env, capture_output=True,
                              text=True, timeout=100)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    done = subprocess.run([sys.executable, "-c", f"TRAINING = {training!r}\n" + SCORER], env=env,
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["scored"] == 3, report
    assert report["loaded"] == [], f"scoring metrics imported {report['loaded']}"
