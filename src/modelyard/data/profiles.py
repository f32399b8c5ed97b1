"""Schema and statistics of a table, computed in the same single pass as its data tests.

Per column: type, non-null and null counts; for numbers min/max/mean/std, a HyperLogLog distinct estimate
and t-digest quantiles (DuckDB's ``approx_*`` aggregates, bounded memory); for text min/max and the distinct
estimate; for text and booleans the most frequent values with exact counts, tallied per batch in Python
while the column has at most ``TOP_CARDINALITY`` distinct values (an identifier column gets none).
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from modelyard.data.models import ColumnProfile, TableProfile
from modelyard.data.tables import BatchTap, TableSource, normalise_type, quote

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PROBABILITIES", "ProfilePart", "column_kind"]

PROBABILITIES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_VALUES = 10
TOP_CARDINALITY = 1000


def column_kind(arrow_type: pa.DataType) -> str:
    """``number``, ``bool``, ``text``, ``time`` or ``other``: which statistics a column gets."""
    import pyarrow.types as pt

    if pt.is_dictionary(arrow_type):
        return column_kind(arrow_type.value_type)
    if pt.is_boolean(arrow_type):
        return "bool"
    if pt.is_integer(arrow_type) or pt.is_floating(arrow_type) or pt.is_decimal(arrow_type):
        return "number"
    if pt.is_string(arrow_type) or pt.is_large_string(arrow_type) or getattr(pt, "is_string_view", bool)(arrow_type):
        return "text"
    if pt.is_temporal(arrow_type):
        return "time"
    return "other"


def _plain(value: Any) -> float | int | str | bool | None:
    """A JSON-safe scalar: non-finite floats become None, decimals floats, times ISO text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _float(value: Any) -> float | None:
    plain = _plain(value)
    return float(plain) if isinstance(plain, int | float) and not isinstance(plain, bool) else None


class _ValueCounts:
    """Exact value counts of low-cardinality text and boolean columns, batch by batch."""

    def __init__(self, columns: list[str]) -> None:
        self.counts: dict[str, Counter[str] | None] = {name: Counter() for name in columns}

    def observe(self, batch: pa.RecordBatch) -> None:
        import pyarrow.compute as pc

        for name, counter in self.counts.items():
            if counter is None:
                continue
            column = batch.column(name)
            if column.null_count == len(column):
                continue
            tallied = pc.value_counts(column.drop_null())
            for value, count in zip(
                tallied.field("values").to_pylist(), tallied.field("counts").to_pylist(), strict=True
            ):
                counter[str(value).lower() if isinstance(value, bool) else str(value)] += count
            if len(counter) > TOP_CARDINALITY:
                self.counts[name] = None


class ProfilePart:
    """The statistics part of a scan; ``profile`` holds the result once the scan finished."""

    def __init__(self, source: TableSource) -> None:
        self._source = source
        self._schema = source.schema()
        self._plan: list[tuple[str, str, list[str]]] = []  # (column, kind, statistic names)
        for field in self._schema:
            kind = column_kind(field.type)
            stats = ["count"]
            if kind == "number":
                stats += ["min", "max", "mean", "std", "distinct", "quantiles"]
            elif kind in ("text", "time"):
                stats += ["min", "max", "distinct"]
            self._plan.append((field.name, kind, stats))
        self._counts = _ValueCounts([name for name, kind, _ in self._plan if kind in ("text", "bool")])
        self.profile: TableProfile | None = None

    def expressions(self) -> list[str]:
        """Aggregates over ``t`` for every column's statistics."""
        sql = {
            "count": "count({q})",
            "min": "min({q})",
            "max": "max({q})",
            "mean": "avg({q})",
            "std": "stddev_samp({q})",
            "distinct": "approx_count_distinct({q})",
            "quantiles": "approx_quantile({q}, [" + ", ".join(map(str, PROBABILITIES)) + "])",
        }
        return [sql[stat].format(q=quote(name)) for name, _, stats in self._plan for stat in stats]

    def taps(self) -> list[BatchTap]:
        """The value-count tap for text and boolean columns."""
        return [self._counts]

    def finish(self, rows: int, values: list[Any]) -> None:
        """Build the profile from the scan's results."""
        columns: list[ColumnProfile] = []
        position = 0
        for field, (name, _, stats) in zip(self._schema, self._plan, strict=True):
            found = dict(zip(stats, values[position : position + len(stats)], strict=True))
            position += len(stats)
            count = int(found["count"] or 0)
            counter = self._counts.counts.get(name)
            quantiles = found.get("quantiles")
            columns.append(
                ColumnProfile(
                    name=name,
                    type=normalise_type(field.type),
                    count=count,
                    null_count=rows - count,
                    min=_plain(found.get("min")),
                    max=_plain(found.get("max")),
                    mean=_float(found.get("mean")),
                    std=_float(found.get("std")),
                    distinct=None if found.get("distinct") is None else int(found["distinct"]),
                    quantiles=None
                    if quantiles is None
                    else {
                        str(p): q
                        for p, q in zip(PROBABILITIES, (_float(v) for v in quantiles), strict=True)
                        if q is not None
                    },
                    top=None if counter is None else [(v, c) for v, c in counter.most_common(TOP_VALUES)],
                )
            )
        self.profile = TableProfile(rows=rows, columns=columns, files=self._source.paths, format=self._source.format)
