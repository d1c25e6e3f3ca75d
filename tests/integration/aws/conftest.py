"""moto in server mode on 127.0.0.1: every boto3 call of these tests goes over real HTTP."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import pytest
from aws_moto_support import CallRecorder, make_session

from adapters.aws import AwsClients, Retrier, RetryPolicy, build_actions


def _start_moto():
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if os.environ.get("CI"):
            pytest.fail(f"moto[server] is required in CI: {exc}")
        pytest.skip(f"moto[server] not installed: {exc}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        # ECS services in moto report this many running tasks, so deployments can complete.
        patch.setenv("MOTO_ECS_SERVICE_RUNNING", "2")
        server = _start_moto()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_moto(moto_url: str) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


@pytest.fixture
def calls() -> CallRecorder:
    return CallRecorder()


@pytest.fixture
def aws(moto_url: str, calls: CallRecorder) -> AwsClients:
    """The clients under test, with every request they send recorded."""
    session = make_session()
    session.events.register("before-send", calls)
    return AwsClients(session, endpoint_url=moto_url)


@pytest.fixture
def setup_client(moto_url: str):
    """Unrecorded clients to arrange and inspect the emulated estate."""
    session = make_session()
    return lambda service: session.client(service, endpoint_url=moto_url)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def actions(aws: AwsClients, sleeps: list[float]):
    retrier = Retrier(
        RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05), sleep=sleeps.append
    )
    return build_actions(aws, retrier)
