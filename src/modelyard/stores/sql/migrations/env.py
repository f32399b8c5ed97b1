"""Alembic environment: always runs on a connection handed over by modelyard."""

from __future__ import annotations

from alembic import context

from modelyard.stores.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("modelyard migrations run through modelyard.stores.sql.migrations.upgrade(conn).")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
if connection.in_transaction():
    connection.commit()
