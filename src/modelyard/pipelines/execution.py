"""Running one step: the same code whichever runner (in-process, local worker process, Ray task) runs it.

A ``Task`` carries everything a fresh process needs: the step (by reference), its input values, the stored
outputs and dataset versions it reads, the step run to log to, and the cache key. ``execute`` loads the
inputs, runs the function inside that step run with its output captured, stores the outputs (objects
first), records them with the run, then writes the cache entry (the pointer last), so a step that raises or
is killed leaves nothing registered.
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from modelyard import _context
from modelyard.errors import ModelyardError, PipelineError
from modelyard.ids import Digest, RunId
from modelyard.pipelines.models import CacheEntry, OutputRef
from modelyard.pipelines.outputs import Outputs, Serializer
from modelyard.pipelines.steps import Step
from modelyard.tracking.models import ArtifactEntry, RunStatus

if TYPE_CHECKING:
    from modelyard.client import Client

__all__ = ["ErrorInfo", "Task", "TaskResult", "execute"]

_MAX_LOG_BYTES = 16 * 1024 * 1024
_TRACEBACK_LINES = 25
MAX_ERROR_CHARS = 4000  # of a step's error, kept in its run's tags


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One attempt at one step, ready to run in any process."""

    node: str
    step: Step[Any, Any]
    run_id: RunId
    values: dict[str, object] = field(default_factory=dict)
    upstream: dict[str, OutputRef] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)
    cache_key: str | None = None  # None: do not write the cache
    replace_cache: bool = False  # forced re-run: the new outputs replace the entry
    serializers: tuple[Serializer, ...] = ()
    record_types: tuple[type, ...] = ()
    timeout_s: float | None = None  # enforced here only in-process; worker runners stop the process
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """An exception that ended a step, in a form that crosses processes."""

    code: str
    type_name: str
    message: str
    hint: str | None = None
    traceback: str = ""
    report: str | None = None  # a data-test or gate report as JSON, when the error carries one

    @classmethod
    def of(cls, exc: BaseException) -> ErrorInfo:
        """Describe ``exc``."""
        report = getattr(exc, "report", None)
        dump = getattr(report, "model_dump_json", None) or getattr(report, "to_json", None)
        text = None
        if callable(dump):
            produced = dump()
            text = produced if isinstance(produced, str) else orjson.dumps(produced).decode()
        return cls(
            code=exc.code if isinstance(exc, ModelyardError) else "error",
            type_name=f"{type(exc).__module__}.{type(exc).__qualname__}",
            message=exc.message if isinstance(exc, ModelyardError) else str(exc) or type(exc).__name__,
            hint=exc.hint if isinstance(exc, ModelyardError) else None,
            traceback="".join(traceback.format_exception(exc)),
            report=text,
        )

    @property
    def summary(self) -> str:
        """One line: the type and message."""
        return f"{self.type_name.rpartition('.')[2]}: {self.message}"

    def text(self) -> str:
        """What to show: the message, the hint, and (for errors of user code) the traceback's end."""
        parts = [self.summary]
        if self.hint:
            parts.append(self.hint)
        if self.code == "error" and self.traceback:
            parts.append("\n".join(self.traceback.rstrip().splitlines()[-_TRACEBACK_LINES:]))
        return "\n".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult:
    """What one attempt did."""

    node: str
    run_id: RunId
    attempt: int
    outputs: tuple[OutputRef, ...] = ()
    error: ErrorInfo | None = None
    duration_s: float = 0.0


class StepTimeoutError(TimeoutError):
    """A step ran past its ``timeout_s``."""


class _Tee(io.TextIOBase):
    def __init__(self, *targets: IO[str]) -> None:
        self._targets = targets

    def write(self, text: str) -> int:
        for target in self._targets:
            with contextlib.suppress(ValueError, OSError):
                target.write(text)
        return len(text)

    def flush(self) -> None:
        for target in self._targets:
            with contextlib.suppress(ValueError, OSError):
                target.flush()


@contextlib.contextmanager
def _captured(log: IO[str]) -> Iterator[None]:
    """Copy what the step prints and logs into ``log`` (it still reaches the terminal)."""
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(_Tee(sys.stdout, log)), contextlib.redirect_stderr(_Tee(sys.stderr, log)):
            yield
    finally:
        root.removeHandler(handler)


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise StepTimeoutError in this (main) thread after ``seconds``; elsewhere the runner enforces it."""
    if seconds is None or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise StepTimeoutError(f"the step ran longer than its timeout of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _split(task: Task, value: object) -> list[tuple[str, object]]:
    names = task.step.output_names
    if len(names) == 1:
        return [(names[0], value)]
    if not isinstance(value, tuple) or len(value) != len(names):
        got = f"a tuple of {len(value)}" if isinstance(value, tuple) else f"a {type(value).__name__}"
        raise PipelineError(
            f"Step {task.node!r} declares {len(names)} outputs ({', '.join(names)}) but returned {got}.",
            hint="Return one value per declared output, as a tuple.",
        )
    return list(zip(names, value, strict=True))


def _run(task: Task, client: Client, outputs: Outputs) -> tuple[OutputRef, ...]:
    kwargs = dict(task.values)
    for name, ref in task.upstream.items():
        wants_ref = task.step.hints.get(name) is OutputRef  # e.g. register: the stored model, not the object
        kwargs[name] = ref if wants_ref else outputs.load(ref)
    for name, dataset_ref in task.datasets.items():
        kwargs[name] = client.datasets.get(dataset_ref)  # read inside the step run: recorded as its input
    token = _context.current_client.set(client)  # my.log_metric, my.models, ... inside the step use this client
    try:
        with _time_limit(task.timeout_s):
            value = task.step.fn(**kwargs)
    finally:
        _context.current_client.reset(token)
    tables = [v for v in kwargs.values() if outputs.is_table(v)]  # where a model's input example comes from
    return tuple(
        outputs.save(name, item, run_id=task.run_id, step=task.node, tables=tables)
        for name, item in _split(task, value)
    )


def _record(task: Task, client: Client, refs: tuple[OutputRef, ...]) -> None:
    entries = [
        ArtifactEntry(path=f"outputs/{ref.name}", digest=Digest.parse(ref.digest), size_bytes=ref.size_bytes)
        for ref in refs
        if ref.kind not in ("model", "dataset")  # models are listed under their own name by log_model
    ]
    if entries:
        client.metadata.runs.add_artifacts(task.run_id, entries)
    client.set_tags({"pipeline.outputs": orjson.dumps([r.to_json() for r in refs]).decode()})


def _store_log(client: Client, log_file: Path) -> None:
    if log_file.stat().st_size == 0:
        return
    if log_file.stat().st_size > _MAX_LOG_BYTES:
        with log_file.open("rb+") as handle:
            handle.truncate(_MAX_LOG_BYTES)
    client.log_artifact(log_file, "step.log")


def execute(task: Task, client: Client) -> TaskResult:
    """Run one attempt of a step in its step run (see the module docstring); never raises for a step's error."""
    started = time.perf_counter()
    outputs = Outputs(client, task.serializers, task.record_types)
    error: ErrorInfo | None = None
    refs: tuple[OutputRef, ...] = ()
    client.start_run(run_id=task.run_id)
    status = RunStatus.FAILED
    with tempfile.TemporaryDirectory(prefix="modelyard-step-") as folder:
        log_file = Path(folder) / "step.log"
        try:
            with log_file.open("w", encoding="utf-8") as log, _captured(log):
                try:
                    refs = _run(task, client, outputs)
                except Exception as exc:
                    error = ErrorInfo.of(exc)
                    log.write(error.traceback)
            _store_log(client, log_file)
            if error is None:
                _record(task, client, refs)
                if task.cache_key is not None:
                    client.metadata.step_cache.add(
                        CacheEntry(
                            key=task.cache_key,
                            step=task.node,
                            outputs=refs,
                            run_id=task.run_id,
                            created_at=datetime.now(UTC),
                        ),
                        replace=task.replace_cache,
                    )
                status = RunStatus.FINISHED
            else:
                client.set_tags({"pipeline.error": error.text()[:MAX_ERROR_CHARS]})
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            raise
        finally:
            client.end_run(status, run_id=task.run_id)
    return TaskResult(
        node=task.node,
        run_id=task.run_id,
        attempt=task.attempt,
        outputs=refs,
        error=error,
        duration_s=time.perf_counter() - started,
    )
