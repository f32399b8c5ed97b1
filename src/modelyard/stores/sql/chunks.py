"""The chunk index in the SQL store: which pack object holds each dataset chunk, at which offset.

Chunk digests are stored as 32 raw bytes (half the size of hex text); the hot statements go straight to the
driver's ``executemany`` like metric points do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from modelyard.data.models import NewPack
from modelyard.ids import Digest
from modelyard.stores.protocols import ChunkLocation
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.dialects import driver_sql, fetch_rows, in_chunks, insert_ignore, marks
from modelyard.stores.sql.engine import Database

__all__ = ["SqlChunkRepository", "insert_packs"]

_CHUNKS_SQL = "INSERT INTO data_chunks (digest, pack_id, start, length) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"


def insert_packs(conn: Connection, packs: Sequence[NewPack]) -> None:
    """Index packs and their chunks; a chunk indexed before keeps its place, a pack left holding none is dropped."""
    if not packs:
        return
    now = int(time.time() * 1000)
    conn.execute(
        insert_ignore(conn, t.data_packs),
        [{"digest": str(p.digest), "size_bytes": p.size_bytes, "created_ms": now} for p in packs],
    )
    p = t.data_packs.c
    ids: dict[str, int] = {}
    for chunk in in_chunks([str(pack.digest) for pack in packs]):
        ids.update({row.digest: row.id for row in conn.execute(select(p.digest, p.id).where(p.digest.in_(chunk)))})
    rows = [(digest, ids[str(pack.digest)], start, length) for pack in packs for digest, start, length in pack.chunks]
    if rows:
        conn.exec_driver_sql(driver_sql(conn, _CHUNKS_SQL), rows)
    c = t.data_chunks.c
    for pack in packs:  # a racing commit indexed all of this pack's chunks first: nothing points here
        pack_id = ids[str(pack.digest)]
        if conn.execute(select(func.count()).where(c.pack_id == pack_id)).scalar() == 0:
            conn.execute(t.data_packs.delete().where(p.id == pack_id))


class SqlChunkRepository:
    """The ChunkRepository protocol over SQLAlchemy Core."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def missing(self, digests: Sequence[bytes]) -> set[bytes]:
        """Which of these chunk digests are not indexed."""
        wanted = set(digests)
        if not wanted:
            return set()
        found: set[bytes] = set()
        with self._db.read() as conn:
            for chunk in in_chunks(sorted(wanted)):
                sql = f"SELECT digest FROM data_chunks WHERE digest IN ({marks(len(chunk))})"
                found.update(bytes(row[0]) for row in fetch_rows(conn, sql, chunk))
        return wanted - found

    def locate(self, digests: Sequence[bytes]) -> dict[bytes, ChunkLocation]:
        """Where each indexed chunk lives."""
        found: dict[bytes, ChunkLocation] = {}
        packs: dict[str, Digest] = {}
        with self._db.read() as conn:
            for chunk in in_chunks(sorted(set(digests))):
                sql = (
                    "SELECT c.digest, p.digest, c.start, c.length FROM data_chunks c "
                    f"JOIN data_packs p ON c.pack_id = p.id WHERE c.digest IN ({marks(len(chunk))})"
                )
                for digest, pack_text, start, length in fetch_rows(conn, sql, chunk):
                    pack = packs.get(pack_text)
                    if pack is None:
                        pack = packs[pack_text] = Digest.parse(pack_text)
                    found[bytes(digest)] = ChunkLocation(pack=pack, offset=start, length=length)
        return found

    def add_packs(self, packs: Sequence[NewPack]) -> None:
        """Index packs already written to the artifact store."""
        if packs:
            self._db.retrying(lambda conn: insert_packs(conn, packs))
