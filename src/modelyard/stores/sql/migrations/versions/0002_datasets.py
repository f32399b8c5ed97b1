"""Datasets: versions, tags and their history, the chunk index, lineage and the working-folder stat cache.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NAME = 256
_DIGEST = 80


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("checks", sa.Text(), nullable=True),
        sa.Column("check_policy", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("name", name="uq_datasets_name"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(_DIGEST), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(_NAME), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("file_count", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("checks", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_dataset_id_number"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], name="fk_dataset_versions_dataset_id_datasets"),
    )
    op.create_index("ix_dataset_versions_dataset_id_digest", "dataset_versions", ["dataset_id", "digest"])
    op.create_table(
        "dataset_tags",
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(_NAME), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "tag", name="pk_dataset_tags"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], name="fk_dataset_tags_dataset_id_datasets"),
    )
    op.create_table(
        "dataset_tag_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(_NAME), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(_NAME), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_tag_events"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], name="fk_dataset_tag_events_dataset_id_datasets"),
    )
    op.create_index("ix_dataset_tag_events_dataset_id_tag_id", "dataset_tag_events", ["dataset_id", "tag", "id"])
    op.create_table(
        "data_packs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(_DIGEST), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_packs"),
        sa.UniqueConstraint("digest", name="uq_data_packs_digest"),
    )
    op.create_table(
        "data_chunks",
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("pack_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_data_chunks"),
        sa.ForeignKeyConstraint(["pack_id"], ["data_packs.id"], name="fk_data_chunks_pack_id_data_packs"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_data_chunks_pack_id_start", "data_chunks", ["pack_id", "start"])
    op.create_table(
        "dataset_lineage",
        sa.Column("version_id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version_id", "run_id", "role", name="pk_dataset_lineage"),
        sa.ForeignKeyConstraint(
            ["version_id"], ["dataset_versions.id"], name="fk_dataset_lineage_version_id_dataset_versions"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_dataset_lineage_run_id_runs", ondelete="CASCADE"),
    )
    op.create_index("ix_dataset_lineage_run_id", "dataset_lineage", ["run_id"])
    op.create_table(
        "data_sources",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("host", sa.String(_NAME), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("dataset_id", sa.String(32), nullable=True),
        sa.Column("version_number", sa.Integer(), nullable=True),
        sa.Column("scanned_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_sources"),
        sa.UniqueConstraint("host", "path", name="uq_data_sources_host_path"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], name="fk_data_sources_dataset_id_datasets"),
    )
    op.create_table(
        "data_source_files",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("ctime_ns", sa.BigInteger(), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("chunked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "path", name="pk_data_source_files"),
        sa.ForeignKeyConstraint(
            ["source_id"], ["data_sources.id"], name="fk_data_source_files_source_id_data_sources", ondelete="CASCADE"
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in (
        "data_source_files",
        "data_sources",
        "dataset_lineage",
        "data_chunks",
        "data_packs",
        "dataset_tag_events",
        "dataset_tags",
        "dataset_versions",
        "datasets",
    ):
        op.drop_table(table)
