"""Data tests: declared expectations about a table, checked in one streaming pass (pre-train safeguards).

>>> from modelyard.data import DataTests, Column, RowCount, Unique, Expression
>>> tests = DataTests([
...     Column("carrier", type="string", nullable=False, isin=["AA", "B6", "DL", "UA"]),
...     Column("dep_delay", type="number", min=-120, max=2000),
...     Unique(["year", "month", "day", "carrier", "flight", "origin"]),
...     RowCount(min=1000),
...     Expression("arrives after it departs", "arr_time IS NULL OR air_time > 0"),
... ])

Every expectation except ``Custom`` is data: a suite of them is stored with a dataset (``attach_tests``) and
runs on every commit. Each becomes one or two SQL aggregates in the same DuckDB scan that computes the
table's statistics, so checking costs no extra read of the data; a failed expectation's report shows the
failing row count and, from a second look at the data, a few failing rows. ``Custom`` wraps a Python function
run on every batch (as a pandas DataFrame); it cannot be stored, so it runs only where it is passed.

Why not pandera? See docs/design.md ("Data tests run as SQL over a stream").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from modelyard.data.models import CheckReport, CheckResult
from modelyard.data.tables import BatchTap, TableSource, normalise_type, quote, sample_rows, scan
from modelyard.errors import InvalidInputError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Column", "Custom", "DataTests", "Expression", "Fresh", "RowCount", "TestsPart", "Unique"]

Scalar = float | int | str | bool | datetime | date

_TYPE_FAMILIES = {
    "number": ("int", "uint", "float", "double", "halffloat", "decimal"),
    "int": ("int", "uint"),
    "integer": ("int", "uint"),
    "float": ("float", "double", "halffloat"),
    "string": ("string", "dictionary<values=string"),
    "bool": ("bool",),
    "boolean": ("bool",),
    "timestamp": ("timestamp",),
    "date": ("date",),
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _literal(value: Scalar) -> str:
    """A SQL literal for a bound in a check (never user SQL text)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError(f"Bound {value!r} is not a finite number.", hint="Use finite bounds.")
        return repr(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        return f"TIMESTAMP '{moment.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


class _Expectation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
            raise InvalidInputError(
                f"{type(self).__name__} expectation is invalid: {problems}.",
                hint="See the DataTests docstring or docs/data.md for each expectation's arguments.",
            ) from exc


class Column(_Expectation):
    """Expectations about one column: it exists, its type, nulls, range, allowed values, pattern, uniqueness.

    Args:
        name: the column.
        type: a type family (``number``, ``int``, ``float``, ``string``, ``bool``, ``timestamp``, ``date``) or
            an exact Arrow type name such as ``int64``.
        nullable: whether nulls are allowed (default True).
        min: smallest allowed value (inclusive).
        max: largest allowed value (inclusive).
        isin: the allowed values.
        pattern: a regular expression every non-null text value must match in full.
        unique: whether values must be unique (nulls excluded).
    """

    kind: Literal["column"] = "column"
    name: str
    type: str | None = None
    nullable: bool = True
    min: Scalar | None = None
    max: Scalar | None = None
    isin: list[Scalar] | None = None
    pattern: str | None = None
    unique: bool = False

    def __init__(self, name: str | None = None, /, **values: Any) -> None:
        if name is not None:
            values["name"] = name
        super().__init__(**values)
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise InvalidInputError(
                    f"Pattern {self.pattern!r} of column {self.name!r} is not a regular expression: {exc}.",
                    hint="Write a Python/RE2-compatible regular expression.",
                ) from exc

    @property
    def title(self) -> str:
        """The column's name in reports."""
        return f"column {self.name!r}"


class Unique(_Expectation):
    """No two rows share the same values in ``columns`` (a key)."""

    kind: Literal["unique"] = "unique"
    columns: list[str]

    def __init__(self, columns: Sequence[str] | str | None = None, /, **values: Any) -> None:
        if columns is not None:
            values["columns"] = [columns] if isinstance(columns, str) else list(columns)
        super().__init__(**values)

    @property
    def title(self) -> str:
        """The key in reports."""
        return f"unique ({', '.join(self.columns)})"


class RowCount(_Expectation):
    """The table has between ``min`` and ``max`` rows (inclusive)."""

    kind: Literal["row_count"] = "row_count"
    min: int | None = None
    max: int | None = None

    @property
    def title(self) -> str:
        """The bound in reports."""
        return "row count"


class Fresh(_Expectation):
    """The newest value of a timestamp column is at most ``max_age`` old (``"36h"``, ``"7d"`` or seconds)."""

    kind: Literal["fresh"] = "fresh"
    column: str
    max_age_s: float

    def __init__(
        self, column: str | None = None, /, max_age: timedelta | str | float | None = None, **values: Any
    ) -> None:
        if column is not None:
            values["column"] = column
        if max_age is not None:
            values["max_age_s"] = _seconds(max_age)
        super().__init__(**values)

    @property
    def title(self) -> str:
        """The column in reports."""
        return f"fresh {self.column!r}"


class Expression(_Expectation):
    """Every row satisfies a SQL condition over its columns (DuckDB syntax; a null result fails the row)."""

    kind: Literal["expression"] = "expression"
    name: str
    sql: str

    def __init__(self, name: str | None = None, sql: str | None = None, /, **values: Any) -> None:
        values.update({k: v for k, v in (("name", name), ("sql", sql)) if v is not None})
        super().__init__(**values)

    @property
    def title(self) -> str:
        """The expectation's name in reports."""
        return self.name


class Custom:
    """A Python check run on every batch of rows: ``fn(frame)`` returns a bool or a boolean Series per row.

    It runs where it is passed (``validate``, ``commit``, pipeline steps) and cannot be attached to a dataset,
    because code is not stored. Use ``Expression`` for a check that should travel with the data.
    """

    kind = "custom"

    def __init__(self, name: str, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise InvalidInputError(f"Custom check {name!r} needs a function.", hint="Pass fn=lambda frame: ...")
        self.name = name
        self.fn = fn

    @property
    def title(self) -> str:
        """The check's name in reports."""
        return self.name


Stored = Annotated[Column | Unique | RowCount | Fresh | Expression, Field(discriminator="kind")]
_STORED: TypeAdapter[list[Stored]] = TypeAdapter(list[Stored])


def _seconds(value: timedelta | str | float) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise InvalidInputError(
            f"{value!r} is not a duration.", hint="Write seconds, or a number with s, m, h, d or w: '36h', '7d'."
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


class DataTests:
    """A suite of expectations about a table (see the module docstring for an example).

    Added in 0.1.
    """

    def __init__(self, expectations: Sequence[Column | Unique | RowCount | Fresh | Expression | Custom]) -> None:
        allowed = (Column, Unique, RowCount, Fresh, Expression, Custom)
        for item in expectations:
            if not isinstance(item, allowed):
                raise InvalidInputError(
                    f"{item!r} is not a data-test expectation.",
                    hint="Use Column, Unique, RowCount, Fresh, Expression or Custom from modelyard.data.",
                )
        if not expectations:
            raise InvalidInputError("A data-test suite needs at least one expectation.", hint="Add a Column(...).")
        self.expectations = list(expectations)

    def __repr__(self) -> str:
        return f"DataTests({len(self.expectations)} expectations)"

    def to_json(self) -> str:
        """The stored form.

        Raises:
            InvalidInputError: the suite holds a ``Custom`` check (code cannot be stored).
        """
        custom = [e.name for e in self.expectations if isinstance(e, Custom)]
        if custom:
            raise InvalidInputError(
                f"The suite holds the Python check {custom[0]!r}, which cannot be stored with a dataset.",
                hint="Express it as Expression(name, sql) to attach it, or pass the suite to validate()/commit().",
            )
        return _STORED.dump_json([e for e in self.expectations if not isinstance(e, Custom)]).decode()

    @classmethod
    def from_json(cls, text: str) -> DataTests:
        """Parse the stored form."""
        try:
            return cls(_STORED.validate_json(text))
        except (ValidationError, InvalidInputError) as exc:
            raise InvalidInputError(f"Stored data tests are not valid: {exc}.", hint="Attach the suite again.") from exc

    def run(self, source: TableSource, *, now: datetime | None = None) -> CheckReport:
        """Check the table alone (one pass, plus one small look per failed row check for examples)."""
        part = TestsPart(self, source, now=now)
        rows, values = scan(source, part.expressions(), part.taps())
        part.finish(rows, values)
        return part.report()


class _CustomTap:
    def __init__(self, check: Custom) -> None:
        self.check = check
        self.failing = 0
        self.error: str | None = None

    def observe(self, batch: pa.RecordBatch) -> None:
        if self.error is not None:
            return
        try:
            verdict = self.check.fn(batch.to_pandas())
        except Exception as exc:  # a user function may raise anything; the report says what
            self.error = f"{type(exc).__name__}: {exc}"
            return
        if isinstance(verdict, bool):
            self.failing += 0 if verdict else batch.num_rows
            return
        try:
            self.failing += int((~verdict.astype(bool)).sum())
        except AttributeError:
            self.error = f"returned {type(verdict).__name__}, not a bool or a boolean Series"


def _matches_type(wanted: str, actual: str) -> bool:
    families = _TYPE_FAMILIES.get(wanted.lower())
    if families is None:
        return normalise_type(wanted) == actual
    return actual.startswith(families)


class TestsPart:
    """The data-tests part of a scan: SQL aggregates for row checks, taps for Python ones."""

    def __init__(self, tests: DataTests, source: TableSource, *, now: datetime | None = None) -> None:
        self._tests = tests
        self._source = source
        self._now = now or datetime.now(UTC)
        schema = source.schema()
        self._types = {field.name: normalise_type(field.type) for field in schema}
        # (expectation index, label, aggregate over t, failing-row condition for examples or None)
        self._sql: list[tuple[int, str, str, str | None]] = []
        self._static: dict[int, list[CheckResult]] = {}
        self._taps: dict[int, _CustomTap] = {}
        self._values: list[Any] = []
        self._rows = 0
        for index, item in enumerate(tests.expectations):
            self._plan(index, item)

    # -- planning ----------------------------------------------------------------------------------------------
    def _missing(self, index: int, title: str, names: Sequence[str]) -> bool:
        absent = [n for n in names if n not in self._types]
        if absent:
            self._static.setdefault(index, []).append(
                CheckResult(name=title, passed=False, detail=f"the table has no column {absent[0]!r}")
            )
        return bool(absent)

    def _plan(self, index: int, item: Column | Unique | RowCount | Fresh | Expression | Custom) -> None:
        if isinstance(item, Column):
            self._plan_column(index, item)
        elif isinstance(item, Unique):
            if not self._missing(index, item.title, item.columns):
                self._duplicates(index, item.columns)
        elif isinstance(item, Fresh):
            if not self._missing(index, item.title, [item.column]):
                self._sql.append((index, "newest", f"max({quote(item.column)})", None))
        elif isinstance(item, Expression):
            problem = self._invalid_sql(item.sql)
            if problem is not None:
                self._static[index] = [CheckResult(name=item.title, passed=False, detail=problem)]
            else:
                self._rows_where(index, "rows violate it", f"NOT coalesce(({item.sql}), false)")
        elif isinstance(item, Custom):
            self._taps[index] = _CustomTap(item)

    def _plan_column(self, index: int, item: Column) -> None:
        if self._missing(index, item.title, [item.name]):
            return
        q, actual = quote(item.name), self._types[item.name]
        if item.type is not None and not _matches_type(item.type, actual):
            self._static.setdefault(index, []).append(
                CheckResult(name=item.title, passed=False, detail=f"type is {actual}, expected {item.type}")
            )
        if not item.nullable:
            self._rows_where(index, "nulls", f"{q} IS NULL")
        if item.min is not None or item.max is not None:
            bounds = []
            if item.min is not None:
                bounds.append(f"{q} < {_literal(item.min)}")
            if item.max is not None:
                bounds.append(f"{q} > {_literal(item.max)}")
            low = "-inf" if item.min is None else item.min
            high = "inf" if item.max is None else item.max
            label = f"outside [{low}, {high}]"
            self._rows_where(index, label, " OR ".join(bounds))
        if item.isin is not None:
            values = ", ".join(_literal(v) for v in item.isin) or "NULL"
            self._rows_where(index, "values not allowed", f"{q} IS NOT NULL AND {q} NOT IN ({values})")
        if item.pattern is not None:
            matched = f"regexp_full_match({q}, {_literal(item.pattern)})"
            self._rows_where(index, "values not matching the pattern", f"{q} IS NOT NULL AND NOT {matched}")
        if item.unique:
            self._duplicates(index, [item.name])

    def _rows_where(self, index: int, label: str, condition: str) -> None:
        """A row check: count the rows where ``condition`` holds (they fail); show a few when any do."""
        self._sql.append((index, label, f"count(*) FILTER (WHERE {condition})", condition))

    def _duplicates(self, index: int, columns: Sequence[str]) -> None:
        key = ", ".join(quote(c) for c in columns)
        row = f"({key})" if len(columns) > 1 else key
        self._sql.append((index, "duplicates", f"count({row}) - count(DISTINCT {row})", None))

    def _invalid_sql(self, sql: str) -> str | None:
        import duckdb
        import pyarrow as pa

        empty = pa.Table.from_batches([], schema=self._source.schema())
        connection = duckdb.connect(config={"threads": 1})
        try:
            connection.register("t", empty)
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            connection.execute(f"SELECT count(*) FILTER (WHERE NOT coalesce(({sql}), false)) FROM t")
        except duckdb.Error as exc:
            return f"invalid SQL: {str(exc).splitlines()[0]}"
        finally:
            connection.close()
        return None

    # -- the scan --------------------------------------------------------------------------------------------
    def expressions(self) -> list[str]:
        """One aggregate per planned row check."""
        return [aggregate for _, _, aggregate, _ in self._sql]

    def taps(self) -> list[BatchTap]:
        """The Python checks."""
        return list(self._taps.values())

    def finish(self, rows: int, values: list[Any]) -> None:
        """Keep the scan's results for ``report``."""
        self._rows, self._values = rows, values

    def report(self) -> CheckReport:
        """Results in the order the expectations were declared."""
        per: dict[int, list[CheckResult]] = {i: list(r) for i, r in self._static.items()}
        for (index, label, _, condition), value in zip(self._sql, self._values, strict=True):
            per.setdefault(index, []).append(self._sql_result(index, label, condition, value))
        for index, tap in self._taps.items():
            if tap.error is not None:
                result = CheckResult(name=tap.check.title, passed=False, detail=f"the check raised {tap.error}")
            else:
                result = CheckResult(
                    name=tap.check.title,
                    passed=tap.failing == 0,
                    detail="holds on every row" if tap.failing == 0 else f"{tap.failing:,} rows fail it",
                    failing_rows=tap.failing,
                )
            per.setdefault(index, []).append(result)
        results: list[CheckResult] = []
        for index, item in enumerate(self._tests.expectations):
            if isinstance(item, RowCount):
                results.append(self._row_count(item))
                continue
            found = per.get(index, [])
            if not found:
                results.append(CheckResult(name=item.title, passed=True, detail="holds"))
            elif len(found) == 1:
                results.append(found[0])
            else:
                failed = [r for r in found if not r.passed]
                detail = "; ".join(r.detail for r in failed) if failed else "holds"
                examples = [e for r in failed for e in r.examples][:3]
                counts = [r.failing_rows for r in failed if r.failing_rows is not None]
                results.append(
                    CheckResult(
                        name=item.title,
                        passed=not failed,
                        detail=detail,
                        failing_rows=max(counts) if counts else None,
                        examples=examples,
                    )
                )
        return CheckReport(passed=all(r.passed for r in results), rows=self._rows, results=results)

    def _sql_result(self, index: int, label: str, condition: str | None, value: Any) -> CheckResult:
        item = self._tests.expectations[index]
        if isinstance(item, Fresh):
            return self._freshness(item, value)
        failing = int(value or 0)
        if failing == 0:
            return CheckResult(name=item.title, passed=True, detail="holds", failing_rows=0)
        examples = [] if condition is None else sample_rows(self._source, condition)
        return CheckResult(
            name=item.title, passed=False, detail=f"{failing:,} {label}", failing_rows=failing, examples=examples
        )

    def _row_count(self, item: RowCount) -> CheckResult:
        low_ok = item.min is None or self._rows >= item.min
        high_ok = item.max is None or self._rows <= item.max
        bound = f"[{item.min if item.min is not None else 0}, {item.max if item.max is not None else 'inf'}]"
        detail = f"{self._rows:,} rows" + ("" if low_ok and high_ok else f", expected {bound}")
        return CheckResult(name=item.title, passed=low_ok and high_ok, detail=detail)

    def _freshness(self, item: Fresh, newest: Any) -> CheckResult:
        if newest is None:
            return CheckResult(name=item.title, passed=False, detail="the column holds no values")
        if isinstance(newest, datetime):
            moment = newest if newest.tzinfo is not None else newest.replace(tzinfo=UTC)
        elif isinstance(newest, date):
            moment = datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
        else:
            return CheckResult(name=item.title, passed=False, detail=f"newest value {newest!r} is not a time")
        age = (self._now - moment).total_seconds()
        ok = age <= item.max_age_s
        detail = f"newest is {moment.isoformat()}, {age / 3600:,.1f} h old (allowed {item.max_age_s / 3600:,.1f} h)"
        return CheckResult(name=item.title, passed=ok, detail=detail)
