"""Pipelines: the step cache (outputs by cache key).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_cache",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("step", sa.String(256), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_step_cache"),
    )


def downgrade() -> None:
    op.drop_table("step_cache")
