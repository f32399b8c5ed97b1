"""Every difference between SQLite and PostgreSQL lives here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

__all__ = [
    "driver_sql",
    "fetch_rows",
    "in_chunks",
    "insert_ignore",
    "insert_points",
    "is_retryable",
    "marks",
    "order_appends",
    "upsert",
]


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":  # each dialect's module is imported only when it is in use
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def insert_ignore(conn: Connection, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING``."""
    stmt: Insert = _insert(conn, table).on_conflict_do_nothing()
    return stmt


def upsert(conn: Connection, table: Table, keys: Sequence[str], update: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET col = excluded.col`` for the ``update`` columns."""
    stmt = _insert(conn, table)
    result: Insert = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in update}
    )
    return result


def is_retryable(exc: BaseException) -> bool:
    """Whether a database error is a transient conflict worth retrying (serialization failure, deadlock)."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01")


_POINTS_SQL = {
    "sqlite": "INSERT OR IGNORE INTO metric_points (series_id, step, ts_ms, value) VALUES (?, ?, ?, ?)",
    "postgresql": (
        "INSERT INTO metric_points (series_id, step, ts_ms, value) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
    ),
}


def insert_points(conn: Connection, rows: Sequence[tuple[int, int, int, float]]) -> None:
    """Insert metric points, ignoring exact duplicates, straight through the driver's ``executemany``.

    This is the hottest write path: skipping SQLAlchemy's per-row parameter processing triples its speed.
    """
    conn.exec_driver_sql(_POINTS_SQL[conn.dialect.name], list(rows))


_IN_CHUNK = 500  # bound parameters per IN list: far below SQLite's and PostgreSQL's limits


def in_chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """Split values for ``IN (...)`` lists into chunks both dialects accept."""
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def driver_sql(conn: Connection, sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in the driver's own style (``%s`` for psycopg).

    For the hot paths that skip SQLAlchemy's per-row processing (``exec_driver_sql``). The statements use
    syntax both dialects share (``ON CONFLICT ... DO UPDATE``, ``IN``); only the placeholder differs.
    """
    return sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql


def marks(count: int) -> str:
    """``?, ?, ?`` for an ``IN`` list of ``count`` values (turned into the driver's style by ``driver_sql``)."""
    return ", ".join("?" * count)


def fetch_rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of a query written with ``?`` placeholders, as the driver's plain tuples.

    For reads of many thousand rows (the stat cache, the chunk index): SQLAlchemy's row objects cost more than
    the query.
    """
    return list(conn.exec_driver_sql(driver_sql(conn, sql), tuple(params)).cursor.fetchall())


_EVENTS_LOCK_KEY = 0x6D6F64656C7A  # "modelz"


def order_appends(conn: Connection) -> None:
    """Serialise appenders of the event log until this transaction ends, so ids commit in id order.

    PostgreSQL hands out sequence values before commit, so without this a reader could pass an id whose
    transaction commits later. SQLite needs nothing: ``BEGIN IMMEDIATE`` already serialises every writer.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_EVENTS_LOCK_KEY})")
