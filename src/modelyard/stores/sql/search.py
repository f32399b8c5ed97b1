"""Compile a parsed run query (``tracking.models.RunQuery``) into one SQL statement.

Every metric, param or tag a query names becomes one LEFT OUTER JOIN on ``(run_id, key)``; conditions and
order-by terms then compare plain columns, so SQLite and PostgreSQL use their indexes. Runs missing a value
never match a comparison and sort last.
"""

from __future__ import annotations

import operator
from typing import Any

from sqlalchemy import Column, ColumnElement, and_, or_
from sqlalchemy.sql import Select

from modelyard.stores.sql import schema as t
from modelyard.tracking.models import BoolOp, Comparison, Condition, Field, RunQuery

__all__ = ["compile_query"]

_ATTRIBUTE_COLUMNS = {
    "id": t.runs.c.id,
    "name": t.runs.c.name,
    "status": t.runs.c.status,
    "start_time": t.runs.c.start_ms,
    "end_time": t.runs.c.end_ms,
    "parent_id": t.runs.c.parent_id,
    "experiment_id": t.runs.c.experiment_id,
}
_AGGREGATE_COLUMN = {"last": "last_value", "min": "min_value", "max": "max_value"}


class _Joins:
    """One outer join per (kind, key) named by the query; hands out the column to compare."""

    def __init__(self) -> None:
        self._aliases: dict[tuple[str, str], Any] = {}

    def column(self, field: Field) -> ColumnElement[Any]:
        if field.kind == "attribute":
            return _ATTRIBUTE_COLUMNS[field.key]
        table = {"metric": t.metric_series, "param": t.params, "tag": t.tags}[field.kind]
        alias = self._aliases.get((field.kind, field.key))
        if alias is None:
            alias = table.alias(f"j{len(self._aliases)}")
            self._aliases[(field.kind, field.key)] = alias
        name = _AGGREGATE_COLUMN[field.aggregate] if field.kind == "metric" else "value"
        column: ColumnElement[Any] = alias.c[name]
        return column

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        for (_kind, key), alias in self._aliases.items():
            stmt = stmt.outerjoin(alias, and_(alias.c.run_id == t.runs.c.id, alias.c.key == key))
        return stmt


_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq}


def _compare(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    present = column.is_not(None)
    result: ColumnElement[bool]
    if op in _ORDERING:
        result = _ORDERING[op](column, value)
    elif op == "!=":
        result = and_(present, column != value)
    elif op in ("in", "not in"):
        values = list(value)
        result = column.in_(values) if op == "in" else and_(present, column.not_in(values))
    else:
        negated, _, kind = op.rpartition(" ")
        matched = column.ilike(value) if kind == "ilike" else column.like(value)
        result = and_(present, ~matched) if negated else matched
    return result


def _condition(joins: _Joins, cond: Condition) -> ColumnElement[bool]:
    if isinstance(cond, BoolOp):
        parts = [_condition(joins, item) for item in cond.items]
        return and_(*parts) if cond.op == "and" else or_(*parts)
    assert isinstance(cond, Comparison)
    return _compare(joins.column(cond.field), cond.op, cond.value)


def compile_query(base: Select[Any], query: RunQuery) -> Select[Any]:
    """Add the query's experiments, condition, order and page (one extra row tells if more exist)."""
    joins = _Joins()
    where: list[ColumnElement[bool]] = [t.runs.c.experiment_id.in_(list(query.experiment_ids))]
    if query.condition is not None:
        where.append(_condition(joins, query.condition))
    order: list[Any] = []
    for key in query.order_by:
        column = joins.column(key.field)
        joined = key.field.kind != "attribute"  # outer-joined values are NULL where a run lacks them
        if joined or (isinstance(column, Column) and column.nullable):
            order.append(column.is_(None))  # missing values sort last
        order.append(column.desc() if key.descending else column.asc())
    order.extend([t.runs.c.start_ms.desc(), t.runs.c.id.desc()])  # newest first; matches the runs index
    stmt = joins.apply(base).where(*where).order_by(*order)
    return stmt.limit(query.max_results + 1).offset(query.offset)
