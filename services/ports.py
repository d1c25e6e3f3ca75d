"""The ports: what the use cases need from the outside world, as protocols.

Adapters implement them (adapters/), in-memory fakes stand in for them in unit tests, and
`smartcloudops.bootstrap` chooses which. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # arrays only in annotations: the HTTP server, which imports the ports, never loads numpy
    import numpy as np

    from pipeline.events import CloudEvent

from pipeline.learning.outcomes import Signature
from pipeline.risk import LearnedFix


class ReplayGuard(Protocol):
    """Remembers accepted signatures for a while (Redis `SET key 1 NX EX ttl` in production)."""

    def first_seen(self, signature: str, ttl_s: int) -> bool:
        """Record `signature` for `ttl_s` seconds; False when it was already recorded."""


class InMemoryReplayGuard:
    """A ReplayGuard in a dict with expiry by an injected clock (tests, one process)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}

    def first_seen(self, signature: str, ttl_s: int) -> bool:
        """Record `signature` for `ttl_s` seconds; False when it was already recorded."""
        now = self._clock()
        self._seen = {sig: until for sig, until in self._seen.items() if until > now}
        if signature in self._seen:
            return False
        self._seen[signature] = now + ttl_s
        return True


class IncidentReads(Protocol):
    """The incidents read model the API and pages show (adapters.db.queries)."""

    def list(self, *, status: str | None = None, service: str | None = None, limit: int = 50,
             before: int | None = None) -> dict[str, Any]: ...

    def get(self, incident_id: int) -> dict[str, Any]: ...


class RemediationReads(Protocol):
    """Risk assessments and remediation runs of one incident (adapters.db.remediation_queries)."""

    def for_incident(self, incident_id: int) -> dict[str, Any]: ...


class KillSwitch(Protocol):
    """The shared guard state's kill switch, set at once by the API (the worker audits it)."""

    def set_kill_switch(self, engaged: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """A series as the store indexes it: its key and label set."""

    key: str
    labels: Mapping[str, str]


@dataclass(frozen=True, eq=False)
class ScoreColumns:
    """A message's scored points, column-wise: `series` indexes into `keys`/`labels`."""

    keys: Sequence[str]
    labels: Sequence[Mapping[str, str]]
    series: np.ndarray  # int, one per point
    ts_ms: np.ndarray  # int64
    values: np.ndarray
    scores: np.ndarray
    anomalous: np.ndarray  # bool
    model_version: str

    def __len__(self) -> int:
        return len(self.ts_ms)

    def rows(self, labels: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """One tuple per point in SCORE_COLUMNS order; `labels[i]` stands for series i's labels."""
        for index, ts_ms, value, score, anomalous in zip(
            self.series.tolist(),
            self.ts_ms.tolist(),
            self.values.tolist(),
            self.scores.tolist(),
            self.anomalous.tolist(),
        ):
            yield (
                self.keys[index],
                datetime.fromtimestamp(ts_ms / 1000, tz=UTC),
                value,
                score,
                anomalous,
                self.model_version,
                labels[index],
            )


class ScoreWriter(Protocol):
    """Writes a message's scored points and its new series in one transaction (adapters.db.anomaly_store)."""

    def record(self, scores: ScoreColumns, new_series: Sequence[SeriesRef], now: datetime) -> None: ...


class SeriesStateStore(Protocol):
    """Loads and saves the state bytes of many series at once; silent series expire (TTL)."""

    def load(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored bytes of each key, in order; None for unknown or expired series."""
        ...

    def save(
        self, states: Mapping[str, bytes], expected: Mapping[str, bytes | None] | None = None
    ) -> None:
        """Store each series' bytes, restarting its time to live.

        With `expected` (the bytes `load` returned), all or nothing: StateConflict when any
        series no longer holds its expected bytes.
        """
        ...


class Responder(Protocol):
    """Delivers one chat answer (Slack message JSON) to a response_url."""

    def post(self, url: str, message: dict[str, Any]) -> None: ...


class ChatAnswers(Protocol):
    """Hands a chat answer from the worker to the API request that waits for it (`"wait": true`)."""

    def put(self, event_id: str, message: dict[str, Any], ttl_s: int) -> None:
        """Leave the answer to `event_id` for `ttl_s` seconds."""

    def wait(self, event_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The answer to `event_id`, waiting up to `timeout_s`; None when none came in time."""


class ChatReads(Protocol):
    """Answers, at the edge, a chat line whose answer only reads (services/chat_reads.py)."""

    def answer(self, event: CloudEvent) -> dict[str, Any] | None:
        """The answer to the chat command `event`; None: the line acts, so it goes to the chat queue."""


class InMemoryChatAnswers:
    """ChatAnswers in one process (tests): a dict and a condition."""

    def __init__(self) -> None:
        import threading

        self._answers: dict[str, dict[str, Any]] = {}
        self._ready = threading.Condition()

    def put(self, event_id: str, message: dict[str, Any], ttl_s: int) -> None:
        with self._ready:
            self._answers[event_id] = message
            self._ready.notify_all()

    def wait(self, event_id: str, timeout_s: float) -> dict[str, Any] | None:
        with self._ready:
            self._ready.wait_for(lambda: event_id in self._answers, timeout=timeout_s)
            return self._answers.pop(event_id, None)


class ReplyRoutes(Protocol):
    """Which chat asked for a run, while its response_url is valid: the run's end is told there
    even when someone approves it through the API."""

    def remember(self, run_id: int, reply_to: str, ttl_s: int) -> None:
        """Keep `reply_to` for `run_id` for `ttl_s` seconds."""

    def reply_to(self, run_id: int) -> str | None:
        """The chat URL that asked for `run_id`, when still known."""


class InMemoryReplyRoutes:
    """ReplyRoutes in a dict (tests, one process); expiry is not modelled."""

    def __init__(self) -> None:
        self.routes: dict[int, str] = {}

    def remember(self, run_id: int, reply_to: str, ttl_s: int) -> None:
        self.routes[run_id] = reply_to

    def reply_to(self, run_id: int) -> str | None:
        return self.routes.get(run_id)


class LearnedOutcomes(Protocol):
    """What recorded outcomes say about an action on a kind of incident (docs/learning.md)."""

    def learned_fix(self, signature: Signature, action: str) -> LearnedFix | None: ...
