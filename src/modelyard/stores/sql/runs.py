"""Runs, params, tags, metrics and run artifacts in the SQL store."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.engine import Connection, Row

from modelyard.errors import ConflictError, NotFoundError
from modelyard.ids import Digest, RunId
from modelyard.stores.sql import schema as t
from modelyard.stores.sql import snapshots
from modelyard.stores.sql.dialects import in_chunks, insert_ignore, insert_points, upsert
from modelyard.stores.sql.engine import Database
from modelyard.stores.sql.search import compile_query
from modelyard.tracking.models import (
    ArtifactEntry,
    LogBatch,
    MetricPoint,
    NewRun,
    Run,
    RunContext,
    RunPage,
    RunQuery,
    RunStatus,
)

__all__ = ["SqlRunRepository"]

_STATUS = {status.value: status for status in RunStatus}


def _summary_update() -> Any:
    """Merge a batch's min, max and last point into a metric's summary row (one statement, built once)."""
    ms = t.metric_series.c
    newer = (bindparam("bstep") > ms.last_step) | (
        (bindparam("bstep") == ms.last_step) & (bindparam("bms") >= ms.last_ms)
    )
    return (
        update(t.metric_series)
        .where(ms.id == bindparam("sid"))
        .values(
            min_value=case((bindparam("bmin") < ms.min_value, bindparam("bmin")), else_=ms.min_value),
            max_value=case((bindparam("bmax") > ms.max_value, bindparam("bmax")), else_=ms.max_value),
            last_value=case((newer, bindparam("bvalue")), else_=ms.last_value),
            last_ms=case((newer, bindparam("bms")), else_=ms.last_ms),
            last_step=case((newer, bindparam("bstep")), else_=ms.last_step),
        )
    )


_SUMMARY_UPDATE = _summary_update()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _stamps(points: Sequence[MetricPoint]) -> list[int]:
    """Epoch milliseconds of each point; the points of one logging call share one timestamp object."""
    stamps: list[int] = []
    previous: datetime | None = None
    ms = 0
    for point in points:
        if point.timestamp is not previous:
            previous, ms = point.timestamp, _ms(point.timestamp)
        stamps.append(ms)
    return stamps


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(slots=True)
class _Summary:
    """Min, max and last point of one metric in a batch (the last by step, then time, then logging order)."""

    min: float
    max: float
    last: float
    last_step: int
    last_ms: int


def _summaries(points: Sequence[MetricPoint], stamps: Sequence[int]) -> dict[str, _Summary]:
    found: dict[str, _Summary] = {}
    for point, ts_ms in zip(points, stamps, strict=True):
        current = found.get(point.key)
        if current is None:
            found[point.key] = _Summary(point.value, point.value, point.value, point.step, ts_ms)
            continue
        current.min = min(current.min, point.value)
        current.max = max(current.max, point.value)
        if (point.step, ts_ms) >= (current.last_step, current.last_ms):
            current.last, current.last_step, current.last_ms = point.value, point.step, ts_ms
    return found


class SqlRunRepository:
    """The RunRepository protocol over SQLAlchemy Core."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- lifecycle -------------------------------------------------------------------------------------------
    def create(self, new: NewRun) -> Run:
        """Insert a RUNNING run (with its initial tags)."""
        self._db.retrying(lambda conn: self._insert_runs(conn, [new]))
        return new.as_run()

    @staticmethod
    def _insert_runs(conn: Connection, news: Sequence[NewRun]) -> None:
        conn.execute(
            t.runs.insert(),
            [
                {
                    "id": new.id,
                    "experiment_id": new.experiment_id,
                    "name": new.name,
                    "status": RunStatus.RUNNING.value,
                    "parent_id": new.parent_id,
                    "start_ms": _ms(new.start_time),
                    "end_ms": None,
                    "context": json.dumps(new.context.to_json(), sort_keys=True),
                    "snapshot": None,
                }
                for new in news
            ],
        )
        tags = [{"run_id": new.id, "key": k, "value": v} for new in news for k, v in new.tags.items()]
        if tags:
            conn.execute(t.tags.insert(), tags)

    def get(self, run_id: RunId) -> Run:
        """Return one run, or raise NotFoundError."""
        with self._db.read() as conn:
            rows = conn.execute(self._run_select().where(t.runs.c.id == run_id)).all()
            if not rows:
                raise NotFoundError(
                    f"No run with id {run_id!r}.",
                    hint="Find run ids with `modelyard runs list <experiment>`.",
                )
            return self._load(conn, rows)[0]

    def end(self, run_id: RunId, status: RunStatus, end_ms: int) -> None:
        """Mark a run ended; the same status again is a no-op, another one conflicts."""
        self.write([LogBatch(run_id=run_id, end_status=status, end_ms=end_ms)])

    # -- logging ---------------------------------------------------------------------------------------------
    def write(self, batches: Sequence[LogBatch]) -> None:
        """Write params, tags, metric points and run ends of several runs in one transaction."""
        batches = [b for b in batches if b.new or b.params or b.tags or b.metrics or b.end_status is not None]
        if batches:
            self._db.retrying(lambda conn: self._write(conn, batches))

    def _write(self, conn: Connection, batches: Sequence[LogBatch]) -> None:
        fresh = [(b, b.new) for b in batches if b.new is not None]
        if fresh:
            self._write_fresh(conn, fresh)  # first: the rest of the batch may refer to these runs
        known = [b for b in batches if b.new is None]
        with_data = [b for b in known if b.params or b.tags or b.metrics]
        if with_data:
            self._check_running(conn, [b.run_id for b in with_data])
        for batch in with_data:
            if batch.params:
                self._write_params(conn, batch.run_id, batch.params)
            if batch.tags:
                conn.execute(
                    upsert(conn, t.tags, ["run_id", "key"], ["value"]),
                    [{"run_id": batch.run_id, "key": k, "value": v} for k, v in batch.tags.items()],
                )
        points = [(b.run_id, p) for b in with_data for p in b.metrics]
        if points:
            self._write_metrics(conn, points)
        for batch in known:
            if batch.end_status is not None:
                self._end(conn, batch.run_id, batch.end_status, batch.end_ms or 0)

    @staticmethod
    def _write_fresh(conn: Connection, batches: Sequence[tuple[LogBatch, NewRun]]) -> None:
        """Write runs created in this transaction: nothing of theirs is stored yet, so nothing is read back.

        A run that also ends here is inserted ended, with its snapshot: a short run costs five inserts.
        """
        run_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        param_rows: list[dict[str, Any]] = []
        series_rows: list[dict[str, Any]] = []
        point_rows: list[tuple[str, str, int, int, float]] = []
        for batch, new in batches:
            tags = {**new.tags, **batch.tags}
            stamps = _stamps(batch.metrics)
            summaries = _summaries(batch.metrics, stamps)
            ended = batch.end_status is not None
            run_rows.append(
                {
                    "id": new.id,
                    "experiment_id": new.experiment_id,
                    "name": new.name,
                    "status": (batch.end_status or RunStatus.RUNNING).value,
                    "parent_id": new.parent_id,
                    "start_ms": _ms(new.start_time),
                    "end_ms": (batch.end_ms or 0) if ended else None,
                    "context": json.dumps(new.context.to_json(), sort_keys=True),
                    "snapshot": snapshots.encode(batch.params, tags, summaries) if ended else None,
                }
            )
            tag_rows += [{"run_id": new.id, "key": k, "value": v} for k, v in tags.items()]
            param_rows += [{"run_id": new.id, "key": k, "value": v} for k, v in batch.params.items()]
            series_rows += [
                {
                    "run_id": new.id,
                    "key": key,
                    "last_value": s.last,
                    "last_step": s.last_step,
                    "last_ms": s.last_ms,
                    "min_value": s.min,
                    "max_value": s.max,
                }
                for key, s in summaries.items()
            ]
            point_rows += [(new.id, p.key, p.step, ts, p.value) for p, ts in zip(batch.metrics, stamps, strict=True)]
        conn.execute(t.runs.insert(), run_rows)
        if tag_rows:
            conn.execute(t.tags.insert(), tag_rows)
        if param_rows:
            conn.execute(t.params.insert(), param_rows)
        if series_rows:
            ms = t.metric_series.c
            returned = conn.execute(t.metric_series.insert().returning(ms.id, ms.run_id, ms.key), series_rows)
            ids = {(row.run_id, row.key): row.id for row in returned}
            insert_points(conn, [(ids[(run_id, key)], step, ts, value) for run_id, key, step, ts, value in point_rows])

    @staticmethod
    def _end(conn: Connection, run_id: RunId, status: RunStatus, end_ms: int) -> None:
        ended = conn.execute(
            update(t.runs)
            .where(t.runs.c.id == run_id, t.runs.c.status == RunStatus.RUNNING.value)
            .values(status=status.value, end_ms=end_ms)
        )
        if ended.rowcount == 1:
            snapshots.freeze(conn, run_id)
            return
        row = conn.execute(select(t.runs.c.status).where(t.runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"No run with id {run_id!r}.", hint="Check the run id.")
        current = RunStatus(row.status)
        if current is not status:
            raise ConflictError(
                f"Run {run_id} already ended as {current.value}; it cannot end again as {status.value}.",
                hint="A run ends once; start a new run to record another outcome.",
            )

    @staticmethod
    def _check_running(conn: Connection, run_ids: Sequence[RunId]) -> None:
        wanted = set(run_ids)
        found: dict[str, str] = {}
        for chunk in in_chunks(sorted(wanted)):
            stmt = select(t.runs.c.id, t.runs.c.status).where(t.runs.c.id.in_(chunk))
            found.update({row.id: row.status for row in conn.execute(stmt)})
        for run_id in sorted(wanted):
            if run_id not in found:
                raise NotFoundError(f"No run with id {run_id!r}.", hint="Check the run id.")
            if found[run_id] != RunStatus.RUNNING.value:
                raise ConflictError(
                    f"Run {run_id} has ended ({found[run_id]}); nothing more can be logged to it.",
                    hint="Start a new run, or log before the run ends.",
                )

    @staticmethod
    def _write_params(conn: Connection, run_id: RunId, values: dict[str, str]) -> None:
        conn.execute(
            insert_ignore(conn, t.params),
            [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()],
        )
        keys = sorted(values)
        for chunk in in_chunks(keys):
            stmt = select(t.params.c.key, t.params.c.value).where(
                t.params.c.run_id == run_id, t.params.c.key.in_(chunk)
            )
            for row in conn.execute(stmt):
                if row.value != values[row.key]:
                    raise ConflictError(
                        f"Param {row.key!r} of run {run_id} is already {row.value!r}; "
                        f"it cannot change to {values[row.key]!r}.",
                        hint="Params are fixed once logged; log the changing value as a metric or a tag.",
                    )

    def _write_metrics(self, conn: Connection, points: Sequence[tuple[RunId, MetricPoint]]) -> None:
        series = self._series_ids(conn, {(run_id, p.key): p for run_id, p in points})
        rows = [(series[(run_id, p.key)], p.step, _ms(p.timestamp), p.value) for run_id, p in points]
        insert_points(conn, rows)
        summary: dict[int, dict[str, Any]] = {}
        for sid, step, ts_ms, value in rows:
            current = summary.get(sid)
            if current is None:
                summary[sid] = {
                    "sid": sid,
                    "bmin": value,
                    "bmax": value,
                    "bvalue": value,
                    "bstep": step,
                    "bms": ts_ms,
                }
                continue
            if value < current["bmin"]:
                current["bmin"] = value
            if value > current["bmax"]:
                current["bmax"] = value
            if (step, ts_ms) >= (current["bstep"], current["bms"]):
                current.update(bvalue=value, bstep=step, bms=ts_ms)
        conn.execute(_SUMMARY_UPDATE, list(summary.values()))

    @staticmethod
    def _series_ids(conn: Connection, first: dict[tuple[RunId, str], MetricPoint]) -> dict[tuple[str, str], int]:
        by_run: dict[str, list[str]] = defaultdict(list)
        for run_id, key in first:
            by_run[run_id].append(key)

        def lookup() -> dict[tuple[str, str], int]:
            found: dict[tuple[str, str], int] = {}
            for run_id, keys in by_run.items():
                for chunk in in_chunks(sorted(keys)):
                    stmt = select(t.metric_series.c.id, t.metric_series.c.key).where(
                        t.metric_series.c.run_id == run_id, t.metric_series.c.key.in_(chunk)
                    )
                    found.update({(run_id, row.key): row.id for row in conn.execute(stmt)})
            return found

        found = lookup()
        missing = [k for k in first if k not in found]
        if missing:
            conn.execute(
                insert_ignore(conn, t.metric_series),
                [
                    {
                        "run_id": run_id,
                        "key": key,
                        "last_value": first[(run_id, key)].value,
                        "last_step": first[(run_id, key)].step,
                        "last_ms": _ms(first[(run_id, key)].timestamp),
                        "min_value": first[(run_id, key)].value,
                        "max_value": first[(run_id, key)].value,
                    }
                    for run_id, key in missing
                ],
            )
            found = lookup()
        return found

    # -- reading ---------------------------------------------------------------------------------------------
    def search(self, query: RunQuery) -> RunPage:
        """Runs matching ``query``; ``next_page_token`` holds the next offset as text (the caller wraps it)."""
        stmt = compile_query(self._run_select(), query)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
            more = len(rows) > query.max_results
            runs = self._load(conn, rows[: query.max_results])
        return RunPage(runs=runs, next_page_token=str(query.offset + query.max_results) if more else None)

    def metric_history(self, run_id: RunId, key: str) -> list[MetricPoint]:
        """Every point of one metric of a run, by step then time."""
        p, s = t.metric_points.c, t.metric_series.c
        stmt = (
            select(p.step, p.ts_ms, p.value)
            .join_from(t.metric_points, t.metric_series, p.series_id == s.id)
            .where(s.run_id == run_id, s.key == key)
            .order_by(p.step, p.ts_ms, p.value)
        )
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            run = self.get(run_id)  # raises NotFoundError for an unknown run
            raise NotFoundError(
                f"Run {run_id} has no metric {key!r}.{_suggest(key, run.metrics)}",
                hint="See the run's metrics with `modelyard runs show " + run_id + "`.",
            )
        return [
            MetricPoint(key=key, value=r.value, step=r.step, timestamp=datetime.fromtimestamp(r.ts_ms / 1000, UTC))
            for r in rows
        ]

    def add_artifacts(self, run_id: RunId, entries: Sequence[ArtifactEntry]) -> None:
        """Record files logged to a run; a re-logged path points at its new content."""
        if not entries:
            return
        import time

        now = int(time.time() * 1000)
        rows = [
            {
                "run_id": run_id,
                "path": e.path,
                "digest": str(e.digest),
                "size_bytes": e.size_bytes,
                "logged_ms": now,
            }
            for e in entries
        ]

        def work(conn: Connection) -> None:
            self._check_running(conn, [run_id])
            conn.execute(upsert(conn, t.run_artifacts, ["run_id", "path"], ["digest", "size_bytes", "logged_ms"]), rows)

        self._db.retrying(work)

    def list_artifacts(self, run_id: RunId, prefix: str = "") -> list[ArtifactEntry]:
        """Files of a run at or under ``prefix`` (all when empty), by path."""
        a = t.run_artifacts.c
        stmt = select(a.path, a.digest, a.size_bytes).where(a.run_id == run_id).order_by(a.path)
        if prefix:
            stmt = stmt.where((a.path == prefix) | (a.path.startswith(prefix.rstrip("/") + "/", autoescape=True)))
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        return [ArtifactEntry(path=r.path, digest=Digest.parse(r.digest), size_bytes=r.size_bytes) for r in rows]

    # -- loading records -------------------------------------------------------------------------------------
    @staticmethod
    def _run_select() -> Any:
        return select(t.runs, t.experiments.c.name.label("experiment_name")).join_from(
            t.runs, t.experiments, t.runs.c.experiment_id == t.experiments.c.id
        )

    @staticmethod
    def _load(conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
        found = snapshots.Contents()
        for row in rows:
            if row.snapshot is not None:
                snapshots.decode(row.snapshot, row.id, found)
        snapshots.gather(conn, [row.id for row in rows if row.snapshot is None], found)
        params, tags, metrics = found.params, found.tags, found.metrics
        contexts: dict[str, RunContext] = {}  # runs of one process share one context: parse it once
        runs: list[Run] = []
        for row in rows:
            context = contexts.get(row.context)
            if context is None:
                context = contexts[row.context] = RunContext.from_json(json.loads(row.context))
            runs.append(
                Run(
                    id=row.id,
                    experiment_id=row.experiment_id,
                    experiment_name=row.experiment_name,
                    name=row.name,
                    status=_STATUS[row.status],
                    parent_id=row.parent_id,
                    start_time=datetime.fromtimestamp(row.start_ms / 1000, UTC),
                    end_time=_dt(row.end_ms),
                    context=context,
                    params=params.get(row.id, {}),
                    tags=tags.get(row.id, {}),
                    metrics=metrics.get(row.id, {}),
                )
            )
        return runs


def _suggest(key: str, names: Iterable[str]) -> str:
    from modelyard.errors import close_matches

    return close_matches(key, names)
