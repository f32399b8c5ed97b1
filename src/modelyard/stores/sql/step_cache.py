"""The step cache in the SQL store: one row per cache key, pointing at the outputs' digests."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from modelyard.ids import RunId
from modelyard.pipelines.models import CacheEntry, OutputRef
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.dialects import in_chunks, insert_ignore, upsert
from modelyard.stores.sql.engine import Database

__all__ = ["SqlStepCacheRepository"]


def _entry(row: Any) -> CacheEntry:
    return CacheEntry(
        key=row.key,
        step=row.step,
        outputs=tuple(OutputRef.from_json(o) for o in orjson.loads(row.outputs)),
        run_id=None if row.run_id is None else RunId(row.run_id),
        created_at=datetime.fromtimestamp(row.created_ms / 1000, UTC),
    )


class SqlStepCacheRepository:
    """The StepCacheRepository protocol over SQLAlchemy Core."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def find(self, key: str) -> CacheEntry | None:
        """The entry for ``key``, or None."""
        c = t.step_cache.c
        with self._db.read() as conn:
            row = conn.execute(select(t.step_cache).where(c.key == key)).first()
        return None if row is None else _entry(row)

    def add(self, entry: CacheEntry, *, replace: bool = False) -> CacheEntry:
        """Store ``entry``; without ``replace`` the first writer of a key wins. Returns the stored entry."""
        values = {
            "key": entry.key,
            "step": entry.step,
            "outputs": orjson.dumps([o.to_json() for o in entry.outputs]).decode(),
            "run_id": entry.run_id,
            "created_ms": int(entry.created_at.timestamp() * 1000),
        }

        def work(conn: Connection) -> Any:
            if replace:
                statement = upsert(conn, t.step_cache, ["key"], ["step", "outputs", "run_id", "created_ms"])
            else:
                statement = insert_ignore(conn, t.step_cache)
            conn.execute(statement.values(**values))
            return conn.execute(select(t.step_cache).where(t.step_cache.c.key == entry.key)).first()

        return _entry(self._db.retrying(work))

    def list(self, *, step: str | None = None, limit: int = 1000) -> builtins.list[CacheEntry]:
        """Entries, newest first (only ``step``'s when given)."""
        c = t.step_cache.c
        query = select(t.step_cache).order_by(c.created_ms.desc(), c.key).limit(limit)
        if step is not None:
            query = query.where(c.step == step)
        with self._db.read() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def delete(self, keys: Sequence[str]) -> None:
        """Forget entries (idempotent); their objects stay until ``gc``."""

        def work(conn: Connection) -> None:
            for chunk in in_chunks(list(keys)):
                conn.execute(delete(t.step_cache).where(t.step_cache.c.key.in_(chunk)))

        self._db.retrying(work)
