"""Records of the data capability: datasets, versions, files, profiles, data-test reports, diffs, lineage.

In-process records are frozen dataclasses; what is stored as JSON in the metadata store (a version's table
profile, its data-test report) is a frozen pydantic model, parsed once when a version is read.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

from modelyard.errors import NotFoundError, close_matches
from modelyard.ids import DatasetId, DatasetVersionId, Digest, RunId

if TYPE_CHECKING:
    from modelyard.data.checks import DataTests

__all__ = [
    "CheckPolicy",
    "CheckReport",
    "CheckResult",
    "ColumnChange",
    "ColumnProfile",
    "DataDiff",
    "Dataset",
    "DatasetVersion",
    "FileChange",
    "FileEntry",
    "LineageEntry",
    "NewPack",
    "NewVersion",
    "SourceFile",
    "SourceState",
    "SyncReport",
    "TableProfile",
    "TagEvent",
    "VersionReader",
    "VersionStatus",
    "WorkStatus",
]


class VersionStatus(enum.StrEnum):
    """What a version's data tests said: ``passed``, ``failed`` (kept, by the ``mark`` policy) or ``unchecked``."""

    PASSED = "passed"
    FAILED = "failed"
    UNCHECKED = "unchecked"


class CheckPolicy(enum.StrEnum):
    """What a commit does when the dataset's data tests fail: ``refuse`` it, or keep it and ``mark`` it failed."""

    REFUSE = "refuse"
    MARK = "mark"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dataset:
    """A named, versioned dataset.

    ``latest`` is the newest version whose data tests did not fail (what ``name@latest`` resolves to);
    ``newest`` is the newest version of any status.
    """

    id: DatasetId
    name: str
    created_at: datetime
    description: str | None
    version_count: int
    latest: int | None
    newest: int | None
    check_policy: CheckPolicy
    has_checks: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """A file of a version: its path, size and content digest.

    ``digest`` is the blake3 of the file when it is one chunk (files up to ~256 KiB), else the digest of its
    list of chunks (``chunked``): either way equal content has an equal digest.
    """

    path: str
    size_bytes: int
    digest: Digest
    chunked: bool = False


# -- profiles (stored as JSON with each tabular version) -----------------------------------------------------


class ColumnProfile(BaseModel):
    """Schema and statistics of one column, computed in one streaming pass at commit.

    ``distinct`` is an estimate (HyperLogLog); ``quantiles`` maps a probability (``"0.5"``) to a value from
    a t-digest sketch; ``top`` lists the most frequent values of text and boolean columns with their counts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: str
    count: int
    null_count: int
    min: float | int | str | bool | None = None
    max: float | int | str | bool | None = None
    mean: float | None = None
    std: float | None = None
    distinct: int | None = None
    quantiles: dict[str, float] | None = None
    top: list[tuple[str, int]] | None = None

    @property
    def null_share(self) -> float:
        """Share of rows where the column is null (0 for an empty table)."""
        total = self.count + self.null_count
        return self.null_count / total if total else 0.0


class TableProfile(BaseModel):
    """The schema and per-column statistics of a version's table (its Parquet or CSV files, unioned)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int
    columns: list[ColumnProfile]
    files: list[str]
    format: str

    @property
    def schema_types(self) -> dict[str, str]:
        """Column name to type, in table order."""
        return {c.name: c.type for c in self.columns}

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``.

        Raises:
            NotFoundError: the table has no such column (close names are suggested).
        """
        for column in self.columns:
            if column.name == name:
                return column
        names = [c.name for c in self.columns]
        raise NotFoundError(
            f"The table has no column {name!r}.{close_matches(name, names)}",
            hint=f"Its columns: {', '.join(names[:30])}.",
        )


# -- data tests (stored with each checked version) -----------------------------------------------------------


class CheckResult(BaseModel):
    """The outcome of one expectation: passed or not, how many rows failed, a few failing examples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    passed: bool
    detail: str
    failing_rows: int | None = None
    examples: list[dict[str, Any]] = []


class CheckReport(BaseModel):
    """A data-test suite's results on one table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    rows: int
    results: list[CheckResult]

    @property
    def failures(self) -> list[CheckResult]:
        """The expectations that failed."""
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        """A readable report: one line per expectation, failing ones with counts and examples."""
        lines = [f"{'PASSED' if self.passed else 'FAILED'}: {len(self.results) - len(self.failures)} of "
                 f"{len(self.results)} expectations hold on {self.rows:,} rows."]  # fmt: skip
        for result in self.results:
            mark = "ok  " if result.passed else "FAIL"
            lines.append(f"  {mark} {result.name}: {result.detail}")
            for example in result.examples[:3]:
                shown = ", ".join(f"{k}={v!r}" for k, v in list(example.items())[:6])
                lines.append(f"         e.g. {shown}")
        return "\n".join(lines)


# -- versions ------------------------------------------------------------------------------------------------


class VersionReader(Protocol):
    """Reads a version's files; the data capability hands one to every ``DatasetVersion`` it returns."""

    def files(self, version: DatasetVersion) -> list[FileEntry]:
        """Every file of the version, by path."""
        ...

    def open(self, version: DatasetVersion, path: str) -> BinaryIO:
        """A seekable, verified reader over one file."""
        ...

    def checkout(self, version: DatasetVersion, dest: Path, *, overwrite: bool) -> Path:
        """Write the version's files into ``dest``."""
        ...

    def to_arrow(self, version: DatasetVersion, columns: Sequence[str] | None) -> Any:
        """The version's table as a pyarrow Table."""
        ...

    def runs(self, version: DatasetVersion) -> list[LineageEntry]:
        """Runs that read or produced the version."""
        ...

    def validate(self, version: DatasetVersion, tests: DataTests | None) -> CheckReport:
        """Run data tests on the version's table."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetVersion:
    """An immutable version of a dataset, with the means to read it.

    Example:
        >>> v = my.datasets.get("flights@latest")  # doctest: +SKIP
        >>> frame = v.to_pandas(columns=["dep_delay", "carrier"])  # doctest: +SKIP
    """

    id: DatasetVersionId
    dataset: str
    number: int
    digest: Digest
    created_at: datetime
    author: str | None
    message: str | None
    file_count: int
    size_bytes: int
    stored_bytes: int
    status: VersionStatus
    profile: TableProfile | None = None
    checks: CheckReport | None = None
    tags: tuple[str, ...] = ()
    reader: VersionReader | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``name@number``, the reference that always names this version."""
        return f"{self.dataset}@{self.number}"

    def _reading(self) -> VersionReader:
        if self.reader is None:
            raise NotFoundError(
                f"Version {self.ref} was built without a store to read from.",
                hint="Get it through a client: my.datasets.get(ref).",
            )
        return self.reader

    def files(self) -> list[FileEntry]:
        """Every file of the version, by path."""
        return self._reading().files(self)

    def open(self, path: str) -> BinaryIO:
        """Open one file for reading, streaming from the store (seekable; every chunk is verified)."""
        return self._reading().open(self, path)

    def checkout(self, dest: str | Path, *, overwrite: bool = False) -> Path:
        """Write the version's files into the folder ``dest`` (verified copies; see ``docs/data.md``)."""
        return self._reading().checkout(self, Path(dest), overwrite=overwrite)

    def to_arrow(self, columns: Sequence[str] | None = None) -> Any:
        """The version's table (its Parquet or CSV files) as a pyarrow Table."""
        return self._reading().to_arrow(self, columns)

    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        """The version's table as a pandas DataFrame."""
        return self.to_arrow(columns).to_pandas()

    def runs(self) -> list[LineageEntry]:
        """Runs that read (``input``) or produced (``output``) this version."""
        return self._reading().runs(self)

    def validate(self, tests: DataTests | None = None) -> CheckReport:
        """Run ``tests`` (default: the dataset's attached tests) on this version's table."""
        return self._reading().validate(self, tests)


@dataclass(frozen=True, slots=True, kw_only=True)
class TagEvent:
    """One move of a dataset tag: who moved it, when, from which version to which, and why."""

    dataset: str
    tag: str
    from_version: int | None
    to_version: int | None
    at: datetime
    actor: str | None
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineageEntry:
    """A run that read or produced a dataset version."""

    dataset: str
    version: int
    run_id: RunId
    role: str  # "input" | "output"
    at: datetime


# -- diffs, status, sync -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FileChange:
    """A file present in both versions with different content."""

    path: str
    before: FileEntry
    after: FileEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnChange:
    """A statistic of a column that differs between two versions."""

    column: str
    statistic: str
    before: object
    after: object


@dataclass(frozen=True, slots=True, kw_only=True)
class DataDiff:
    """What changed from version ``a`` to version ``b``."""

    a: str
    b: str
    added: list[FileEntry]
    removed: list[FileEntry]
    changed: list[FileChange]
    unchanged: int
    rows_before: int | None = None
    rows_after: int | None = None
    columns_added: dict[str, str] = field(default_factory=dict)
    columns_removed: dict[str, str] = field(default_factory=dict)
    types_changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    statistics: list[ColumnChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Whether the two versions hold the same files."""
        return not (self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkStatus:
    """How a working folder differs from the version it was last committed as (or checked out from)."""

    folder: Path
    dataset: str | None
    version: int | None
    added: list[str]
    removed: list[str]
    modified: list[str]
    unchanged: int
    hashed: int  # files whose content had to be read (the stat cache did not vouch for them)

    @property
    def is_clean(self) -> bool:
        """Whether the folder matches the version."""
        return not (self.added or self.removed or self.modified)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncReport:
    """What a push or pull transferred."""

    dataset: str
    versions: list[int]
    chunks_sent: int
    bytes_sent: int
    chunks_present: int
    packs_written: int


# -- what the data capability hands the store ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NewPack:
    """A pack object just written to the artifact store, and the chunks inside it: (digest, offset, length)."""

    digest: Digest
    size_bytes: int
    chunks: Sequence[tuple[bytes, int, int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewVersion:
    """What committing a version needs; the store assigns the number."""

    dataset_id: DatasetId
    digest: Digest
    author: str | None
    message: str | None
    file_count: int
    size_bytes: int
    stored_bytes: int
    status: VersionStatus
    profile: TableProfile | None
    checks: CheckReport | None
    created_ms: int


class SourceFile(NamedTuple):
    """What the stat cache remembers of one file of a working folder.

    A named tuple rather than a dataclass: a status of a 20,000-file folder builds one per file from a
    database row, and a tuple costs a tenth of a frozen dataclass to make.
    """

    path: str
    size_bytes: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    digest: bytes
    chunked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceState:
    """A working folder as last committed or checked out: which version, and the stat of each file."""

    host: str
    path: str
    dataset: str | None
    version: int | None
    scanned_ns: int
    files: dict[str, SourceFile] = field(default_factory=dict)

    def __iter__(self) -> Iterator[SourceFile]:
        return iter(self.files.values())
