"""Tables of streaming anomaly scoring (revision 0002), on the store's shared `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.db.schema import BigId, Json, Time, metadata

SERIES_KEY = sa.String(40)  # sha1 hex of the canonical label set
LABEL_VALUE = sa.String(256)

# One row per scored sample; (series, timestamp) is unique, so a redelivered batch adds nothing.
anomaly_scores = sa.Table(
    "anomaly_scores",
    metadata,
    sa.Column("series_key", SERIES_KEY, primary_key=True),
    sa.Column("ts", Time, primary_key=True),
    sa.Column("value", sa.Float(precision=53), nullable=False),
    sa.Column("score", sa.Float(precision=53), nullable=False),
    sa.Column("is_anomaly", sa.Boolean, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("labels", Json, nullable=False),
)

# The label set of every series once, with the labels alerts are matched on as indexed columns.
anomaly_series = sa.Table(
    "anomaly_series",
    metadata,
    sa.Column("series_key", SERIES_KEY, primary_key=True),
    sa.Column("name", LABEL_VALUE, nullable=False),
    sa.Column("instance", LABEL_VALUE),
    sa.Column("job", LABEL_VALUE),
    sa.Column("service", LABEL_VALUE),
    sa.Column("labels", Json, nullable=False),
    sa.Column("first_seen_at", Time, nullable=False),
    sa.Index("ix_anomaly_series_instance", "instance"),
    sa.Index("ix_anomaly_series_job", "job"),
    sa.Index("ix_anomaly_series_service", "service"),
)

# The anomaly evidence attached to an incident when its alerts arrived: what the risk scorer reads.
incident_anomaly = sa.Table(
    "incident_anomaly",
    metadata,
    sa.Column(
        "incident_id", BigId, sa.ForeignKey("incidents.id"), primary_key=True, autoincrement=False
    ),
    sa.Column("max_score", sa.Float(precision=53), nullable=False),
    sa.Column("mean_score", sa.Float(precision=53), nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("anomalous_points", sa.Integer, nullable=False),
    sa.Column("series_count", sa.Integer, nullable=False),
    sa.Column("top_series", Json, nullable=False),
    sa.Column("window_start", Time, nullable=False),
    sa.Column("window_end", Time, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)
