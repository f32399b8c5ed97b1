"""Experiments in the SQL store."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from modelyard.errors import InvalidInputError, NotFoundError, close_matches
from modelyard.ids import ExperimentId, new_id
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.dialects import insert_ignore
from modelyard.stores.sql.engine import Database
from modelyard.tracking.models import Experiment

__all__ = ["SqlExperimentRepository"]


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"Experiment name {name!r} is empty.", hint="Pass a name such as 'churn'.")
    if len(name) > t.NAME_LENGTH or any(ord(c) < 32 for c in name):
        raise InvalidInputError(
            f"Experiment name {name[:40]!r}... is too long or holds control characters.",
            hint=f"Use at most {t.NAME_LENGTH} printable characters.",
        )
    return name.strip()


class SqlExperimentRepository:
    """Create, find and list experiments."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure(self, name: str) -> Experiment:
        """Return the experiment called ``name``, creating it if missing (race-safe)."""
        name = _check_name(name)
        found = self._find(name)
        if found is not None:
            return found
        with self._db.write() as conn:
            conn.execute(
                insert_ignore(conn, t.experiments).values(id=new_id(), name=name, created_ms=int(time.time() * 1000))
            )
        found = self._find(name)
        if found is None:  # pragma: no cover - the insert above or a racing one created it
            raise NotFoundError(f"Experiment {name!r} vanished while being created.")
        return found

    def get(self, name_or_id: str) -> Experiment:
        """Return an experiment by name or id, or raise NotFoundError naming close matches."""
        found = self._find(name_or_id)
        if found is not None:
            return found
        with self._db.read() as conn:
            found_row = conn.execute(select(t.experiments).where(t.experiments.c.id == name_or_id)).first()
            names = [row.name for row in conn.execute(select(t.experiments.c.name))]
        if found_row is not None:
            return self._record(found_row)
        raise NotFoundError(
            f"No experiment named {name_or_id!r}.{close_matches(name_or_id, names)}",
            hint="List experiments with `modelyard experiments list`.",
        )

    def list(self) -> list[Experiment]:
        """All experiments with their run counts, by name."""
        counts = select(t.runs.c.experiment_id, func.count().label("n")).group_by(t.runs.c.experiment_id).subquery()
        stmt = (
            select(t.experiments, func.coalesce(counts.c.n, 0).label("run_count"))
            .outerjoin(counts, counts.c.experiment_id == t.experiments.c.id)
            .order_by(t.experiments.c.name)
        )
        with self._db.read() as conn:
            return [self._record(row, row.run_count) for row in conn.execute(stmt)]

    def _find(self, name: str) -> Experiment | None:
        with self._db.read() as conn:
            row = conn.execute(select(t.experiments).where(t.experiments.c.name == name)).first()
        return None if row is None else self._record(row)

    @staticmethod
    def _record(row: object, run_count: int = 0) -> Experiment:
        from datetime import UTC, datetime

        return Experiment(
            id=ExperimentId(row.id),  # type: ignore[attr-defined]
            name=row.name,  # type: ignore[attr-defined]
            created_at=datetime.fromtimestamp(row.created_ms / 1000, UTC),  # type: ignore[attr-defined]
            run_count=int(run_count),
        )
