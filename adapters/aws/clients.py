"""boto3 clients built once per (service, region) from one session, optionally at a test endpoint.

botocore's own retries are off (one attempt): `Retrier` decides what to retry, so a throttled
call is not silently retried twice over and a validation error never is.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config


class AwsClients:
    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        endpoint_url: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 20.0,
    ) -> None:
        self._session = session or boto3.Session()
        self._endpoint_url = endpoint_url
        self._config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            user_agent_extra="smartcloudops",
        )
        self._clients: dict[tuple[str, str], Any] = {}
        # boto3 sessions are not thread-safe; clients are, so build them under a lock.
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        """The (cached) boto3 client of `service` in `region`."""
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
            return self._clients[key]
