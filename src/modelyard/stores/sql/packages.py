"""Model packages, trust grants and the event log in the SQL store.

A package row keeps the manifest's JSON beside its digest so loading a version costs one query; the bytes
in the artifact store stay the authority and the registry re-hashes the JSON before trusting it.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from modelyard.errors import NotFoundError
from modelyard.ids import Digest, RunId
from modelyard.registry.models import Event, NewPackage, TrustGrant
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.dialects import insert_ignore, order_appends, upsert
from modelyard.stores.sql.engine import Database

__all__ = ["SqlEventRepository", "SqlPackageRepository", "append_event"]


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def append_event(conn: Connection, kind: str, subject: str, payload: dict[str, Any], at_ms: int) -> None:
    """Append one event inside the caller's transaction (ordered: see ``dialects.order_appends``)."""
    order_appends(conn)
    conn.execute(
        t.events.insert().values(
            kind=kind, subject=subject, payload=orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode(), at_ms=at_ms
        )
    )


class SqlPackageRepository:
    """The PackageRepository protocol over SQLAlchemy Core."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, package: NewPackage) -> None:
        """Record the package (once) and the run that logged it under ``name`` (a re-log points at the new one)."""

        def work(conn: Connection) -> None:
            conn.execute(
                insert_ignore(conn, t.model_packages).values(
                    digest=str(package.digest),
                    manifest=package.manifest_json,
                    flavor=package.flavor,
                    size_bytes=package.size_bytes,
                    created_ms=package.created_ms,
                )
            )
            if package.run_id is not None and package.name is not None:
                conn.execute(
                    upsert(conn, t.run_models, ["run_id", "name"], ["package_digest", "logged_ms"]).values(
                        run_id=package.run_id,
                        name=package.name,
                        package_digest=str(package.digest),
                        logged_ms=package.created_ms,
                    )
                )

        self._db.retrying(work)

    def get(self, digest: Digest) -> str:
        """The manifest JSON of a package, or NotFoundError."""
        with self._db.read() as conn:
            found = conn.execute(
                select(t.model_packages.c.manifest).where(t.model_packages.c.digest == str(digest))
            ).scalar()
        if found is None:
            raise NotFoundError(
                f"No model package has digest {digest}.", hint="Log the model with my.log_model inside a run."
            )
        return str(found)

    def find_for_run(self, run_id: RunId, name: str) -> Digest | None:
        """The package a run logged under ``name``, or None."""
        m = t.run_models.c
        with self._db.read() as conn:
            found = conn.execute(select(m.package_digest).where(m.run_id == run_id, m.name == name)).scalar()
        return None if found is None else Digest.parse(found)

    def trust(self, grant: TrustGrant) -> None:
        """Record (or replace) a package's trust grant."""
        values = {
            "package_digest": str(grant.package),
            "format": grant.format,
            "actor": grant.actor,
            "reason": grant.reason,
            "at_ms": int(grant.at.timestamp() * 1000),
        }
        self._db.retrying(
            lambda conn: conn.execute(
                upsert(conn, t.model_trust, ["package_digest"], ["format", "actor", "reason", "at_ms"]).values(**values)
            )
        )

    def find_trust(self, digest: Digest) -> TrustGrant | None:
        """The trust grant of a package, or None."""
        g = t.model_trust.c
        with self._db.read() as conn:
            row = conn.execute(select(t.model_trust).where(g.package_digest == str(digest))).first()
        if row is None:
            return None
        return TrustGrant(package=digest, format=row.format, actor=row.actor, reason=row.reason, at=_dt(row.at_ms))


class SqlEventRepository:
    """The EventRepository protocol: read the ordered event log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def since(self, cursor: int, *, limit: int, kinds: Sequence[str] = ()) -> builtins.list[Event]:
        """Events after ``cursor``, oldest first."""
        e = t.events.c
        stmt = select(t.events).where(e.id > cursor).order_by(e.id).limit(limit)
        if kinds:
            stmt = stmt.where(e.kind.in_(list(kinds)))
        with self._db.read() as conn:
            return [
                Event(
                    id=row.id, kind=row.kind, subject=row.subject, payload=orjson.loads(row.payload), at=_dt(row.at_ms)
                )
                for row in conn.execute(stmt)
            ]
