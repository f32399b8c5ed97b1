"""A version's table: its Parquet or CSV files read as one stream of Arrow record batches, and one-pass scans.

A *table source* is an ordered list of files of one format, each opened on demand (from disk at commit time,
from the store afterwards). ``TableSource.batches`` yields record batches with one unified schema (files are
unioned by column name; missing columns are null). ``scan`` runs one DuckDB aggregate query over that stream
while Python *taps* see each batch too: statistics, data tests and custom checks all come out of a single
read of the data, with bounded memory.

DuckDB runs with external access disabled and its configuration locked, so an expression in a stored data
test cannot read files or load extensions: it can only see the registered stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from modelyard.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "TABULAR_SUFFIXES",
    "BatchTap",
    "TableFile",
    "TableSource",
    "normalise_type",
    "ScanPart",
    "quote",
    "require_arrow",
    "sample_rows",
    "scan",
    "scan_parts",
    "table_format",
]

TABULAR_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}
BATCH_ROWS = 65_536
_HINT_TABULAR = "Fix the file, or commit with tabular=False (CLI: --no-profile) to store it without a profile."


def require_arrow() -> Any:
    """Import pyarrow, or explain which extra to install."""
    try:
        import pyarrow
    except ImportError as exc:  # pragma: no cover - the test environment has the extra
        raise ConfigError(
            "Reading tables needs pyarrow, which is not installed.", hint="pip install 'modelyard[data]'"
        ) from exc
    return pyarrow


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - the test environment has the extra
        raise ConfigError(
            "Profiling and testing tables needs DuckDB, which is not installed.",
            hint="pip install 'modelyard[data]'",
        ) from exc
    return duckdb


def table_format(paths: Sequence[str]) -> tuple[str, list[str]] | None:
    """The table format of a set of files and the files that make up the table (Parquet wins over CSV)."""
    by_format: dict[str, list[str]] = {}
    for path in paths:
        suffix = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
        kind = TABULAR_SUFFIXES.get(suffix)
        if kind is not None:
            by_format.setdefault(kind, []).append(path)
    for kind in ("parquet", "csv"):
        if kind in by_format:
            return kind, sorted(by_format[kind])
    return None


def normalise_type(arrow_type: object) -> str:
    """A stable type name: ``large_string`` and ``string_view`` read as ``string``, and so on."""
    text = str(arrow_type)
    for wide, plain in (("large_string", "string"), ("string_view", "string"), ("large_binary", "binary")):
        text = text.replace(wide, plain)
    return text


def quote(name: str) -> str:
    """A DuckDB identifier for a column name, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class TableFile:
    """One file of a table: its path in the version and how to open it."""

    path: str
    open: Callable[[], BinaryIO]


class BatchTap(Protocol):
    """Sees every record batch of a scan (value counts, custom checks)."""

    def observe(self, batch: pa.RecordBatch) -> None:
        """Look at one batch."""
        ...


class ScanPart(Protocol):
    """One consumer of a scan: the aggregate expressions and taps it needs, and what it makes of the results."""

    def expressions(self) -> list[str]:
        """DuckDB aggregate expressions over the table ``t``."""
        ...

    def taps(self) -> list[BatchTap]:
        """Observers of every batch."""
        ...

    def finish(self, rows: int, values: list[Any]) -> None:
        """Receive the row count and the values of this part's expressions, in order."""
        ...


def scan_parts(source: TableSource, parts: Sequence[ScanPart]) -> int:
    """Run several parts in one pass over the table; return the row count."""
    expressions: list[str] = []
    spans: list[tuple[int, int]] = []
    taps: list[BatchTap] = []
    for part in parts:
        mine = part.expressions()
        spans.append((len(expressions), len(expressions) + len(mine)))
        expressions.extend(mine)
        taps.extend(part.taps())
    rows, values = scan(source, expressions, taps)
    for part, (start, end) in zip(parts, spans, strict=True):
        part.finish(rows, values[start:end])
    return rows


class TableSource:
    """The files of one table, read as a single stream of record batches with a unified schema."""

    def __init__(self, files: Sequence[TableFile], format: str) -> None:
        if not files:
            raise InvalidInputError("A table needs at least one file.", hint="Commit Parquet or CSV files.")
        self.files = list(files)
        self.format = format
        self._schema: pa.Schema | None = None

    @property
    def paths(self) -> list[str]:
        """The table's files, in read order."""
        return [f.path for f in self.files]

    def schema(self) -> pa.Schema:
        """The unified schema of every file (read from Parquet footers, or the first block of each CSV)."""
        if self._schema is None:
            pa = require_arrow()
            schemas = []
            for item in self.files:
                with self._reading(item) as reader:
                    schemas.append(reader.schema)
            try:
                self._schema = pa.unify_schemas(schemas, promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InvalidInputError(
                    f"The table's files have incompatible columns: {exc}.",
                    hint="Give each column one type in every file, or commit them as separate datasets.",
                ) from exc
        return self._schema

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Every row, file by file, as record batches of the unified schema (or of ``columns``)."""
        pa = require_arrow()
        schema = self.schema()
        if columns is not None:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise InvalidInputError(
                    f"The table has no column {missing[0]!r}.",
                    hint=f"Its columns: {', '.join(schema.names[:30])}.",
                )
            schema = pa.schema([schema.field(c) for c in columns])
        for item in self.files:
            with self._reading(item, columns=list(schema.names)) as reader:
                try:
                    for batch in reader:
                        yield _conform(batch, schema)
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                    raise InvalidInputError(
                        f"Cannot read {item.path!r} as {self.format}: {exc}.", hint=_HINT_TABULAR
                    ) from exc

    def reader(self, columns: Sequence[str] | None = None) -> pa.RecordBatchReader:
        """The batches as a RecordBatchReader (what DuckDB and pyarrow consume)."""
        pa = require_arrow()
        schema = self.schema()
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
        return pa.RecordBatchReader.from_batches(schema, self.batches(columns))

    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole table in memory."""
        return self.reader(columns).read_all()

    @contextlib.contextmanager
    def _reading(self, item: TableFile, columns: Sequence[str] | None = None) -> Iterator[Any]:
        pa = require_arrow()
        handle = item.open()
        try:
            try:
                yield _open_batches(handle, self.format, item.path, columns)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError) as exc:
                raise InvalidInputError(
                    f"Cannot read {item.path!r} as {self.format}: {exc}.", hint=_HINT_TABULAR
                ) from exc
        finally:
            handle.close()


class _Batches:
    """Record batches of one file, with its schema known before the first batch."""

    def __init__(self, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
        self.schema = schema
        self._batches = batches

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._batches


def _open_batches(handle: BinaryIO, format: str, path: str, columns: Sequence[str] | None) -> _Batches:
    pa = require_arrow()
    if format == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(handle)
        schema = parquet.schema_arrow
        wanted = None if columns is None else [c for c in columns if c in schema.names]
        if wanted is not None:
            schema = pa.schema([schema.field(c) for c in wanted])
        return _Batches(schema, parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted))
    import pyarrow.csv as pcsv

    parse = pcsv.ParseOptions(delimiter="\t" if path.lower().endswith(".tsv") else ",")
    include = None if columns is None else list(columns)
    stream = pcsv.open_csv(
        handle,
        read_options=pcsv.ReadOptions(block_size=8 * 1024 * 1024),
        parse_options=parse,
        convert_options=pcsv.ConvertOptions(include_columns=include, include_missing_columns=include is not None),
    )
    return _Batches(stream.schema, iter(stream))


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with the unified schema's columns, in its order, cast, and nulls for missing ones."""
    if batch.schema.equals(schema):
        return batch
    pa = require_arrow()
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, type=field.type))
            continue
        column = batch.column(index)
        arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def scan(
    source: TableSource,
    expressions: Sequence[str],
    taps: Sequence[BatchTap] = (),
    *,
    columns: Sequence[str] | None = None,
) -> tuple[int, list[Any]]:
    """One pass over the table: the row count and each aggregate expression's value (DuckDB SQL over ``t``).

    Every batch also goes through each tap, in order, before DuckDB aggregates it.
    """
    duckdb = _duckdb()
    pa = require_arrow()
    reader = source.reader(columns)

    def tapped() -> Iterator[Any]:
        for batch in reader:
            for tap in taps:
                tap.observe(batch)
            yield batch

    stream = pa.RecordBatchReader.from_batches(reader.schema, tapped())
    connection = duckdb.connect(config={"threads": 2})
    try:
        connection.register("t", stream)
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        select_list = ", ".join(["count(*)", *expressions])
        try:
            row = connection.execute(f"SELECT {select_list} FROM t").fetchone()
        except duckdb.Error as exc:
            raise InvalidInputError(
                f"The table could not be scanned: {str(exc).splitlines()[0]}.",
                hint="Check the data-test expressions and the column names they use.",
            ) from exc
    finally:
        connection.close()
    return int(row[0]), list(row[1:])


def sample_rows(source: TableSource, condition: str, limit: int = 3) -> list[dict[str, Any]]:
    """Up to ``limit`` rows where the SQL ``condition`` holds (a second pass, used only to show failures)."""
    duckdb = _duckdb()
    connection = duckdb.connect(config={"threads": 1})
    try:
        connection.register("t", source.reader())
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        cursor = connection.execute(f"SELECT * FROM t WHERE {condition} LIMIT {int(limit)}")
        names = [d[0] for d in cursor.description]
        return [{k: _plain(v) for k, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    except duckdb.Error:
        return []
    finally:
        connection.close()


def _plain(value: object) -> object:
    """A JSON-friendly form of a value DuckDB returned."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
