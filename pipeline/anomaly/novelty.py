"""A per-series novelty detector with spans in time: no model to fit, one threshold for all.

Each series is judged against its own past only. Three quantities are tracked:
- the sample;
- its level, an exponential mean with a time constant in seconds (so a 15 s and a 5 min
  scrape see the same hour);
- its seasonal residual: how far the sample sits from what this series usually does at
  this time of day (a mean per hour of the day, each remembering a few days), smoothed
  like the level. A night that looks like a day, or a daily peak that does not come, is
  inside the series' overall range but far outside its range of residuals.
For each quantity the series remembers the range it covered over the last two weeks, as
the extremes of fixed blocks of wall-clock time (bounded memory; old blocks drop out
whole, a gap simply leaves empty blocks). A point's raw score is how far a quantity falls
outside that range, in units of the range's width, mapped to [0, 1): 0 for anything the
series has done recently, towards 1 for what it has never come near. The scale of the
series cancels, so one threshold serves a CPU percentage and a byte rate.

Counters are rated first: a series whose first samples never decrease and mostly increase
is treated as a cumulative counter, and its per-second rate (a drop is a reset, as in
Prometheus' `rate`) is what is judged.

An alert is news once: a score only counts while it exceeds the series' own recent peak
score, which decays with a time constant (the refractory span). A sustained anomaly gives
one early alert rather than hundreds, and a worse one later still alerts.

The state of a series is one fixed-size record of float64s (see `record_dtype`), stored as
bytes. Points are processed in time order, vectorised across series, with the same
element-wise operations whatever the batch: a point's score is bit for bit the same alone
or inside a batch of thousands.
"""

import functools
import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pipeline.errors import ConfigurationError, InvalidInput

STATE_FORMAT_VERSION = 4
QUANTITIES = ("value", "level", "seasonal")
_SLACK_RELATIVE = 1e-9
_SLACK_ABSOLUTE = 1e-12


@dataclass(frozen=True)
class NoveltySpec:
    """Spans in seconds and the few constants of the detector; part of a model's identity."""

    level_seconds: float = 3600.0  # time constant of the level (exponential mean)
    block_seconds: float = 86400.0  # the recent range is kept per block of wall-clock time
    range_blocks: int = 14  # completed blocks remembered: the range covers two weeks
    season_seconds: float = 86400.0  # the cycle the seasonal residual follows
    season_buckets: int = 24  # one mean per hour of the day
    # Seconds of samples a bucket's mean weighs most (3 h: the same hour over ~3 days); a
    # bucket is trusted once it has seen a third of that, so from the second day on.
    season_memory_seconds: float = 3 * 3600.0
    warmup_seconds: float = 900.0  # a series scores nothing during its first 15 minutes
    refractory_seconds: float = 86400.0  # time constant of the decaying peak score
    excess_gain: float = 2.0  # raw score = 1 - exp(-gain * excess)
    counter_probe: int = 12  # samples watched before deciding whether a series is a counter
    warmup_samples: int = 12  # ... nor before its 12th sample
    # A young range has not seen all the series does (three days: a few daily cycles): its
    # excess is scaled by age / maturity, so a young series needs a far larger excursion.
    maturity_seconds: float = 3 * 86400.0

    def fingerprint(self) -> int:
        """A 32-bit id of the spec and state format, stored in every state."""
        return _fingerprint(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NoveltySpec":
        fields = cls.__dataclass_fields__
        return cls(**{k: fields[k].type(v) for k, v in data.items() if k in fields})


@functools.cache
def _fingerprint(spec: NoveltySpec) -> int:
    text = json.dumps({"format": STATE_FORMAT_VERSION, **asdict(spec)}, sort_keys=True)
    return zlib.crc32(text.encode())


@functools.cache
def record_dtype(spec: NoveltySpec) -> np.dtype:
    """The packed little-endian layout of one encoded state."""
    ranges = (len(QUANTITIES), spec.range_blocks + 1)  # closed blocks, oldest first, then open
    return np.dtype(
        [
            ("fingerprint", "<u4"),
            ("count", "<u8"),  # accepted samples
            ("counter", "<i1"),  # 0 undecided, 1 counter (rated), -1 gauge
            ("ups", "<u2"),  # increases among the probe samples
            ("last_timestamp", "<f8"),
            ("first_timestamp", "<f8"),
            ("last_value", "<f8"),  # the raw sample, to rate counters
            ("level", "<f8"),
            ("residual", "<f8"),  # smoothed seasonal residual
            ("season", "<f8", (spec.season_buckets,)),  # mean per bucket of the cycle
            ("exposure", "<f8", (spec.season_buckets,)),  # seconds of samples behind it
            ("block", "<f8"),  # index of the open block: floor(time / block_seconds)
            ("peak", "<f8"),  # decaying peak of recent raw scores
            ("high", "<f8", ranges),
            ("low", "<f8", ranges),
        ]
    )


@dataclass(frozen=True, eq=False)
class NoveltyScores:
    """Per series, in input order: the state to store, the points' scores and which counted."""

    states: list[bytes]
    scores: list[np.ndarray]
    accepted: list[np.ndarray]


class NoveltyDetector:
    """Scores points of many series causally; holds no per-series memory of its own."""

    def __init__(self, spec: NoveltySpec, threshold: float, model_version: str) -> None:
        self.spec = spec
        self.threshold = threshold
        self.model_version = model_version

    def new_state(self) -> bytes:
        """The state of a series never seen before."""
        return _fresh_record(self.spec)

    def load_state(self, data: bytes | None) -> bytes:
        """A stored state if usable, else a fresh one (absent, other spec, corrupt)."""
        return data if _usable(data, self.spec) else self.new_state()

    def score_encoded(
        self,
        states: Sequence[bytes | None],
        timestamps: Sequence[np.ndarray],
        values: Sequence[np.ndarray],
    ) -> NoveltyScores:
        """Score a batch given each series' stored state bytes (None for a new series)."""
        if not len(states) == len(timestamps) == len(values):
            raise InvalidInput("score needs one state, one timestamp and one value array a series")
        records = np.frombuffer(
            b"".join(self.load_state(s) for s in states), dtype=record_dtype(self.spec)
        ).copy()
        time_grid, value_grid, present = _pad(timestamps, values)
        scores, accepted = advance(records, time_grid, value_grid, self.spec)
        raw, size = memoryview(records).cast("B"), records.dtype.itemsize
        return NoveltyScores(
            states=[raw[i * size : (i + 1) * size].tobytes() for i in range(len(records))],
            scores=[scores[i, : int(n)] for i, n in enumerate(present.sum(axis=1))],
            accepted=[accepted[i, : int(n)] for i, n in enumerate(present.sum(axis=1))],
        )

    def score_points(self, batch: Sequence) -> list:
        """Like `score_encoded` for items with `.state`, `.timestamps`, `.values`."""
        from pipeline.anomaly.detector import SeriesScores

        result = self.score_encoded(
            [item.state for item in batch],
            [item.timestamps for item in batch],
            [item.values for item in batch],
        )
        return [
            SeriesScores(state, scores, accepted)
            for state, scores, accepted in zip(result.states, result.scores, result.accepted)
        ]

    def is_anomalous(self, scores: np.ndarray) -> np.ndarray:
        """Which scores reach the model's threshold."""
        return np.asarray(scores) >= self.threshold


def _pad(timestamps, values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    if [len(t) for t in timestamps] != lengths.tolist():
        raise InvalidInput("values and timestamps of a series must have the same length")
    present = np.arange(int(lengths.max(initial=0)))[None, :] < lengths[:, None]
    time_grid = np.full(present.shape, np.nan)
    value_grid = np.full(present.shape, np.nan)
    if present.any():
        try:
            time_grid[present] = np.concatenate(timestamps, dtype=np.float64)
            value_grid[present] = np.concatenate(values, dtype=np.float64)
        except (ValueError, TypeError) as error:
            raise InvalidInput(f"values and timestamps must be 1-d numeric arrays: {error}") from error
    return time_grid, value_grid, present


def advance(
    records: np.ndarray, times: np.ndarray, values: np.ndarray, spec: NoveltySpec
) -> tuple[np.ndarray, np.ndarray]:
    """Feed a (series, point) grid through the states in place; scores and accepted points.

    A point is ignored (score 0, state untouched) when its value or time is not finite or
    its time is not after the series' last accepted one, so a redelivered batch is a no-op.
    """
    scores = np.zeros(times.shape)
    accepted = np.zeros(times.shape, dtype=bool)
    for j in range(times.shape[1]):
        accepted[:, j], scores[:, j] = _step(records, times[:, j], values[:, j], spec)
    return scores, accepted


def _step(records: np.ndarray, t: np.ndarray, x: np.ndarray, spec: NoveltySpec):
    """One point per series (NaN where a series has none); updates `records` in place."""
    with np.errstate(invalid="ignore"):
        take = np.isfinite(t) & np.isfinite(x) & (t > records["last_timestamp"])
    if not take.any():
        return take, np.zeros(len(t))
    every = bool(take.all())  # the common case: work on the records themselves, no copy
    r = records if every else records[take]
    if not every:
        t, x = t[take], x[take]
    first = r["count"] == 0
    dt = np.where(first, 0.0, t - r["last_timestamp"])
    sample = _rated(r, x, dt, spec)
    # A series that turns out to be a counter restarts on its rate.
    restart = first | (r["counter"] == 1) & (r["count"] + 1 == spec.counter_probe)
    level = np.where(
        restart, sample, r["level"] + (1.0 - np.exp(-dt / spec.level_seconds)) * (sample - r["level"])
    )
    deviation = _seasonal(r, t, sample, dt, restart, spec)
    # Absent (NaN) until the hour's mean is trusted; then it starts from the first residual.
    residual = np.where(
        np.isfinite(r["residual"]) & ~restart,
        r["residual"] + (1.0 - np.exp(-dt / spec.level_seconds)) * (deviation - r["residual"]),
        deviation,
    )
    quantities = np.stack([sample, level, residual], axis=1)  # (series, quantity)
    block = np.floor(t / spec.block_seconds)
    _roll_blocks(r, np.where(restart, np.inf, block - r["block"]), spec)
    score = _score(r, quantities, dt, t, restart, spec)
    r["high"][:, :, -1] = np.fmax(r["high"][:, :, -1], quantities)
    r["low"][:, :, -1] = np.fmin(r["low"][:, :, -1], quantities)
    r["block"] = block
    r["level"] = level
    r["residual"] = residual
    r["first_timestamp"] = np.where(restart, t, r["first_timestamp"])
    r["last_timestamp"] = t
    r["last_value"] = x
    r["count"] += 1
    if not every:
        records[take] = r
    full = np.zeros(len(take))
    full[take] = np.where(np.isfinite(sample), score, 0.0)
    return take, full


def _rated(r: np.ndarray, x: np.ndarray, dt: np.ndarray, spec: NoveltySpec) -> np.ndarray:
    """The sample to judge: its per-second rate for counters, else itself; decides counters."""
    probing = (r["counter"] == 0) & (r["count"] > 0)
    increase = x > r["last_value"]
    decrease = x < r["last_value"]
    r["ups"] = r["ups"] + (probing & increase)
    r["counter"] = np.where(probing & decrease, -1, r["counter"])
    decided = (r["counter"] == 0) & (r["count"] + 1 == spec.counter_probe)
    # Never decreased over the probe, and rose at least at three samples in four.
    is_counter = r["ups"] * 4 >= 3 * (spec.counter_probe - 1)
    r["counter"] = np.where(decided, np.where(is_counter, 1, -1), r["counter"])
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(decrease, x, x - r["last_value"]) / dt
    return np.where(r["counter"] == 1, rate, x)


def _seasonal(r, t, sample, dt, restart, spec: NoveltySpec) -> np.ndarray:
    """The sample minus its bucket's mean (0 until the bucket is trusted); learns the sample."""
    buckets = spec.season_buckets
    bucket = np.floor(np.mod(t, spec.season_seconds) * buckets / spec.season_seconds)
    bucket = np.clip(bucket, 0, buckets - 1).astype(np.int64)
    rows = np.arange(len(t))
    season, exposure = r["season"], r["exposure"]
    season[restart] = np.nan
    exposure[restart] = 0.0
    mean = season[rows, bucket]
    trusted = exposure[rows, bucket] >= spec.season_memory_seconds / 3
    residual = np.where(trusted, sample - mean, np.nan)
    # A sample stands for the time since the last one, but never for more than its bucket.
    weight = np.minimum(np.where(restart, 0.0, dt), spec.season_seconds / buckets)
    learnt = np.where(
        np.isfinite(mean),
        mean + (1.0 - np.exp(-weight / spec.season_memory_seconds)) * (sample - mean),
        sample,
    )
    keep = np.isfinite(sample)
    season[rows, bucket] = np.where(keep, learnt, mean)
    exposure[rows, bucket] += np.where(keep, weight, 0.0)
    r["season"], r["exposure"] = season, exposure
    return residual


def _roll_blocks(r: np.ndarray, shift: np.ndarray, spec: NoveltySpec) -> None:
    """Close the open block and forget old ones when a point starts a new block."""
    blocks = spec.range_blocks
    steps = np.clip(np.nan_to_num(shift, posinf=blocks + 1), 0, blocks + 1).astype(np.int64)
    if not steps.any():
        return
    for name in ("high", "low"):
        ranges = r[name]  # (series, quantity, blocks + 1): closed oldest first, then open
        empty = np.full(ranges.shape[:2] + (blocks + 1,), np.nan)
        extended = np.concatenate([ranges, empty], axis=2)
        index = steps[:, None, None] + np.arange(blocks + 1)[None, None, :]
        rolled = np.take_along_axis(extended, np.broadcast_to(index, ranges.shape), axis=2)
        r[name] = np.where(steps[:, None, None] > 0, rolled, ranges)


def _score(r, quantities, dt, t, restart, spec: NoveltySpec) -> np.ndarray:
    """Raw novelty of each point against the range before it, gated by the decaying peak."""
    high = np.fmax.reduce(r["high"], axis=2)
    low = np.fmin.reduce(r["low"], axis=2)
    slack = _SLACK_RELATIVE * np.fmax(np.abs(high), np.abs(low)) + _SLACK_ABSOLUTE
    outside = np.fmax(np.fmax(quantities - high, low - quantities), 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        excess = np.nan_to_num(outside / (high - low + slack), nan=0.0, posinf=1e300)
    age = np.where(restart, 0.0, t - r["first_timestamp"])
    if spec.maturity_seconds > 0:
        # The seasonal residual exists from the second cycle on, and its range needs that
        # cycle to be seen whole before it can judge: it counts from the third.
        quantity_age = age[:, None] - np.array([0.0, 0.0, 2 * spec.season_seconds])[None, :]
        excess = excess * np.clip(quantity_age / spec.maturity_seconds, 0.0, 1.0)
    raw = -np.expm1(-spec.excess_gain * excess.max(axis=1))
    warm = (age >= spec.warmup_seconds) & (r["count"] + 1 >= spec.warmup_samples) & ~restart
    peak = np.where(restart, 0.0, r["peak"] * np.exp(-dt / spec.refractory_seconds))
    # Warm-up scores are not reported but do raise the peak: a series that is restless in
    # its first minutes has to exceed that restlessness once it scores.
    r["peak"] = np.fmax(peak, np.where(restart, 0.0, raw))
    return np.where(warm & (raw > peak), raw, 0.0)


@functools.cache
def _fresh_record(spec: NoveltySpec) -> bytes:
    record = np.zeros(1, dtype=record_dtype(spec))
    record["fingerprint"] = spec.fingerprint()
    record["last_timestamp"] = -np.inf
    record["high"] = np.nan
    record["low"] = np.nan
    record["season"] = np.nan
    record["residual"] = np.nan
    return record.tobytes()


def _usable(data: bytes | None, spec: NoveltySpec) -> bool:
    # A model or format change invalidates what a series learnt; it simply warms up again.
    if data is None or len(data) != record_dtype(spec).itemsize:
        return False
    return int.from_bytes(data[:4], "little") == spec.fingerprint()


def novelty_from_sidecar(meta: dict) -> NoveltyDetector:
    """The novelty detector a sidecar of kind "novelty" describes."""
    try:
        return NoveltyDetector(
            NoveltySpec.from_dict(meta["feature_spec"]),
            float(meta["threshold"]),
            str(meta["model_version"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"novelty model sidecar is malformed: {error!r}") from error
