"""Lineage (which runs read or produced which dataset versions) and the stat cache of working folders."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from modelyard.data.models import LineageEntry, SourceFile, SourceState
from modelyard.ids import DatasetVersionId, RunId
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.datasets import dataset_id
from modelyard.stores.sql.dialects import driver_sql, fetch_rows, in_chunks, insert_ignore
from modelyard.stores.sql.engine import Database

__all__ = ["SqlLineageRepository", "SqlSourceRepository"]


class SqlLineageRepository:
    """The LineageRepository protocol over SQLAlchemy Core."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, version_id: DatasetVersionId, run_id: RunId, role: str) -> None:
        """Record that a run read or produced a version; recording it again changes nothing."""
        row = {"version_id": version_id, "run_id": run_id, "role": role, "at_ms": int(time.time() * 1000)}
        self._db.retrying(lambda conn: conn.execute(insert_ignore(conn, t.dataset_lineage).values(**row)))

    def for_version(self, version_id: DatasetVersionId) -> list[LineageEntry]:
        """Runs that touched a version, oldest first."""
        return self._entries(t.dataset_lineage.c.version_id == version_id)

    def for_run(self, run_id: RunId) -> list[LineageEntry]:
        """Versions a run touched, oldest first."""
        return self._entries(t.dataset_lineage.c.run_id == run_id)

    def _entries(self, where: Any) -> list[LineageEntry]:
        lin, v, d = t.dataset_lineage.c, t.dataset_versions.c, t.datasets.c
        stmt = (
            select(lin.run_id, lin.role, lin.at_ms, v.number, d.name)
            .join_from(t.dataset_lineage, t.dataset_versions, lin.version_id == v.id)
            .join(t.datasets, v.dataset_id == d.id)
            .where(where)
            .order_by(lin.at_ms, d.name, v.number)
        )
        with self._db.read() as conn:
            return [
                LineageEntry(
                    dataset=row.name,
                    version=row.number,
                    run_id=RunId(row.run_id),
                    role=row.role,
                    at=datetime.fromtimestamp(row.at_ms / 1000, UTC),
                )
                for row in conn.execute(stmt)
            ]


class SqlSourceRepository:
    """The SourceRepository protocol: one row per working folder, one per file in it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, host: str, path: str) -> SourceState | None:
        """The cached state of a folder, or None."""
        s, d = t.data_sources.c, t.datasets.c
        with self._db.read() as conn:
            row = conn.execute(
                select(s.id, s.version_number, s.scanned_ns, d.name)
                .outerjoin(t.datasets, s.dataset_id == d.id)
                .where(s.host == host, s.path == path)
            ).first()
            if row is None:
                return None
            sql = f"SELECT {_FILE_COLUMNS} FROM data_source_files WHERE source_id = ?"
            files = {r[0]: SourceFile._make(r) for r in fetch_rows(conn, sql, (row.id,))}
        return SourceState(
            host=host, path=path, dataset=row.name, version=row.version_number, scanned_ns=row.scanned_ns, files=files
        )

    def save(self, state: SourceState, changed: Sequence[SourceFile], removed: Sequence[str]) -> None:
        """Record the folder's version and scan time, upsert ``changed`` files and forget ``removed`` ones."""

        def work(conn: Connection) -> None:
            s, f = t.data_sources.c, t.data_source_files.c
            ident = None if state.dataset is None else dataset_id(conn, state.dataset)
            values = {"dataset_id": ident, "version_number": state.version, "scanned_ns": state.scanned_ns}
            source = conn.execute(select(s.id).where(s.host == state.host, s.path == state.path)).scalar()
            if source is None:
                conn.execute(insert_ignore(conn, t.data_sources).values(host=state.host, path=state.path, **values))
                source = conn.execute(select(s.id).where(s.host == state.host, s.path == state.path)).scalar_one()
            else:
                conn.execute(update(t.data_sources).where(s.id == source).values(**values))
            for names in in_chunks(list(removed)):
                conn.execute(t.data_source_files.delete().where(f.source_id == source, f.path.in_(names)))
            if changed:
                rows = [(source, *item) for item in changed]  # a SourceFile's fields are the columns, in order
                conn.exec_driver_sql(driver_sql(conn, _UPSERT_FILES), rows)

        self._db.retrying(work)


_FILE_COLUMNS = "path, size_bytes, mtime_ns, ctime_ns, inode, digest, chunked"
_UPSERT_FILES = (
    f"INSERT INTO data_source_files (source_id, {_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (source_id, path) DO UPDATE SET size_bytes = excluded.size_bytes, mtime_ns = excluded.mtime_ns, "
    "ctime_ns = excluded.ctime_ns, inode = excluded.inode, digest = excluded.digest, chunked = excluded.chunked"
)
