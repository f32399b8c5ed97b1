"""Records of the tracking capability: experiments, runs, params, metrics, tags, artifacts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelyard.ids import Digest, ExperimentId, RunId

__all__ = [
    "ATTRIBUTES",
    "ArtifactEntry",
    "BoolOp",
    "Comparison",
    "Condition",
    "Experiment",
    "Field",
    "LogBatch",
    "MetricPoint",
    "MetricSummary",
    "NewRun",
    "OrderKey",
    "Run",
    "RunContext",
    "RunPage",
    "RunQuery",
    "RunStatus",
]


class RunStatus(enum.StrEnum):
    """The lifecycle of a run: RUNNING until ended as FINISHED, FAILED or KILLED."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended."""
        return self is not RunStatus.RUNNING


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    """A named group of runs."""

    id: ExperimentId
    name: str
    created_at: datetime
    run_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """What was true of the process that started a run: code, command, environment, host."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    git_branch: str | None = None
    command: str | None = None
    python_version: str | None = None
    environment_digest: str | None = None
    packages: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    user: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in the metadata store."""
        return {
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "git_branch": self.git_branch,
            "command": self.command,
            "python_version": self.python_version,
            "environment_digest": self.environment_digest,
            "packages": dict(self.packages),
            "host": self.host,
            "user": self.user,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunContext:
        """Build from the stored JSON form (unknown keys are ignored)."""
        data = data or {}
        return cls(
            git_commit=data.get("git_commit"),
            git_dirty=data.get("git_dirty"),
            git_branch=data.get("git_branch"),
            command=data.get("command"),
            python_version=data.get("python_version"),
            environment_digest=data.get("environment_digest"),
            packages=dict(data.get("packages") or {}),
            host=data.get("host"),
            user=data.get("user"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricPoint:
    """One logged value of a metric."""

    key: str
    value: float
    step: int
    timestamp: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSummary:
    """The last, minimum and maximum value of one metric of a run."""

    key: str
    last: float
    last_step: int
    min: float
    max: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactEntry:
    """A file logged to a run: its relative path inside the run, digest and size."""

    path: str
    digest: Digest
    size_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """A run with its params, tags and metric summaries."""

    id: RunId
    experiment_id: ExperimentId
    experiment_name: str
    name: str
    status: RunStatus
    parent_id: RunId | None
    start_time: datetime
    end_time: datetime | None
    context: RunContext
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        """Seconds between start and end, or None while running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def metric(self, key: str) -> float | None:
        """Return the last value of metric ``key``, or None when it was never logged."""
        summary = self.metrics.get(key)
        return None if summary is None else summary.last


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPage:
    """One page of search results and the token of the next page (None on the last page)."""

    runs: list[Run]
    next_page_token: str | None = None

    def __iter__(self) -> Any:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, index: int) -> Run:
        return self.runs[index]

    def to_pandas(self) -> Any:
        """Return the page as a pandas DataFrame: one row per run, columns ``params.*``, ``metrics.*``, ``tags.*``.

        Requires the ``pandas`` extra (``pip install 'modelyard[pandas]'``).
        """
        from modelyard.tracking.frames import runs_to_frame

        return runs_to_frame(self.runs)


# -- the run query: what search_runs parses a filter into, and what a store compiles ----------------------------

FieldKind = str  # "metric" | "param" | "tag" | "attribute"

ATTRIBUTES = ("id", "name", "status", "start_time", "end_time", "parent_id", "experiment_id")
"""Attributes a filter or order-by may name as ``attributes.<name>``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """A value of a run a filter compares: ``metrics.auc``, ``min(metrics.loss)``, ``params.lr``, ``tags.team``."""

    kind: FieldKind
    key: str
    aggregate: str = "last"  # metrics only: "last" | "min" | "max"

    def __str__(self) -> str:
        plural = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}[self.kind]
        text = f"{plural}.{self.key}"
        return text if self.aggregate == "last" else f"{self.aggregate}({text})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """``field op value``; ``op`` is one of = != < <= > >= like ilike "not like" "not ilike" in "not in"."""

    field: Field
    op: str
    value: str | float | tuple[str | float, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BoolOp:
    """``and`` / ``or`` over two or more conditions."""

    op: str  # "and" | "or"
    items: tuple[Condition, ...]


Condition = Comparison | BoolOp


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderKey:
    """One order-by term; runs missing the value sort last either way."""

    field: Field
    descending: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RunQuery:
    """A parsed search: experiments, condition, order, page size and offset."""

    experiment_ids: tuple[ExperimentId, ...]
    condition: Condition | None = None
    order_by: tuple[OrderKey, ...] = ()
    max_results: int = 1000
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LogBatch:
    """Everything buffered for one run since the last flush, written in this order.

    Its creation (if not yet written), its params, tags and points, then its end.
    """

    run_id: RunId
    new: NewRun | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricPoint] = field(default_factory=list)
    end_status: RunStatus | None = None
    end_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun:
    """What creating a run needs."""

    id: RunId
    experiment_id: ExperimentId
    experiment_name: str
    name: str
    parent_id: RunId | None
    start_time: datetime
    context: RunContext
    tags: dict[str, str] = field(default_factory=dict)

    def as_run(self) -> Run:
        """The record of the run this creates, as it is once written."""
        return Run(
            id=self.id,
            experiment_id=self.experiment_id,
            experiment_name=self.experiment_name,
            name=self.name,
            status=RunStatus.RUNNING,
            parent_id=self.parent_id,
            start_time=datetime.fromtimestamp(int(self.start_time.timestamp() * 1000) / 1000, UTC),
            end_time=None,
            context=self.context,
            tags=dict(self.tags),
        )
