"""Connections to the SQL metadata store: pragmas, write transactions, retries and schema bootstrap.

SQLite: WAL, ``synchronous=FULL``, a 30 s busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for every
write transaction (a deferred transaction that reads and then writes fails at once with SQLITE_BUSY instead of
waiting). PostgreSQL: psycopg 3; serialization failures and deadlocks are retried with backoff.

Schema: the first connection checks ``alembic_version`` against the head revision with one query; only when
the database is behind does it import Alembic and upgrade, holding a lock (a file lock beside the SQLite file,
an advisory lock on PostgreSQL) so processes starting together never race a migration.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

from modelyard.errors import ConfigError, StoreUnavailableError
from modelyard.stores.sql.dialects import is_retryable

__all__ = ["HEAD_REVISION", "Database"]

HEAD_REVISION = "0004"
_PG_LOCK_KEY = 0x6D6F64656C79  # "modely"
T = TypeVar("T")


def _normalise(uri: str) -> URL:
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise ConfigError(
            f"Invalid database URI {uri!r}: {exc}.", hint="Use sqlite:///path.db or postgresql://..."
        ) from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_engine(url: URL, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """A pair of engines (writes, reads) over one SQLite file or PostgreSQL database."""

    def __init__(self, uri: str) -> None:
        self.url = _normalise(uri)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            database = self.url.database or ""
            if not database or database == ":memory:":
                raise ConfigError(
                    "An in-memory SQLite database cannot be shared by modelyard's threads and processes.",
                    hint="Use a file: sqlite:////absolute/path/modelyard.db.",
                )
            self.sqlite_path: Path | None = Path(database)
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            self._writer = _sqlite_engine(self.url, immediate=True)
            self._reader = _sqlite_engine(self.url, immediate=False)
        elif self.dialect == "postgresql":
            self.sqlite_path = None
            self._writer = create_engine(self.url, pool_pre_ping=True)
            self._reader = self._writer
        else:
            raise ConfigError(
                f"Unsupported database {self.dialect!r} in {self.safe_uri}.",
                hint="modelyard supports SQLite and PostgreSQL.",
            )

    @property
    def safe_uri(self) -> str:
        """The URI with the password hidden."""
        return self.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        with self._translate(), self._writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self._translate(), self._reader.connect() as conn:
            yield conn

    def retrying(self, work: Callable[[Connection], T], *, attempts: int = 8) -> T:
        """Run ``work`` in a write transaction, retrying transient conflicts (PostgreSQL 40001/40P01)."""
        for attempt in range(attempts):
            try:
                with self.write() as conn:
                    return work(conn)
            except StoreUnavailableError as exc:
                if attempt == attempts - 1 or not is_retryable(exc.__cause__ or exc):
                    raise
                time.sleep(min(1.0, 0.01 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and not isinstance(exc, OperationalError) and not is_retryable(exc):
                raise
            raise StoreUnavailableError(
                f"The metadata store {self.safe_uri} failed: {str(exc.orig).strip() or type(exc.orig).__name__}.",
                hint="Check that the database is reachable and writable; the operation can be retried.",
            ) from exc

    def ensure_schema(self) -> None:
        """Bring the schema to the head revision, once, even with many processes starting together."""
        if self._current_revision() == HEAD_REVISION:
            return
        if self.sqlite_path is not None:
            lock_path = self.sqlite_path.with_name(self.sqlite_path.name + ".lock")
            with lock_path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    self._upgrade_locked()
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            with self._translate(), self._writer.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
                try:
                    conn.commit()
                    self._upgrade_locked()
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                    conn.commit()

    def _current_revision(self) -> str | None:
        try:
            with self._reader.connect() as conn:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except (OperationalError, ProgrammingError) as exc:
            message = str(exc.orig)
            if "alembic_version" in message and ("no such table" in message or "does not exist" in message):
                return None
            with self._translate():
                raise
        return None if row is None else str(row[0])

    def _upgrade_locked(self) -> None:
        if self._current_revision() == HEAD_REVISION:
            return
        from modelyard.stores.sql.migrations import upgrade

        if self.sqlite_path is not None:
            raw = sqlite3.connect(self.sqlite_path, timeout=30, isolation_level=None)
            try:
                mode = raw.execute("PRAGMA journal_mode = WAL").fetchone()
            finally:
                raw.close()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreUnavailableError(
                    f"SQLite refused WAL mode for {self.sqlite_path} (journal mode {mode}).",
                    hint="Keep the database on a local disk; WAL does not work on network filesystems.",
                )
        with self._translate(), self._writer.connect() as conn:
            upgrade(conn)
        if self.sqlite_path is not None:
            self.dispose()  # pooled connections opened before the switch to WAL must not linger

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()
