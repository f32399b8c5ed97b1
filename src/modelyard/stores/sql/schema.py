"""Tables of the SQL metadata store (SQLite and PostgreSQL share them).

Migrations in ``migrations/versions`` create exactly these tables; a test compares the migrated schema with
this module on both dialects. Times are integer epoch milliseconds (UTC) so both dialects sort and compare
them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "KEY_LENGTH",
    "PARAM_VALUE_LENGTH",
    "PATH_LENGTH",
    "TAG_VALUE_LENGTH",
    "experiments",
    "metadata",
    "metric_points",
    "metric_series",
    "params",
    "run_artifacts",
    "runs",
    "tags",
]

KEY_LENGTH = 250
PARAM_VALUE_LENGTH = 6000
TAG_VALUE_LENGTH = 8000
PATH_LENGTH = 1024
NAME_LENGTH = 256

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", String(32), ForeignKey("experiments.id"), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),
    Column("parent_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=True),
    Column("context", Text, nullable=False),
    Column("snapshot", Text, nullable=True),
    Index(None, "experiment_id", "start_ms", "id"),
    Index(None, "parent_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value"),
)

metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("last_value", Float, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
    Column("min_value", Float, nullable=False),
    Column("max_value", Float, nullable=False),
    UniqueConstraint("run_id", "key"),
    Index(None, "key", "last_value"),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("series_id", Integer, ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("ts_ms", BigInteger, primary_key=True),
    Column("value", Float, primary_key=True),
    sqlite_with_rowid=False,
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(PATH_LENGTH), primary_key=True),
    Column("digest", String(80), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("logged_ms", BigInteger, nullable=False),
    Index(None, "digest"),
)
