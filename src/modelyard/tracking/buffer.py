"""Buffered logging: values are appended in memory and written in batches by a background flusher.

A logging call costs a lock and an append. The flusher wakes every ``interval_s`` (or sooner when
``max_points`` are waiting) and writes everything pending in one transaction. ``flush()`` writes at once and
raises the last write error; ending a run and leaving the interpreter flush. A failed write keeps its values
pending, so a database that comes back loses nothing; a crashed process loses at most one interval of values
and never marks a run as finished.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from modelyard.errors import ConflictError, ModelyardError, NotFoundError
from modelyard.ids import RunId
from modelyard.stores.protocols import RunRepository
from modelyard.tracking.models import LogBatch, MetricPoint, NewRun, RunStatus

__all__ = ["LogBuffer"]

log = logging.getLogger("modelyard.tracking")


@dataclass
class _Pending:
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricPoint] = field(default_factory=list)
    new: NewRun | None = None

    def merge_into(self, older: _Pending) -> None:
        """Put ``older`` (values that failed to write) before self."""
        self.new = self.new or older.new
        self.params = {**older.params, **self.params}
        self.tags = {**older.tags, **self.tags}
        self.metrics = older.metrics + self.metrics


class LogBuffer:
    """Pending params, tags and metric points per run, written by a daemon thread."""

    def __init__(self, runs: RunRepository, *, interval_s: float, max_points: int) -> None:
        self._runs = runs
        self._interval_s = interval_s
        self._max_points = max_points
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict[RunId, _Pending] = {}
        self._points = 0
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _entry(self, run_id: RunId) -> _Pending:
        entry = self._pending.get(run_id)
        if entry is None:
            entry = self._pending[run_id] = _Pending()
            self._start()
        return entry

    def add_run(self, new: NewRun) -> None:
        """Queue the creation of a run; it is written with the run's first batch of values."""
        with self._lock:
            self._entry(new.id).new = new

    def add_params(self, run_id: RunId, values: dict[str, str]) -> None:
        """Queue params of a run."""
        with self._lock:
            self._entry(run_id).params.update(values)

    def add_tags(self, run_id: RunId, values: dict[str, str]) -> None:
        """Queue tags of a run (the last value of a key wins)."""
        with self._lock:
            self._entry(run_id).tags.update(values)

    def add_metrics(self, run_id: RunId, points: list[MetricPoint]) -> None:
        """Queue metric points of a run."""
        with self._lock:
            self._entry(run_id).metrics.extend(points)
            self._points += len(points)
            if self._points >= self._max_points:
                self._wake.set()

    def flush(self) -> None:
        """Write everything pending now, and raise the error of any write that failed since the last flush.

        Raises:
            ConflictError, NotFoundError: the store refused a run's values (a param changed, the run ended or
                does not exist); those values are dropped because retrying cannot help. Other runs' values
                are written.
            StoreError: the store failed; the values stay pending for the next flush.
        """
        self._write_pending()
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def _write_pending(self) -> None:
        with self._flush_lock:
            with self._lock:
                pending, self._pending, self._points = self._pending, {}, 0
            if not pending:
                return
            batches = [
                LogBatch(run_id=run_id, new=e.new, params=e.params, tags=e.tags, metrics=e.metrics)
                for run_id, e in pending.items()
            ]
            try:
                self._runs.write(batches)
            except (ConflictError, NotFoundError):
                if len(batches) == 1:
                    raise
                self._write_one_by_one(batches)
            except BaseException:
                self._restore(pending)
                raise

    def write_final(self, run_id: RunId, status: RunStatus, end_ms: int) -> None:
        """Write what a run has pending and its end in one transaction (one commit, one fsync)."""
        with self._flush_lock:
            with self._lock:
                entry = self._pending.pop(run_id, None) or _Pending()
                self._points = max(0, self._points - len(entry.metrics))
            batch = LogBatch(
                run_id=run_id,
                new=entry.new,
                params=entry.params,
                tags=entry.tags,
                metrics=entry.metrics,
                end_status=status,
                end_ms=end_ms,
            )
            try:
                self._runs.write([batch])
            except (ConflictError, NotFoundError):
                raise
            except BaseException:
                self._restore({run_id: entry})
                raise

    def _write_one_by_one(self, batches: list[LogBatch]) -> None:
        first: ModelyardError | None = None
        for batch in batches:
            try:
                self._runs.write([batch])
            except (ConflictError, NotFoundError) as exc:
                first = first or exc
        if first is not None:
            raise first

    def _restore(self, pending: dict[RunId, _Pending]) -> None:
        with self._lock:
            for run_id, older in pending.items():
                entry = self._pending.setdefault(run_id, _Pending())
                entry.merge_into(older)
                self._points += len(older.metrics)

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._loop, name="modelyard-flusher", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        delay = self._interval_s
        while not self._closed:
            self._wake.wait(delay)
            self._wake.clear()
            if self._closed:
                return
            try:
                self._write_pending()
                delay = self._interval_s
            except Exception as exc:  # kept for the next explicit flush(), which raises it again
                with self._lock:
                    self._error = exc
                delay = min(30.0, delay * 2)
                log.warning("modelyard could not write logged values (will retry): %s", exc)

    @property
    def last_error(self) -> BaseException | None:
        """The error of the last failed background write, if the buffer has not written since."""
        return self._error

    def close(self) -> None:
        """Stop the flusher thread and write what is pending."""
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.flush()
