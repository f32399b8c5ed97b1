"""Alembic migrations of the SQL metadata store, run programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection

__all__ = ["alembic_config", "upgrade"]

_HERE = Path(__file__).parent


def alembic_config(conn: Connection | None = None) -> object:
    """An Alembic ``Config`` pointing at these migrations, bound to ``conn`` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = conn
    return config


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``conn`` to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(conn), revision)  # type: ignore[arg-type]
