"""The Ray runner: the same pipeline, its steps as Ray tasks on a local Ray instance or a cluster.

``runner="ray"`` starts a local Ray instance (bounded by ``workers`` or the CPU count) unless this process is
already connected to one; ``runner="ray://host:10001"`` connects to a cluster. Each task connects to the
same modelyard stores with the caller's settings, so a cluster's workers need the same metadata and
artifact URIs reachable (PostgreSQL + S3 for a real cluster; the embedded SQLite folder only works when
the workers share this machine's filesystem). Steps are imported by reference in the workers, as with the
local runner: a cluster needs the project's code (``runtime_env`` working_dir or an image with it).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelyard.errors import ConfigError
from modelyard.pipelines.execution import Task, TaskResult
from modelyard.pipelines.runners import failed, run_task

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.config import Settings

__all__ = ["RayRunner"]


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "The Ray runner needs Ray, which is not installed.", hint="pip install 'modelyard[ray]'."
        ) from exc
    return ray


def _ray_step(task: Task, factory: Callable[..., Client], settings: Settings) -> TaskResult:
    """Body of the Ray task: connect, run the step, close."""
    client = factory(settings=settings)
    try:
        return run_task(task, client)
    finally:
        client.close()


_CONNECT_ATTEMPTS = 3


def _connect(ray: Any, address: str, options: dict[str, Any]) -> None:
    """``ray.init``; a cluster's client server that fails to start a session is tried again, then reported."""
    for attempt in range(1, _CONNECT_ATTEMPTS + 1):
        try:
            ray.init(address=address, **options)
            return
        except ConnectionError as exc:  # Ray Client: the server could not start this client's session
            ray.shutdown()
            if attempt == _CONNECT_ATTEMPTS or not address.startswith("ray://"):
                raise ConfigError(
                    f"Could not connect to Ray at {address!r}: {exc}",
                    hint="Check that the cluster's head node is up and its client server port is reachable.",
                ) from exc
            time.sleep(2.0 * attempt)


class RayRunner:
    """Runs each step as a Ray task; stops a task that runs past its timeout (``ray.cancel(force=True)``).

    Args:
        client: the client whose settings the tasks connect with.
        address: a ``ray://`` address, or None for a local instance (or the one this process is connected to).
        workers: the most steps at once (default: the cluster's CPU count).
    """

    name = "ray"

    def __init__(
        self, client: Client, *, address: str | None = None, workers: int | None = None, connected: str | None = None
    ) -> None:
        ray = _ray()
        self._ray = ray
        wanted = address or "local"
        if ray.is_initialized():  # ray.init() is once per process: the instance it reached is the one used
            current = connected or "existing"
            if current != wanted and (address is not None or current != "existing"):
                raise ConfigError(
                    f"This process is already connected to Ray ({current}), so it cannot run steps on {wanted!r}.",
                    hint="Use one Ray address per process, or call ray.shutdown() before switching.",
                )
            self.address = current
        else:
            self.address = wanted
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True, "configure_logging": False}
            if address is None:
                paths = [p for p in sys.path if p and os.path.isdir(p)]  # workers import the project as we do
                options |= {"num_cpus": workers, "runtime_env": {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}}
            _connect(ray, address or "local", options)  # "local": a new instance, never a cluster found running
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, min(workers or cpus, cpus))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_step)
        self._factory = type(client)
        self._settings = client.settings
        self._pending: dict[Any, tuple[Task, float]] = {}

    def submit(self, task: Task) -> None:
        """Start ``task`` as a Ray task."""
        ref = self._remote.remote(task, self._factory, self._settings)
        self._pending[ref] = (task, time.monotonic())

    def wait(self, timeout_s: float | None) -> list[TaskResult]:
        """Collect finished tasks; cancel ones past their timeout."""
        if not self._pending:
            return []
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            limit = self._limit(deadline)
            ready, _ = self._ray.wait(list(self._pending), num_returns=1, timeout=limit)
            results = [self._result(ref) for ref in ready]
            results += self._expire()
            if results or (deadline is not None and time.monotonic() >= deadline):
                return results

    def _limit(self, deadline: float | None) -> float | None:
        now = time.monotonic()
        limits = [started + task.timeout_s - now for task, started in self._pending.values() if task.timeout_s]
        if deadline is not None:
            limits.append(deadline - now)
        return max(0.0, min(limits)) if limits else None

    def _result(self, ref: Any) -> TaskResult:
        task, started = self._pending.pop(ref)
        try:
            result: TaskResult = self._ray.get(ref)
        except Exception as exc:
            return failed(task, f"its Ray task failed: {type(exc).__name__}: {exc}", started=started)
        return result

    def _expire(self) -> list[TaskResult]:
        now = time.monotonic()
        results: list[TaskResult] = []
        for ref, (task, started) in list(self._pending.items()):
            if task.timeout_s is not None and now - started >= task.timeout_s:
                del self._pending[ref]
                self._ray.cancel(ref, force=True)
                results.append(failed(task, f"it ran longer than its timeout of {task.timeout_s:g} s", started=started))
        return results

    def cancel(self) -> list[Task]:
        """Cancel every running task."""
        tasks = [task for task, _ in self._pending.values()]
        for ref in self._pending:
            self._ray.cancel(ref, force=True)
        self._pending.clear()
        return tasks

    def close(self) -> None:
        """Cancel what still runs; the Ray instance stays up for the next run in this process."""
        self.cancel()
