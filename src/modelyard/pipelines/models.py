"""Records of the pipelines capability: step options, stored outputs, step-cache entries and run records."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from pydantic import TypeAdapter, ValidationError

from modelyard.errors import GateFailedError, InvalidInputError, NotFoundError, StepFailedError, close_matches
from modelyard.ids import RunId

__all__ = [
    "CacheEntry",
    "JsonRecord",
    "OutputRef",
    "PipelineRun",
    "StepOptions",
    "StepRun",
    "StepStatus",
    "gate_reports",
]


R = TypeVar("R", bound="JsonRecord")


class JsonRecord:
    """A frozen dataclass stored as plain JSON (a step output of kind ``record``): ``to_json``/``from_json``.

    ``record_name`` names the kind in the error a wrong dictionary gets.
    """

    __slots__ = ()
    record_name: ClassVar[str] = "record"

    def to_json(self) -> dict[str, object]:
        """Return the record as a plain JSON-able dictionary (``from_json`` reads it back, exactly)."""
        data: dict[str, object] = TypeAdapter(type(self)).dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls: type[R], data: Mapping[str, object]) -> R:
        """Read a record back from the dictionary ``to_json`` made.

        Raises:
            InvalidInputError: ``data`` is not such a dictionary.
        """
        try:
            return TypeAdapter(cls).validate_python(dict(data))
        except (ValidationError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"Not a stored {cls.record_name}: {exc}",
                hint=f"Pass the dictionary {cls.__name__}.to_json() returned (the JSON artifact, parsed).",
            ) from exc


class StepStatus(enum.StrEnum):
    """What happened to one step of a pipeline run."""

    RUNNING = "running"  # started and not ended (or its runner was killed: resume it)
    SUCCEEDED = "succeeded"  # ran and stored its outputs
    CACHED = "cached"  # outputs restored from the step cache (or from the run being resumed), not run
    FAILED = "failed"  # raised, timed out or its worker died, after every retry
    SKIPPED = "skipped"  # not run because a step it depends on failed
    KILLED = "killed"  # interrupted (Ctrl-C)

    @property
    def is_done(self) -> bool:
        """Whether the step has outputs."""
        return self in (StepStatus.SUCCEEDED, StepStatus.CACHED)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOptions:
    """How a step runs: caching, retries with exponential backoff, a time limit, named outputs."""

    cache: bool = True
    retries: int = 0
    retry_delay_s: float = 1.0
    timeout_s: float | None = None
    outputs: tuple[str, ...] | None = None  # names of a step that returns a tuple

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 100:
            raise InvalidInputError(f"retries={self.retries!r} is out of range.", hint="Pass 0 to 100.")
        if self.retry_delay_s < 0:
            raise InvalidInputError(f"retry_delay_s={self.retry_delay_s!r} is negative.", hint="Pass 0 or more.")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise InvalidInputError(f"timeout_s={self.timeout_s!r} is not positive.", hint="Pass seconds > 0.")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputRef:
    """One stored step output: how it was serialized and the digest of its bytes (or of its model package)."""

    name: str
    kind: str  # the serializer: "parquet", "json", "record", "numpy", "model", "dataset", or a registered one
    digest: str
    size_bytes: int
    type_name: str  # the Python type the step returned, "module:qualname"
    run_id: RunId | None = None  # the step run that produced it

    def to_json(self) -> dict[str, object]:
        """A JSON object (stored in the step cache and with the step's run)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "digest": self.digest,
            "size_bytes": self.size_bytes,
            "type": self.type_name,
            "run_id": self.run_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutputRef:
        """Read what ``to_json`` wrote."""
        run_id = data.get("run_id")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            digest=str(data["digest"]),
            size_bytes=int(data["size_bytes"]),
            type_name=str(data["type"]),
            run_id=None if run_id is None else RunId(str(run_id)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """A step-cache entry: the outputs a step produced for one cache key."""

    key: str
    step: str
    outputs: tuple[OutputRef, ...]
    run_id: RunId | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRun:
    """One step of a pipeline run: what happened, how long it took, whether the cache answered."""

    name: str
    status: StepStatus
    duration: timedelta = timedelta(0)
    cache_hit: bool = False
    cache_key: str | None = None
    run_id: RunId | None = None
    attempts: int = 0
    outputs: tuple[OutputRef, ...] = ()
    error: str | None = None

    def output(self, name: str | None = None) -> OutputRef:
        """The stored output called ``name`` (default: the only one)."""
        if name is None and len(self.outputs) == 1:
            return self.outputs[0]
        for ref in self.outputs:
            if ref.name == name:
                return ref
        names = [ref.name for ref in self.outputs]
        raise NotFoundError(
            f"Step {self.name!r} has no output {name!r} (outputs: {', '.join(names) or 'none'}).",
            hint=close_matches(str(name), names) or "Name one of its outputs.",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineRun:
    """A pipeline run: its tracked run id, status, and one record per step in the order they were planned.

    ``load(step, output)`` reads a step's stored output back (bound by the service that returned the record).
    """

    id: RunId
    pipeline: str
    status: StepStatus
    steps: tuple[StepRun, ...]
    params: dict[str, object] = field(default_factory=dict)
    duration: timedelta = timedelta(0)
    resumed_from: RunId | None = None
    gates_passed: bool | None = None  # None: the pipeline has no gate
    failure: str | None = None
    _loader: Callable[[OutputRef], object] | None = field(default=None, repr=False, compare=False)

    @property
    def succeeded(self) -> bool:
        """Every step has outputs, and no gate failed."""
        return self.status.is_done and self.gates_passed is not False

    @property
    def cache_hits(self) -> int:
        """How many steps the cache answered."""
        return sum(1 for s in self.steps if s.cache_hit)

    def step(self, name: str) -> StepRun:
        """The record of step ``name``."""
        for record in self.steps:
            if record.name == name:
                return record
        names = [s.name for s in self.steps]
        raise NotFoundError(
            f"Pipeline run {self.id} has no step {name!r}.",
            hint=close_matches(name, names) or f"Steps: {', '.join(names)}.",
        )

    def check(self) -> PipelineRun:
        """Return this run if it succeeded; else raise ``StepFailedError`` or ``GateFailedError`` (CI style).

        Example:
            >>> training.run().check()  # doctest: +SKIP
        """
        failed = [s for s in self.steps if s.status is StepStatus.FAILED]
        if failed or not self.status.is_done:
            raise StepFailedError(
                f"Pipeline run {self.id} did not finish: {self.failure or self.status.value}.",
                hint=f"Fix it and resume: modelyard pipeline resume {self.id}",
                run=self,
            )
        if self.gates_passed is False:
            failing = [(name, report) for name, report in self.gate_reports() if not getattr(report, "passed", True)]
            names = ", ".join(f"{name!r} ({_failed_checks(report)})" for name, report in failing)
            raise GateFailedError(
                f"Pipeline run {self.id}: gate {names} failed, so nothing was promoted past it.",
                hint="Improve the model or the data, or change the gate's thresholds in the pipeline's config.",
                run=self,
                report=failing[0][1] if failing else None,
            )
        return self

    def load(self, step: str, output: str | None = None) -> Any:
        """Read the stored output ``output`` of step ``step`` (deserialized, verified)."""
        return self._bound()(self.step(step).output(output))

    def gate_reports(self) -> list[tuple[str, Any]]:
        """(step, report) for every gate report (``GateReport``) a finished step produced."""
        return gate_reports(self.steps, self._bound())

    def _bound(self) -> Callable[[OutputRef], object]:
        if self._loader is None:
            raise InvalidInputError("This record is not bound to a store.", hint="Get it from client.pipelines.")
        return self._loader


def _failed_checks(report: object) -> str:
    checks = getattr(report, "checks", ())
    return ", ".join(str(getattr(c, "name", c)) for c in checks if not getattr(c, "passed", True)) or "failed"


def gate_reports(steps: Sequence[StepRun], load: Callable[[OutputRef], object]) -> list[tuple[str, Any]]:
    """(step, report) for every gate report the finished ones of ``steps`` produced, loaded with ``load``."""
    return [
        (step.name, load(ref))
        for step in steps
        if step.status.is_done
        for ref in step.outputs
        if ref.type_name.endswith(":GateReport")
    ]
