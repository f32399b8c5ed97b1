"""Datasets, their versions and their tags in the SQL store.

A version is numbered inside the transaction that records it: SQLite's ``BEGIN IMMEDIATE`` and a row lock
on the dataset (``SELECT ... FOR UPDATE``) on PostgreSQL serialise committers of one dataset, so numbers are
1, 2, 3 ... with no gap or duplicate however many processes commit at once. The packs a version needs are
indexed in the same transaction: that commit is the moment the version exists.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Row

from modelyard.data.models import (
    CheckPolicy,
    CheckReport,
    Dataset,
    DatasetVersion,
    NewPack,
    NewVersion,
    TableProfile,
    TagEvent,
    VersionStatus,
)
from modelyard.errors import NotFoundError, close_matches
from modelyard.ids import DatasetId, DatasetVersionId, Digest, new_id
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.chunks import insert_packs
from modelyard.stores.sql.dialects import insert_ignore
from modelyard.stores.sql.engine import Database

__all__ = ["SqlDatasetRepository", "SqlDatasetTagRepository", "dataset_id"]

_LATEST = "latest"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def dataset_id(conn: Connection, name: str, *, lock: bool = False) -> DatasetId:
    """The id of dataset ``name`` (row-locked on PostgreSQL when ``lock``). Raises NotFoundError."""
    stmt = select(t.datasets.c.id).where(t.datasets.c.name == name)
    if lock:
        stmt = stmt.with_for_update()
    found = conn.execute(stmt).scalar()
    if found is None:
        names = [row.name for row in conn.execute(select(t.datasets.c.name))]
        raise NotFoundError(
            f"No dataset named {name!r}.{close_matches(name, names)}",
            hint="List datasets with `modelyard data list`; commit one with `modelyard data commit NAME PATH`.",
        )
    return DatasetId(found)


class SqlDatasetRepository:
    """The DatasetRepository protocol over SQLAlchemy Core."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- datasets --------------------------------------------------------------------------------------------
    def ensure(self, name: str) -> Dataset:
        """Return the dataset called ``name``, creating it if missing (race-safe)."""
        with self._db.read() as conn:
            found = self._datasets(conn, name)
        if found:
            return found[0]
        row = {
            "id": new_id(),
            "name": name,
            "created_ms": _now_ms(),
            "description": None,
            "checks": None,
            "check_policy": CheckPolicy.REFUSE.value,
        }
        self._db.retrying(lambda conn: conn.execute(insert_ignore(conn, t.datasets).values(**row)))
        return self.get(name)

    def get(self, name: str) -> Dataset:
        """Return a dataset by name, or raise NotFoundError naming close matches."""
        with self._db.read() as conn:
            found = self._datasets(conn, name)
            if not found:
                dataset_id(conn, name)  # raises with suggestions
        return found[0]

    def list(self) -> list[Dataset]:
        """All datasets, by name."""
        with self._db.read() as conn:
            return self._datasets(conn, None)

    def configure(self, name: str, *, checks: str | None, policy: CheckPolicy) -> Dataset:
        """Attach (or detach, with None) a data-test suite and set the failure policy."""

        def work(conn: Connection) -> None:
            ident = dataset_id(conn, name, lock=True)
            values = {"checks": checks, "check_policy": policy.value}
            conn.execute(update(t.datasets).where(t.datasets.c.id == ident).values(**values))

        self._db.retrying(work)
        return self.get(name)

    def attached_checks(self, name: str) -> str | None:
        """The JSON form of the attached data-test suite, or None."""
        with self._db.read() as conn:
            ident = dataset_id(conn, name)
            text: str | None = conn.execute(select(t.datasets.c.checks).where(t.datasets.c.id == ident)).scalar()
        return text

    @staticmethod
    def _datasets(conn: Connection, name: str | None) -> builtins.list[Dataset]:
        d, v = t.datasets.c, t.dataset_versions.c
        counts = (
            select(
                v.dataset_id,
                func.count().label("n"),
                func.max(v.number).label("newest"),
                func.max(v.number).filter(v.status != VersionStatus.FAILED.value).label("latest"),
            )
            .group_by(v.dataset_id)
            .subquery()
        )
        stmt = (
            select(t.datasets, counts.c.n, counts.c.newest, counts.c.latest)
            .outerjoin(counts, counts.c.dataset_id == d.id)
            .order_by(d.name)
        )
        if name is not None:
            stmt = stmt.where(d.name == name)
        return [
            Dataset(
                id=DatasetId(row.id),
                name=row.name,
                created_at=_dt(row.created_ms),
                description=row.description,
                version_count=int(row.n or 0),
                latest=row.latest,
                newest=row.newest,
                check_policy=CheckPolicy(row.check_policy),
                has_checks=row.checks is not None,
            )
            for row in conn.execute(stmt)
        ]

    # -- versions --------------------------------------------------------------------------------------------
    def add_version(self, new: NewVersion, packs: Sequence[NewPack]) -> tuple[DatasetVersion, bool]:
        """Index ``packs`` and record the version in one transaction; an unchanged newest version is returned."""

        def work(conn: Connection) -> tuple[str, bool]:
            conn.execute(select(t.datasets.c.id).where(t.datasets.c.id == new.dataset_id).with_for_update())
            insert_packs(conn, packs)
            v = t.dataset_versions.c
            newest = conn.execute(
                select(v.id, v.number, v.digest)
                .where(v.dataset_id == new.dataset_id)
                .order_by(v.number.desc())
                .limit(1)
            ).first()
            if newest is not None and newest.digest == str(new.digest):
                return newest.id, False
            ident = new_id()
            conn.execute(
                t.dataset_versions.insert().values(
                    id=ident,
                    dataset_id=new.dataset_id,
                    number=(newest.number if newest is not None else 0) + 1,
                    digest=str(new.digest),
                    created_ms=new.created_ms,
                    author=new.author,
                    message=new.message,
                    file_count=new.file_count,
                    size_bytes=new.size_bytes,
                    stored_bytes=new.stored_bytes,
                    status=new.status.value,
                    profile=None if new.profile is None else new.profile.model_dump_json(),
                    checks=None if new.checks is None else new.checks.model_dump_json(),
                )
            )
            return ident, True

        ident, created = self._db.retrying(work)
        with self._db.read() as conn:
            return self._versions(conn, t.dataset_versions.c.id == ident)[0], created

    def get_version(self, name: str, ref: int | str) -> DatasetVersion:
        """A version by number, tag or ``"latest"``, or NotFoundError saying what exists."""
        v = t.dataset_versions.c
        with self._db.read() as conn:
            ident = dataset_id(conn, name)
            number = self._resolve(conn, ident, name, ref)
            found = self._versions(conn, (v.dataset_id == ident) & (v.number == number))
            if not found:
                newest = conn.execute(select(func.max(v.number)).where(v.dataset_id == ident)).scalar()
                raise NotFoundError(
                    f"Dataset {name!r} has no version {number} (its newest is {newest or 'none yet'}).",
                    hint=f"List its versions with `modelyard data log {name}`.",
                )
        return found[0]

    def list_versions(self, name: str, *, limit: int | None = None) -> builtins.list[DatasetVersion]:
        """Versions of a dataset, newest first."""
        with self._db.read() as conn:
            ident = dataset_id(conn, name)
            return self._versions(conn, t.dataset_versions.c.dataset_id == ident, limit=limit)

    @staticmethod
    def _resolve(conn: Connection, ident: DatasetId, name: str, ref: int | str) -> int:
        if isinstance(ref, int):
            return ref
        if ref.isdigit():
            return int(ref)
        v = t.dataset_versions.c
        if ref == _LATEST:
            number = conn.execute(
                select(func.max(v.number)).where(v.dataset_id == ident, v.status != VersionStatus.FAILED.value)
            ).scalar()
            if number is None:
                any_version = conn.execute(select(func.count()).where(v.dataset_id == ident)).scalar()
                detail = "all of its versions failed their data tests" if any_version else "it has no versions yet"
                raise NotFoundError(
                    f"Dataset {name!r} has no latest version: {detail}.",
                    hint=f"Commit data with `modelyard data commit {name} PATH`, or name a version: {name}@1.",
                )
            return int(number)
        g = t.dataset_tags.c
        number = conn.execute(select(g.version_number).where(g.dataset_id == ident, g.tag == ref)).scalar()
        if number is None:
            tags = [row.tag for row in conn.execute(select(g.tag).where(g.dataset_id == ident))]
            raise NotFoundError(
                f"Dataset {name!r} has no tag {ref!r}.{close_matches(ref, [*tags, _LATEST])}",
                hint=f"Its tags: {', '.join(sorted(tags)) or 'none'}. Set one with "
                f"`modelyard data tag {name} {ref} VERSION`.",
            )
        return int(number)

    @staticmethod
    def _versions(conn: Connection, where: Any, *, limit: int | None = None) -> builtins.list[DatasetVersion]:
        v, d, g = t.dataset_versions.c, t.datasets.c, t.dataset_tags.c
        stmt = (
            select(t.dataset_versions, d.name.label("dataset_name"))
            .join_from(t.dataset_versions, t.datasets, v.dataset_id == d.id)
            .where(where)
            .order_by(v.number.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        rows: Sequence[Row[Any]] = conn.execute(stmt).all()
        tags: dict[tuple[str, int], builtins.list[str]] = {}
        for dataset in {row.dataset_id for row in rows}:
            for tag_row in conn.execute(select(g.tag, g.version_number).where(g.dataset_id == dataset)):
                tags.setdefault((dataset, tag_row.version_number), []).append(tag_row.tag)
        return [
            DatasetVersion(
                id=DatasetVersionId(row.id),
                dataset=row.dataset_name,
                number=row.number,
                digest=Digest.parse(row.digest),
                created_at=_dt(row.created_ms),
                author=row.author,
                message=row.message,
                file_count=row.file_count,
                size_bytes=row.size_bytes,
                stored_bytes=row.stored_bytes,
                status=VersionStatus(row.status),
                profile=None if row.profile is None else TableProfile.model_validate_json(row.profile),
                checks=None if row.checks is None else CheckReport.model_validate_json(row.checks),
                tags=tuple(sorted(tags.get((row.dataset_id, row.number), []))),
            )
            for row in rows
        ]


class SqlDatasetTagRepository:
    """Movable tags of dataset versions, each move recorded in an append-only history."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, name: str, tag: str, version: int, *, actor: str | None, reason: str | None) -> TagEvent:
        """Point ``tag`` at ``version`` and record the move (a no-op move is not recorded)."""

        def work(conn: Connection) -> TagEvent:
            ident = dataset_id(conn, name, lock=True)
            v, g = t.dataset_versions.c, t.dataset_tags.c
            exists = conn.execute(select(v.id).where(v.dataset_id == ident, v.number == version)).first()
            if exists is None:
                raise NotFoundError(
                    f"Dataset {name!r} has no version {version}; tag {tag!r} was not moved.",
                    hint=f"List its versions with `modelyard data log {name}`.",
                )
            before = conn.execute(select(g.version_number).where(g.dataset_id == ident, g.tag == tag)).scalar()
            now = _now_ms()
            if before is None:
                conn.execute(
                    t.dataset_tags.insert().values(dataset_id=ident, tag=tag, version_number=version, updated_ms=now)
                )
            elif before != version:
                conn.execute(
                    update(t.dataset_tags)
                    .where(g.dataset_id == ident, g.tag == tag)
                    .values(version_number=version, updated_ms=now)
                )
            event = TagEvent(
                dataset=name, tag=tag, from_version=before, to_version=version, at=_dt(now), actor=actor, reason=reason
            )
            if before != version:
                self._record(conn, ident, event, now)
            return event

        return self._db.retrying(work)

    def delete(self, name: str, tag: str, *, actor: str | None, reason: str | None) -> TagEvent | None:
        """Remove a tag and record it; None (nothing recorded) when it did not exist."""

        def work(conn: Connection) -> TagEvent | None:
            ident = dataset_id(conn, name, lock=True)
            g = t.dataset_tags.c
            before = conn.execute(select(g.version_number).where(g.dataset_id == ident, g.tag == tag)).scalar()
            if before is None:
                return None
            conn.execute(t.dataset_tags.delete().where(g.dataset_id == ident, g.tag == tag))
            now = _now_ms()
            event = TagEvent(
                dataset=name, tag=tag, from_version=before, to_version=None, at=_dt(now), actor=actor, reason=reason
            )
            self._record(conn, ident, event, now)
            return event

        return self._db.retrying(work)

    def list(self, name: str) -> dict[str, int]:
        """Every tag of the dataset and its version number."""
        g = t.dataset_tags.c
        with self._db.read() as conn:
            ident = dataset_id(conn, name)
            rows = conn.execute(select(g.tag, g.version_number).where(g.dataset_id == ident).order_by(g.tag))
            return {row.tag: row.version_number for row in rows}

    def history(self, name: str, tag: str | None = None) -> builtins.list[TagEvent]:
        """Every recorded tag move of the dataset (or of one tag), oldest first."""
        e = t.dataset_tag_events.c
        with self._db.read() as conn:
            ident = dataset_id(conn, name)
            stmt = select(t.dataset_tag_events).where(e.dataset_id == ident).order_by(e.id)
            if tag is not None:
                stmt = stmt.where(e.tag == tag)
            return [
                TagEvent(
                    dataset=name,
                    tag=row.tag,
                    from_version=row.from_version,
                    to_version=row.to_version,
                    at=_dt(row.at_ms),
                    actor=row.actor,
                    reason=row.reason,
                )
                for row in conn.execute(stmt)
            ]

    @staticmethod
    def _record(conn: Connection, ident: DatasetId, event: TagEvent, at_ms: int) -> None:
        conn.execute(
            t.dataset_tag_events.insert().values(
                dataset_id=ident,
                tag=event.tag,
                from_version=event.from_version,
                to_version=event.to_version,
                at_ms=at_ms,
                actor=event.actor,
                reason=event.reason,
            )
        )
