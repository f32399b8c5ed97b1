"""Which stored objects the metadata points at (read by ``fsck`` and ``gc``)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from modelyard.ids import Digest
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.engine import Database

__all__ = ["SqlReferenceRepository"]


class SqlReferenceRepository:
    """Every digest referenced by any capability's rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list_digests(self) -> Iterator[tuple[Digest, str]]:
        """Yield (digest, who references it) for every referenced object."""
        a, p = t.run_artifacts.c, t.data_packs.c
        with self._db.read() as conn:
            rows = conn.execute(select(a.digest, a.run_id, a.path).order_by(a.digest)).all()
            packs = conn.execute(select(p.digest).order_by(p.digest)).all()
        for row in rows:
            yield Digest.parse(row.digest), f"run {row.run_id} artifact {row.path}"
        for pack in packs:
            yield Digest.parse(pack.digest), "dataset pack"
