"""Tables of the SQL metadata store (SQLite and PostgreSQL share them).

Migrations in ``migrations/versions`` create exactly these tables; a test compares the migrated schema with
this module on both dialects. Times are integer epoch milliseconds (UTC) so both dialects sort and compare
them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "DIGEST_LENGTH",
    "KEY_LENGTH",
    "PARAM_VALUE_LENGTH",
    "PATH_LENGTH",
    "TAG_VALUE_LENGTH",
    "data_chunks",
    "data_packs",
    "data_source_files",
    "data_sources",
    "dataset_lineage",
    "dataset_tag_events",
    "dataset_tags",
    "dataset_versions",
    "datasets",
    "events",
    "experiments",
    "metadata",
    "metric_points",
    "metric_series",
    "model_aliases",
    "model_history",
    "model_packages",
    "model_tags",
    "model_trust",
    "model_versions",
    "params",
    "registered_models",
    "run_artifacts",
    "run_models",
    "runs",
    "step_cache",
    "tags",
]

KEY_LENGTH = 250
PARAM_VALUE_LENGTH = 6000
TAG_VALUE_LENGTH = 8000
PATH_LENGTH = 1024
NAME_LENGTH = 256
DIGEST_LENGTH = 80  # 'blake3:' + 64 hex

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


# -- data: datasets, versions, tags, the chunk index, lineage, the stat cache of working folders -------------

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("checks", Text, nullable=True),  # the attached data-test suite, as JSON
    Column("check_policy", String(16), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset_id", String(32), ForeignKey("datasets.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("digest", String(DIGEST_LENGTH), nullable=False),  # the manifest root
    Column("created_ms", BigInteger, nullable=False),
    Column("author", String(NAME_LENGTH), nullable=True),
    Column("message", Text, nullable=True),
    Column("file_count", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("stored_bytes", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("profile", Text, nullable=True),
    Column("checks", Text, nullable=True),
    UniqueConstraint("dataset_id", "number"),
    Index(None, "dataset_id", "digest"),
)

dataset_tags = Table(
    "dataset_tags",
    metadata,
    Column("dataset_id", String(32), ForeignKey("datasets.id"), primary_key=True),
    Column("tag", String(NAME_LENGTH), primary_key=True),
    Column("version_number", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

dataset_tag_events = Table(
    "dataset_tag_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", String(32), ForeignKey("datasets.id"), nullable=False),
    Column("tag", String(NAME_LENGTH), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=True),
    Column("reason", Text, nullable=True),
    Index(None, "dataset_id", "tag", "id"),
)

data_packs = Table(
    "data_packs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(DIGEST_LENGTH), nullable=False, unique=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

data_chunks = Table(
    "data_chunks",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("pack_id", Integer, ForeignKey("data_packs.id"), nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("length", Integer, nullable=False),
    Index(None, "pack_id", "start"),
    sqlite_with_rowid=False,
)

dataset_lineage = Table(
    "dataset_lineage",
    metadata,
    Column("version_id", String(32), ForeignKey("dataset_versions.id"), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), primary_key=True),
    Column("at_ms", BigInteger, nullable=False),
    Index(None, "run_id"),
)

data_sources = Table(
    "data_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(NAME_LENGTH), nullable=False),
    Column("path", String(PATH_LENGTH * 4), nullable=False),
    Column("dataset_id", String(32), ForeignKey("datasets.id"), nullable=True),
    Column("version_number", Integer, nullable=True),
    Column("scanned_ns", BigInteger, nullable=False),
    UniqueConstraint("host", "path"),
)

data_source_files = Table(
    "data_source_files",
    metadata,
    Column("source_id", Integer, ForeignKey("data_sources.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(PATH_LENGTH), primary_key=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("ctime_ns", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("chunked", Boolean, nullable=False),
    sqlite_with_rowid=False,
)


# -- registry: model packages and trust grants, registered models, versions, aliases, history, events ---------

model_packages = Table(
    "model_packages",
    metadata,
    Column("digest", String(DIGEST_LENGTH), primary_key=True),  # of the manifest bytes
    Column("manifest", Text, nullable=False),
    Column("flavor", String(40), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

run_models = Table(
    "run_models",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(PATH_LENGTH), primary_key=True),
    Column("package_digest", String(DIGEST_LENGTH), ForeignKey("model_packages.digest"), nullable=False),
    Column("logged_ms", BigInteger, nullable=False),
)

model_trust = Table(
    "model_trust",
    metadata,
    Column("package_digest", String(DIGEST_LENGTH), ForeignKey("model_packages.digest"), primary_key=True),
    Column("format", String(40), nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=True),
    Column("reason", Text, nullable=True),
    Column("at_ms", BigInteger, nullable=False),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("last_number", Integer, nullable=False),  # numbers are never reused, even after a delete
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("package_digest", String(DIGEST_LENGTH), ForeignKey("model_packages.digest"), nullable=False),
    Column("flavor", String(40), nullable=False),
    Column("source", String(PATH_LENGTH), nullable=False),
    Column("run_id", String(32), nullable=True),  # no foreign key: a version outlives a deleted run
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=True),
    Column("lineage", Text, nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("model_id", "number"),
    Index(None, "run_id"),
    Index(None, "package_digest"),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("version_number", Integer, primary_key=True),  # 0: a tag of the model itself
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(NAME_LENGTH), primary_key=True),
    Column("version_number", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

model_history = Table(
    "model_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(NAME_LENGTH), nullable=False),  # the name, not an id: history outlives a deleted model
    Column("action", String(32), nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=True),
    Column("version_number", Integer, nullable=True),
    Column("from_value", Text, nullable=True),
    Column("to_value", Text, nullable=True),
    Column("actor", String(NAME_LENGTH), nullable=True),
    Column("reason", Text, nullable=True),
    Column("at_ms", BigInteger, nullable=False),
    Index(None, "model", "id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("subject", String(NAME_LENGTH), nullable=False),
    Column("payload", Text, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)

step_cache = Table(
    "step_cache",
    metadata,
    Column("key", String(DIGEST_LENGTH), primary_key=True),  # blake3 of code, params, inputs and environment
    Column("step", String(NAME_LENGTH), nullable=False),
    Column("outputs", Text, nullable=False),  # JSON list of OutputRef.to_json()
    Column("run_id", String(32), nullable=True),  # the step run that computed them (no FK: runs may go first)
    Column("created_ms", BigInteger, nullable=False),
)
