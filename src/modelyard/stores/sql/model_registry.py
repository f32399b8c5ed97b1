"""Registered models, versions, tags and aliases in the SQL store, with their history and events.

A version is numbered from the model row's ``last_number`` inside the transaction that records it: SQLite's
``BEGIN IMMEDIATE`` and a row lock (``SELECT ... FOR UPDATE``) on PostgreSQL serialise registrations of one
model, so numbers are 1, 2, 3 ... with no gap or duplicate, and a deleted number is never handed out again.
Every change writes its history row (and its event) in the same transaction as the change itself.
"""

from __future__ import annotations

import builtins
import operator
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from modelyard.errors import ConflictError, NotFoundError, close_matches
from modelyard.ids import Digest, RunId, new_id
from modelyard.registry.models import (
    HistoryEntry,
    MetricCondition,
    ModelChange,
    ModelLineage,
    ModelVersion,
    NewModelVersion,
    RegisteredModel,
    VersionQuery,
    VersionStatus,
)
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.dialects import insert_ignore
from modelyard.stores.sql.engine import Database
from modelyard.stores.sql.packages import append_event

__all__ = ["SqlAliasRepository", "SqlModelRepository"]

_LATEST = "latest"
_M, _V, _A, _G, _H = (t.registered_models.c, t.model_versions.c, t.model_aliases.c, t.model_tags.c, t.model_history.c)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _model_id(conn: Connection, name: str, *, lock: bool = False) -> str:
    stmt = select(_M.id).where(_M.name == name)
    if lock:
        stmt = stmt.with_for_update()
    found = conn.execute(stmt).scalar()
    if found is None:
        names = [row.name for row in conn.execute(select(_M.name))]
        raise NotFoundError(
            f"No registered model named {name!r}.{close_matches(name, names)}",
            hint="List models with `modelyard models list`; register one with my.register_model(NAME, model_info).",
        )
    return str(found)


def _history(conn: Connection, entry: dict[str, Any]) -> HistoryEntry:
    ident = conn.execute(t.model_history.insert().values(**entry).returning(_H.id)).scalar_one()
    return _entry(ident, entry)


def _entry(ident: int, row: dict[str, Any]) -> HistoryEntry:
    is_tag = str(row["action"]).startswith("tag-")  # a tag change keeps its key in the alias column
    return HistoryEntry(
        id=int(ident),
        model=row["model"],
        action=row["action"],
        alias=None if is_tag else row.get("alias"),
        key=row.get("alias") if is_tag else None,
        version=row.get("version_number"),
        from_value=row.get("from_value"),
        to_value=row.get("to_value"),
        actor=row.get("actor"),
        reason=row.get("reason"),
        at=_dt(row["at_ms"]),
    )


def _change_row(
    name: str, action: str, now: int, actor: str | None, reason: str | None, **values: Any
) -> dict[str, Any]:
    return {"model": name, "action": action, "actor": actor, "reason": reason, "at_ms": now, **values}


class SqlModelRepository:
    """The ModelRepository protocol over SQLAlchemy Core."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> RegisteredModel:
        """A registered model by name, or NotFoundError with close matches."""
        with self._db.read() as conn:
            found = self._models(conn, name)
            if not found:
                _model_id(conn, name)  # raises with suggestions
        return found[0]

    def list(self) -> builtins.list[RegisteredModel]:
        """All registered models, by name."""
        with self._db.read() as conn:
            return self._models(conn, None)

    @staticmethod
    def _models(conn: Connection, name: str | None) -> builtins.list[RegisteredModel]:
        counts = (
            select(_V.model_id, func.count().label("n"), func.max(_V.number).label("newest"))
            .group_by(_V.model_id)
            .subquery()
        )
        stmt = select(t.registered_models, counts.c.n, counts.c.newest).outerjoin(counts, counts.c.model_id == _M.id)
        stmt = stmt.order_by(_M.name) if name is None else stmt.where(_M.name == name)
        rows = conn.execute(stmt).all()
        ids = [row.id for row in rows]
        aliases: dict[str, dict[str, int]] = {}
        tags: dict[str, dict[str, str]] = {}
        if ids:
            for a in conn.execute(select(_A.model_id, _A.alias, _A.version_number).where(_A.model_id.in_(ids))):
                aliases.setdefault(a.model_id, {})[a.alias] = a.version_number
            for g in conn.execute(select(t.model_tags).where(_G.model_id.in_(ids), _G.version_number == 0)):
                tags.setdefault(g.model_id, {})[g.key] = g.value
        return [
            RegisteredModel(
                name=row.name,
                description=row.description,
                created_at=_dt(row.created_ms),
                updated_at=_dt(row.updated_ms),
                version_count=int(row.n or 0),
                latest_version=row.newest,
                aliases=dict(sorted(aliases.get(row.id, {}).items())),
                tags=dict(sorted(tags.get(row.id, {}).items())),
            )
            for row in rows
        ]

    # -- versions --------------------------------------------------------------------------------------------
    def add_version(self, new: NewModelVersion) -> ModelVersion:
        """Register the next version of ``new.model`` (created on first use), with history and an event."""

        def work(conn: Connection) -> str:
            seed = {"id": new_id(), "name": new.model, "description": None, "last_number": 0}
            seed |= {"created_ms": new.created_ms, "updated_ms": new.created_ms}
            conn.execute(insert_ignore(conn, t.registered_models).values(**seed))
            model = conn.execute(select(_M.id, _M.last_number).where(_M.name == new.model).with_for_update()).one()
            number = int(model.last_number) + 1
            conn.execute(
                update(t.registered_models)
                .where(_M.id == model.id)
                .values(last_number=number, updated_ms=new.created_ms)
            )
            ident = new_id()
            conn.execute(
                t.model_versions.insert().values(
                    id=ident,
                    model_id=model.id,
                    number=number,
                    package_digest=str(new.package),
                    flavor=new.flavor,
                    source=new.source,
                    run_id=new.run_id,
                    status=VersionStatus.READY.value,
                    description=new.description,
                    lineage=orjson.dumps(new.lineage.to_json()).decode(),
                    actor=new.actor,
                    created_ms=new.created_ms,
                )
            )
            if new.tags:
                conn.execute(
                    t.model_tags.insert(),
                    [
                        {"model_id": model.id, "version_number": number, "key": k, "value": v}
                        for k, v in new.tags.items()
                    ],
                )
            row = _change_row(new.model, "version-created", new.created_ms, new.actor, None, version_number=number) | {
                "to_value": str(new.package)
            }
            _history(conn, row)
            payload = {"name": new.model, "version": number, "package": str(new.package), "run_id": new.run_id}
            append_event(conn, "model-version-created", new.model, payload, new.created_ms)
            return ident

        ident = self._db.retrying(work)
        with self._db.read() as conn:
            return _versions(conn, _V.id == ident)[0]

    def get_version(self, name: str, ref: int | str) -> ModelVersion:
        """A version by number, alias or ``"latest"`` (the newest ``ready`` one)."""
        with self._db.read() as conn:
            ident = _model_id(conn, name)
            number = _resolve(conn, ident, name, ref)
            return _versions(conn, and_(_V.model_id == ident, _V.number == number))[0]

    def search(self, query: VersionQuery) -> builtins.list[ModelVersion]:
        """Versions matching ``query``."""
        where: builtins.list[ColumnElement[bool]] = []
        if query.name is not None:
            where.append(_M.name == query.name)
        if query.status is not None:
            where.append(_V.status == query.status.value)
        if query.alias is not None:
            where.append(
                exists().where(_A.model_id == _V.model_id, _A.alias == query.alias, _A.version_number == _V.number)
            )
        for key, value in query.tags.items():
            where.append(
                exists().where(
                    _G.model_id == _V.model_id, _G.version_number == _V.number, _G.key == key, _G.value == value
                )
            )
        where.extend(_condition(c) for c in query.conditions)
        with self._db.read() as conn:
            return _versions(conn, and_(True, *where), order=_order(query), limit=query.limit)

    def change(self, change: ModelChange) -> HistoryEntry:
        """Apply a description, status or tag change and record it."""

        def work(conn: Connection) -> HistoryEntry:
            ident = _model_id(conn, change.model, lock=True)
            number = 0 if change.version is None else _resolve(conn, ident, change.model, change.version)
            before = _apply(conn, ident, number, change)
            now = _now_ms()
            conn.execute(update(t.registered_models).where(_M.id == ident).values(updated_ms=now))
            row = _change_row(change.model, change.action, now, change.actor, change.reason)
            row |= {"version_number": change.version, "alias": change.key, "from_value": before}
            row["to_value"] = change.value
            if change.action == "status":
                payload = {"name": change.model, "version": change.version, "status": change.value}
                append_event(conn, "model-version-status", change.model, payload, now)
            return _history(conn, row)

        return self._db.retrying(work)

    def delete_version(self, name: str, version: int, *, actor: str | None, reason: str | None) -> None:
        """Delete one version; refused while an alias points at it."""

        def work(conn: Connection) -> None:
            ident = _model_id(conn, name, lock=True)
            aliases = [
                row.alias
                for row in conn.execute(select(_A.alias).where(_A.model_id == ident, _A.version_number == version))
            ]
            if aliases:
                raise ConflictError(
                    f"Version {version} of model {name!r} is behind aliases {sorted(aliases)}; it was not deleted.",
                    hint=f"Move or remove the aliases first: `modelyard models alias {name} ALIAS --delete`.",
                )
            gone = conn.execute(t.model_versions.delete().where(_V.model_id == ident, _V.number == version)).rowcount
            if not gone:
                return
            conn.execute(t.model_tags.delete().where(_G.model_id == ident, _G.version_number == version))
            now = _now_ms()
            _history(conn, _change_row(name, "version-deleted", now, actor, reason, version_number=version))
            append_event(conn, "model-version-deleted", name, {"name": name, "version": version}, now)

        self._db.retrying(work)

    def delete_model(self, name: str, *, actor: str | None, reason: str | None) -> None:
        """Delete a model, its versions, tags and aliases; the history stays."""

        def work(conn: Connection) -> None:
            found = conn.execute(select(_M.id).where(_M.name == name).with_for_update()).scalar()
            if found is None:
                return
            for table, column in ((t.model_aliases, _A.model_id), (t.model_tags, _G.model_id)):
                conn.execute(table.delete().where(column == found))
            conn.execute(t.model_versions.delete().where(_V.model_id == found))
            conn.execute(t.registered_models.delete().where(_M.id == found))
            now = _now_ms()
            _history(conn, _change_row(name, "model-deleted", now, actor, reason))
            append_event(conn, "model-deleted", name, {"name": name}, now)

        self._db.retrying(work)


def _apply(conn: Connection, ident: str, number: int, change: ModelChange) -> str | None:
    """Write one change; return the value it replaced."""
    if change.action in ("tag-set", "tag-removed"):
        key = change.key or ""
        where = and_(_G.model_id == ident, _G.version_number == number, _G.key == key)
        before = conn.execute(select(_G.value).where(where)).scalar()
        conn.execute(t.model_tags.delete().where(where))
        if change.action == "tag-set":
            conn.execute(
                t.model_tags.insert().values(model_id=ident, version_number=number, key=key, value=change.value)
            )
        return None if before is None else str(before)
    if number == 0:
        if change.action != "description":
            raise ConflictError("A registered model has no status; set it on a version.", hint="Name a version.")
        before = conn.execute(select(_M.description).where(_M.id == ident)).scalar()
        conn.execute(update(t.registered_models).where(_M.id == ident).values(description=change.value))
        return None if before is None else str(before)
    column = _V.description if change.action == "description" else _V.status
    where = and_(_V.model_id == ident, _V.number == number)
    before = conn.execute(select(column).where(where)).scalar()
    conn.execute(update(t.model_versions).where(where).values({column.key: change.value}))
    return None if before is None else str(before)


def _resolve(conn: Connection, ident: str, name: str, ref: int | str) -> int:
    if isinstance(ref, int):
        found = conn.execute(select(_V.number).where(_V.model_id == ident, _V.number == ref)).scalar()
    elif ref == _LATEST:
        found = conn.execute(
            select(func.max(_V.number)).where(_V.model_id == ident, _V.status == VersionStatus.READY.value)
        ).scalar()
    else:
        found = conn.execute(select(_A.version_number).where(_A.model_id == ident, _A.alias == ref)).scalar()
    if found is not None:
        return int(found)
    numbers = [row.number for row in conn.execute(select(_V.number).where(_V.model_id == ident).order_by(_V.number))]
    aliases = [row.alias for row in conn.execute(select(_A.alias).where(_A.model_id == ident).order_by(_A.alias))]
    if isinstance(ref, int) or ref == _LATEST:
        raise NotFoundError(
            f"Model {name!r} has no version {ref} (versions: {numbers or 'none'}).",
            hint=f"List them with `modelyard models versions {name}`.",
        )
    raise NotFoundError(
        f"Model {name!r} has no alias {ref!r} (existing: {aliases or 'none'}).{close_matches(ref, aliases)}",
        hint=f"Set it with `modelyard models alias {name} {ref} VERSION`.",
    )


_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _condition(cond: MetricCondition) -> ColumnElement[bool]:
    compare: Callable[[Any, Any], ColumnElement[bool]] = _OPERATORS[cond.op]
    if cond.scope == "metrics":
        s = t.metric_series.c
        return exists().where(s.run_id == _V.run_id, s.key == cond.key, compare(s.last_value, cond.value))
    if cond.scope == "params":
        p = t.params.c
        return exists().where(p.run_id == _V.run_id, p.key == cond.key, compare(p.value, str(cond.value)))
    return exists().where(
        _G.model_id == _V.model_id,
        _G.version_number == _V.number,
        _G.key == cond.key,
        compare(_G.value, str(cond.value)),
    )


def _order(query: VersionQuery) -> Sequence[Any]:
    if query.order_by.startswith("metrics."):
        s = t.metric_series.c
        value = select(s.last_value).where(s.run_id == _V.run_id, s.key == query.order_by[8:]).scalar_subquery()
        return [value.desc().nulls_last() if query.descending else value.asc().nulls_last(), _V.number.desc()]
    column = _V.created_ms if query.order_by == "created" else _V.number
    return [column.desc() if query.descending else column.asc(), _M.name]


def _versions(
    conn: Connection, where: ColumnElement[bool], *, order: Sequence[Any] | None = None, limit: int | None = None
) -> builtins.list[ModelVersion]:
    stmt = (
        select(t.model_versions, _M.name.label("model_name"))
        .join_from(t.model_versions, t.registered_models, _V.model_id == _M.id)
        .where(where)
        .order_by(*(order or [_V.number.desc()]))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows: Sequence[Row[Any]] = conn.execute(stmt).all()
    if not rows:
        return []
    models = list({row.model_id for row in rows})
    runs = list({row.run_id for row in rows if row.run_id})
    aliases: dict[tuple[str, int], builtins.list[str]] = {}
    for a in conn.execute(select(_A.model_id, _A.alias, _A.version_number).where(_A.model_id.in_(models))):
        aliases.setdefault((a.model_id, a.version_number), []).append(a.alias)
    tags: dict[tuple[str, int], dict[str, str]] = {}
    for g in conn.execute(select(t.model_tags).where(_G.model_id.in_(models), _G.version_number > 0)):
        tags.setdefault((g.model_id, g.version_number), {})[g.key] = g.value
    metrics: dict[str, dict[str, float]] = {}
    params: dict[str, dict[str, str]] = {}
    if runs:
        s, p = t.metric_series.c, t.params.c
        for m in conn.execute(select(s.run_id, s.key, s.last_value).where(s.run_id.in_(runs))):
            metrics.setdefault(m.run_id, {})[m.key] = m.last_value
        for q in conn.execute(select(p.run_id, p.key, p.value).where(p.run_id.in_(runs))):
            params.setdefault(q.run_id, {})[q.key] = q.value
    return [
        ModelVersion(
            name=row.model_name,
            version=row.number,
            package=Digest.parse(row.package_digest),
            flavor=row.flavor,
            source=row.source,
            status=VersionStatus(row.status),
            description=row.description,
            created_at=_dt(row.created_ms),
            actor=row.actor,
            run_id=None if row.run_id is None else RunId(row.run_id),
            lineage=ModelLineage.from_json(orjson.loads(row.lineage)),
            aliases=tuple(sorted(aliases.get((row.model_id, row.number), []))),
            tags=dict(sorted(tags.get((row.model_id, row.number), {}).items())),
            metrics=dict(sorted(metrics.get(row.run_id, {}).items())) if row.run_id else {},
            params=dict(sorted(params.get(row.run_id, {}).items())) if row.run_id else {},
        )
        for row in rows
    ]


class SqlAliasRepository:
    """The AliasRepository protocol: movable aliases and the model history."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, name: str, alias: str, version: int, *, actor: str | None, reason: str | None) -> HistoryEntry:
        """Point ``alias`` at ``version``; a move to the same version records nothing and returns the last move."""

        def work(conn: Connection) -> HistoryEntry:
            ident = _model_id(conn, name, lock=True)
            _resolve(conn, ident, name, version)  # raises when the version does not exist
            before = conn.execute(select(_A.version_number).where(_A.model_id == ident, _A.alias == alias)).scalar()
            now = _now_ms()
            row = _change_row(name, "alias-set", now, actor, reason, alias=alias, version_number=version)
            row |= {"from_value": None if before is None else str(before), "to_value": str(version)}
            if before == version:
                return _entry(0, row)
            if before is None:
                conn.execute(
                    t.model_aliases.insert().values(model_id=ident, alias=alias, version_number=version, updated_ms=now)
                )
            else:
                conn.execute(
                    update(t.model_aliases)
                    .where(_A.model_id == ident, _A.alias == alias)
                    .values(version_number=version, updated_ms=now)
                )
            payload = {"name": name, "alias": alias, "from": before, "to": version, "actor": actor}
            append_event(conn, "model-alias-moved", name, payload, now)
            return _history(conn, row)

        return self._db.retrying(work)

    def delete(self, name: str, alias: str, *, actor: str | None, reason: str | None) -> HistoryEntry | None:
        """Remove an alias and record it; None when it did not exist."""

        def work(conn: Connection) -> HistoryEntry | None:
            ident = _model_id(conn, name, lock=True)
            before = conn.execute(select(_A.version_number).where(_A.model_id == ident, _A.alias == alias)).scalar()
            if before is None:
                return None
            conn.execute(t.model_aliases.delete().where(_A.model_id == ident, _A.alias == alias))
            now = _now_ms()
            append_event(conn, "model-alias-removed", name, {"name": name, "alias": alias, "from": before}, now)
            row = _change_row(name, "alias-removed", now, actor, reason, alias=alias, from_value=str(before))
            return _history(conn, row)

        return self._db.retrying(work)

    def history(self, name: str, *, alias: str | None = None) -> builtins.list[HistoryEntry]:
        """Every recorded change of a model (or every move of one alias), oldest first."""
        stmt = select(t.model_history).where(_H.model == name).order_by(_H.id)
        if alias is not None:
            stmt = stmt.where(_H.alias == alias, _H.action.in_(["alias-set", "alias-removed"]))
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
            if not rows:
                _model_id(conn, name)  # a model with no history does not exist: raise with suggestions
        return [_entry(row.id, row._asdict()) for row in rows]
