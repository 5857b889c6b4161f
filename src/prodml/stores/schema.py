"""The metadata schema, shared by every SQL store and by the migrations.

Times are UTC epoch seconds (double precision) so that "as of" filters are plain
comparisons on every database; documents are JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa

HEAD_REVISION = "0014"

metadata = sa.MetaData()

TIME = sa.Float(precision=53)
ID = sa.String(64)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("experiment", sa.String(255), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("started_at", TIME, nullable=False, index=True),
    sa.Column("ended_at", TIME),
    sa.Column("hypothesis", sa.Text),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("error", sa.Text),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float(precision=53)),
    sa.Column("ts", TIME, nullable=False),
    sa.Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float(precision=53)),
    sa.Column("ts", TIME, nullable=False),
    sa.Index("ix_latest_metrics_key_value", "key", "value", "run_id"),
    sa.Index("ix_latest_metrics_run_key_value", "run_id", "key", "value"),
)

# Each run's config (flattened to dotted keys), params and tags, one row per value,
# for search: ``num`` holds the value when it is a number, ``head`` the first
# VALUE_HEAD characters (indexable on every database however long the value is).
VALUE_HEAD = 200
run_values = sa.Table(
    "run_values",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("head", sa.String(VALUE_HEAD), nullable=False),
    sa.Column("num", sa.Float(precision=53)),
    sa.Index("ix_run_values_num", "kind", "key", "num", "run_id"),
    sa.Index("ix_run_values_head", "kind", "key", "head", "run_id"),
)

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("id", ID, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("num_rows", sa.BigInteger),
    sa.Column("num_files", sa.BigInteger, nullable=False),
    sa.Column("num_bytes", sa.BigInteger, nullable=False),
    sa.Column("schema", sa.Text, nullable=False),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("blob", sa.String(64)),
    sa.UniqueConstraint("name", "id", name="uq_dataset_versions_name_id"),
)

dataset_files = sa.Table(
    "dataset_files",
    metadata,
    sa.Column("version_id", ID, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("pack", sa.String(64), index=True),
    sa.Column("pack_offset", sa.BigInteger),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_kind", sa.String(16), nullable=False),
    sa.Column("owner_id", ID, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(128), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Index("ix_artifacts_owner", "owner_kind", "owner_id"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("flavor", sa.String(64), nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
)

edges = sa.Table(
    "lineage_edges",
    metadata,
    sa.Column("source_kind", sa.String(16), primary_key=True),
    sa.Column("source_id", ID, primary_key=True),
    sa.Column("target_kind", sa.String(16), primary_key=True),
    sa.Column("target_id", ID, primary_key=True),
    sa.Column("relation", sa.String(32), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Index("ix_lineage_target", "target_kind", "target_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", TIME, nullable=False, index=True),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(255), nullable=False),  # an id, or a model's name
    sa.Column("reason", sa.Text),
    sa.Column("details", sa.Text, nullable=False),
    sa.Index("ix_events_subject", "subject_kind", "subject_id"),
    # On PostgreSQL migration 0009 builds it with varchar_pattern_ops, so that prefix
    # matches on ``action`` use it. Not said here: a PostgreSQL option on a table loads
    # SQLAlchemy's PostgreSQL dialect in every process, a fifth of its import time.
    sa.Index("ix_events_action_at", "action", "at"),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("version_id", ID, primary_key=True),
    sa.Column("partition_by", sa.String(255), primary_key=True),  # "" for the whole table
    sa.Column("blob", sa.String(64), nullable=False),
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

validations = sa.Table(
    "validations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("version_id", ID, index=True),  # the dataset version validated, if logged
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("against", sa.Text, nullable=False),
    sa.Column("alarm", sa.Boolean, nullable=False),
    sa.Column("blocked", sa.Boolean, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

suites = sa.Table(
    "suites",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),  # the model name it evaluates
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("model_id", ID, nullable=False, index=True),
    sa.Column("suite_version", sa.Integer, nullable=False),
    sa.Column("baseline_id", ID),  # the evaluation compared against, if any
    sa.Column("verdict", sa.String(16)),  # the gate's, when one was judged
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

guardrails = sa.Table(
    "guardrails",
    metadata,
    sa.Column("model_id", ID, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("artifact_id", ID, nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

alias_moves = sa.Table(
    "alias_moves",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer),  # None: the alias was removed
    sa.Column("previous", sa.Integer),
    sa.Column("at", TIME, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("forced", sa.Boolean, nullable=False),
    sa.Column("evaluation_id", ID),
    sa.Column("verdict", sa.String(16)),
    sa.Index("ix_alias_moves_name_alias", "name", "alias"),
)

protected_aliases = sa.Table(
    "protected_aliases",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("protected", sa.Boolean, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("at", TIME, nullable=False),
)

model_tags = sa.Table(
    "model_tags",
    metadata,
    sa.Column("model_id", ID, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("at", TIME, nullable=False),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, index=True),
    sa.Column("candidate", sa.Integer, nullable=False),
    sa.Column("baseline", sa.Integer, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("step_started_at", TIME, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False, index=True),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("digest", sa.String(128), nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("revoked_at", TIME),
)

hosts = sa.Table(
    "hosts",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.BigInteger, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("models", sa.Text, nullable=False),
    sa.Column("routing_version", sa.BigInteger),
    sa.Column("started_at", TIME, nullable=False),
    sa.Column("seen_at", TIME, nullable=False, index=True),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", TIME, nullable=False),
    sa.Column("expires_at", TIME, nullable=False),
)

step_cache = sa.Table(
    "step_cache",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("pipeline", sa.String(255), nullable=False),
    sa.Column("step", sa.String(255), nullable=False),
    sa.Column("run_id", ID, nullable=False),
    sa.Column("outputs", sa.Text, nullable=False),
    sa.Column("seconds", TIME, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("nondeterministic", sa.Boolean, nullable=False),
    sa.Index("ix_step_cache_pipeline_step", "pipeline", "step"),
)

monitors = sa.Table(
    "monitors",
    metadata,
    sa.Column("model", sa.String(255), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
)

monitor_windows = sa.Table(
    "monitor_windows",
    metadata,
    sa.Column("model", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("start", TIME, primary_key=True),
    sa.Column("end", TIME, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("profile", sa.String(128)),
    sa.Column("stats", sa.Text, nullable=False),
    sa.Column("alert_id", ID),
    sa.Column("evaluated_at", TIME, nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("signals", sa.Text, nullable=False),
    sa.Column("window_start", TIME, nullable=False),
    sa.Column("window_end", TIME, nullable=False, index=True),
    sa.Column("windows", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(255)),
    sa.Column("decided_at", TIME),
    sa.Column("why", sa.Text),
    sa.Column("incident_id", ID),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("opened_at", TIME, nullable=False, index=True),
    sa.Column("opened_by", sa.String(255), nullable=False),
    sa.Column("alert_ids", sa.Text, nullable=False),
    sa.Column("closed_at", TIME),
    sa.Column("resolution", sa.Text),
)

store_counters = sa.Table(
    "store_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
