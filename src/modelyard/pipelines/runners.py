"""Runners: where steps run.

``inline`` runs them in this process, one at a time (for debugging); ``local`` in worker processes,
independent steps in parallel, bounded by the CPU count. The Ray runner lives in ``integrations.ray``.

A runner only executes tasks; the pipeline run decides what to run, checks the cache, retries and records.
The local runner owns its worker processes, so it can stop one that runs past its step's timeout (or on
Ctrl-C) and notice one that died (``kill -9``, out of memory) without losing the others' work.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Protocol

from modelyard.config import Settings
from modelyard.errors import ConfigError
from modelyard.pipelines.execution import ErrorInfo, Task, TaskResult, execute

if TYPE_CHECKING:
    from modelyard.client import Client

__all__ = ["InlineRunner", "LocalRunner", "Runner", "failed", "run_task"]

ClientFactory = Callable[..., "Client"]


class Runner(Protocol):
    """Executes tasks; ``wait`` returns the results of tasks that finished (or died) since the last call."""

    name: str
    slots: int  # how many tasks it runs at once

    def submit(self, task: Task) -> None:
        """Start ``task`` (the caller never submits more than ``slots`` at once)."""
        ...

    def wait(self, timeout_s: float | None) -> list[TaskResult]:
        """Block until at least one task finishes or ``timeout_s`` passes; enforce task timeouts."""
        ...

    def cancel(self) -> list[Task]:
        """Stop every running task (Ctrl-C); return them."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


def failed(task: Task, message: str, *, started: float | None = None) -> TaskResult:
    """A result for a task that did not finish on its own (timed out, worker died)."""
    info = ErrorInfo(code="step-failed", type_name="modelyard.errors.StepFailedError", message=message)
    elapsed = 0.0 if started is None else time.monotonic() - started
    return TaskResult(node=task.node, run_id=task.run_id, attempt=task.attempt, error=info, duration_s=elapsed)


def run_task(task: Task, client: Client) -> TaskResult:
    """``execute`` a task, turning a failure of the machinery itself (store down, bad output) into a result."""
    try:
        return execute(task, client)
    except Exception as exc:
        return TaskResult(node=task.node, run_id=task.run_id, attempt=task.attempt, error=ErrorInfo.of(exc))


class InlineRunner:
    """Runs each task in this process when it is submitted: breakpoints and prints work as usual."""

    name = "inline"
    slots = 1

    def __init__(self, client: Client) -> None:
        self._client = client
        self._done: list[TaskResult] = []

    def submit(self, task: Task) -> None:
        """Run ``task`` now."""
        self._done.append(run_task(task, self._client))

    def wait(self, timeout_s: float | None) -> list[TaskResult]:
        """Results of the tasks run since the last call."""
        done, self._done = self._done, []
        return done

    def cancel(self) -> list[Task]:
        """Nothing runs between calls."""
        return []

    def close(self) -> None:
        """Nothing to release."""


def _worker_main(conn: multiprocessing.connection.Connection, factory: ClientFactory, settings: Settings) -> None:
    """A worker process: run tasks until the parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops workers itself
    client = factory(settings=settings)
    while True:
        try:
            task = conn.recv()  # unpickling imports the step's module: not part of its time limit
        except (EOFError, OSError):
            break
        conn.send(_STARTED)
        conn.send(run_task(task, client))
    client.close()


_STARTED = "started"  # what a worker sends when it begins a task: the time limit counts from here
_START_GRACE_S = 120.0  # a worker that never starts its task (stuck importing) is stopped after this


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: multiprocessing.connection.Connection
    task: Task | None = None
    started: float = 0.0  # when the task was sent, then when the worker began it
    running: bool = False

    def deadline(self) -> float | None:
        """When the task's time limit runs out (a grace period while the worker has not begun it)."""
        if self.task is None or self.task.timeout_s is None:
            return None
        return self.started + self.task.timeout_s + (0.0 if self.running else _START_GRACE_S)


class LocalRunner:
    """Runs tasks in worker processes (spawned, so nothing of the parent's state leaks into a step).

    Args:
        client: the client whose settings the workers connect with.
        workers: the most tasks at once (default: the CPU count).
    """

    name = "local"

    def __init__(self, client: Client, *, workers: int | None = None) -> None:
        count = os.cpu_count() or 1 if workers is None else workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"workers={workers!r} is not a positive number.", hint="Pass workers=2, or leave it out.")
        self.slots = count
        self._factory: ClientFactory = type(client)
        self._settings = client.settings
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child, self._factory, self._settings), daemon=True, name="modelyard-step"
        )
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

    def submit(self, task: Task) -> None:
        """Send ``task`` to an idle worker (starting one when none is idle)."""
        worker = self._idle.pop() if self._idle else self._start()
        worker.task, worker.started, worker.running = task, time.monotonic(), False
        worker.conn.send(task)
        self._busy.append(worker)

    def wait(self, timeout_s: float | None) -> list[TaskResult]:
        """Collect finished tasks; stop workers whose task ran past its timeout; report dead workers."""
        if not self._busy:
            return []
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        results: list[TaskResult] = []
        while not results:
            limit = self._next_limit(deadline)
            ready = multiprocessing.connection.wait(
                [w.conn for w in self._busy] + [w.process.sentinel for w in self._busy], timeout=limit
            )
            results.extend(self._collect(ready))
            results.extend(self._expire())
            if deadline is not None and time.monotonic() >= deadline:
                break
        return results

    def _next_limit(self, deadline: float | None) -> float | None:
        now = time.monotonic()
        limits = [d - now for d in (w.deadline() for w in self._busy) if d is not None]
        if deadline is not None:
            limits.append(deadline - now)
        return max(0.0, min(limits)) if limits else None

    def _collect(self, ready: list[Any]) -> list[TaskResult]:
        results: list[TaskResult] = []
        for worker in list(self._busy):
            task = worker.task
            if task is None:  # never: a busy worker holds its task
                continue
            if worker.conn in ready:
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    results.append(self._lost(worker, task))
                    continue
                if message == _STARTED:
                    worker.started, worker.running = time.monotonic(), True
                    continue
                results.append(message)
                self._busy.remove(worker)
                worker.task = None
                self._idle.append(worker)
            elif worker.process.sentinel in ready:
                results.append(self._lost(worker, task))
        return results

    def _lost(self, worker: _Worker, task: Task) -> TaskResult:
        self._busy.remove(worker)
        worker.conn.close()
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return failed(task, f"the worker process running it died ({how})", started=worker.started)

    def _expire(self) -> list[TaskResult]:
        results: list[TaskResult] = []
        now = time.monotonic()
        for worker in list(self._busy):
            deadline, task = worker.deadline(), worker.task
            if task is not None and deadline is not None and now >= deadline:
                self._busy.remove(worker)
                _stop(worker.process)
                worker.conn.close()
                why = f"it ran longer than its timeout of {task.timeout_s:g} s"
                if not worker.running:
                    why = f"its worker did not start it within {_START_GRACE_S:g} s (stuck importing?)"
                results.append(failed(task, why, started=worker.started))
        return results

    def cancel(self) -> list[Task]:
        """Stop every busy worker; return their tasks."""
        tasks = [w.task for w in self._busy if w.task is not None]
        for worker in self._busy:
            _stop(worker.process)
        self._busy.clear()
        return tasks

    def close(self) -> None:
        """Stop all workers (idle ones exit when their pipe closes)."""
        self.cancel()
        for worker in self._idle:
            worker.conn.close()
        for worker in self._idle:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                _stop(worker.process)
        self._idle.clear()


def _stop(process: BaseProcess) -> None:
    process.terminate()
    process.join(timeout=3)
    if process.is_alive():
        process.kill()
        process.join(timeout=3)
