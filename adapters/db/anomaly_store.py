"""Writing scored samples: one transaction and one bulk write per message, never a row per commit.

PostgreSQL: COPY straight into `anomaly_scores` (the fast path: a message's points are new).
When some rows already exist (a redelivered message, or a retry after a state conflict), the
unique key refuses the COPY; the transaction is redone by COPY into a temporary table and one
INSERT ... SELECT ... ON CONFLICT DO UPDATE. SQLite (the embedded default): one executemany upsert.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.db.bulk import copy_into
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series
from services.ports import ScoreColumns, SeriesRef

SCORE_COLUMNS = ("series_key", "ts", "value", "score", "is_anomaly", "model_version", "labels")
_UPSERT_FROM_LOAD = """
INSERT INTO anomaly_scores (series_key, ts, value, score, is_anomaly, model_version, labels)
SELECT series_key, ts, value, score, is_anomaly, model_version, labels FROM anomaly_score_load
ON CONFLICT (series_key, ts) DO UPDATE SET value = excluded.value, score = excluded.score,
    is_anomaly = excluded.is_anomaly, model_version = excluded.model_version
"""


class AnomalyScoreStore:
    """Stores a message's scores and new series in one transaction; no row is ever added twice."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def record(self, scores: ScoreColumns, new_series: Sequence[SeriesRef], now: datetime) -> None:
        """Store every scored point and index the series seen for the first time."""
        if not len(scores) and not new_series:
            return
        if not self._postgres:
            with self._engine.begin() as conn:
                _insert_series(conn, new_series, now)
                _upsert_rows(conn, scores)
            return
        try:
            with self._engine.begin() as conn:
                _insert_series(conn, new_series, now)
                _copy(conn, "anomaly_scores", scores)
        except sa.exc.IntegrityError:  # some rows exist already (copy_into raises the driver's error as SQLAlchemy's)
            with self._engine.begin() as conn:
                _insert_series(conn, new_series, now)
                conn.exec_driver_sql(
                    "CREATE TEMP TABLE IF NOT EXISTS anomaly_score_load "
                    "(LIKE anomaly_scores INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
                _copy(conn, "anomaly_score_load", scores)
                conn.exec_driver_sql(_UPSERT_FROM_LOAD)


def _copy(conn: Connection, table: str, scores: ScoreColumns) -> None:
    if not len(scores):
        return
    with copy_into(conn, f"COPY {table} ({', '.join(SCORE_COLUMNS)}) FROM STDIN") as copy:
        copy.write(copy_text(scores))


def copy_text(scores: ScoreColumns) -> str:
    """The rows in COPY's text format, built column-wise (a per-row writer costs more than COPY)."""
    # Keys are hex and the version is ours; JSON text only needs COPY's backslash escaping.
    prefix = [f"{key}\t" for key in scores.keys]
    version = _copy_escape(scores.model_version)
    suffix = [
        f"\t{version}\t{_copy_escape(json.dumps(dict(labels), sort_keys=True))}\n"
        for labels in scores.labels
    ]
    stamps = np.datetime_as_string(scores.ts_ms.astype("datetime64[ms]"), unit="ms").tolist()
    flags = np.where(scores.anomalous, "t", "f").tolist()
    return "".join(
        f"{prefix[i]}{stamp}+00\t{value!r}\t{score!r}\t{flag}{suffix[i]}"
        for i, stamp, value, score, flag in zip(
            scores.series.tolist(), stamps, scores.values.tolist(), scores.scores.tolist(), flags
        )
    )


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _upsert_rows(conn: Connection, scores: ScoreColumns) -> None:
    if not len(scores):
        return
    insert = sqlite.insert(anomaly_scores)
    statement = insert.on_conflict_do_update(
        index_elements=[anomaly_scores.c.series_key, anomaly_scores.c.ts],
        set_={
            name: insert.excluded[name]
            for name in ("value", "score", "is_anomaly", "model_version")
        },
    )
    labels = [dict(labels) for labels in scores.labels]
    conn.execute(statement, [dict(zip(SCORE_COLUMNS, row)) for row in scores.rows(labels)])


def _insert_series(conn: Connection, new_series: Sequence[SeriesRef], now: datetime) -> None:
    if not new_series:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(anomaly_series).on_conflict_do_nothing(),
        [_series_row(ref, now) for ref in new_series],
    )


def _series_row(ref: SeriesRef, now: datetime) -> dict[str, Any]:
    labels = ref.labels
    return {
        "series_key": ref.key,
        "name": labels.get("__name__", "")[:256],
        "labels": dict(labels),
        "instance": _label(labels, "instance"),
        "job": _label(labels, "job"),
        "service": _label(labels, "service"),
        "first_seen_at": now,
    }


def _label(labels: Mapping[str, str], name: str) -> str | None:
    value = labels.get(name)
    return value[:256] if value else None
