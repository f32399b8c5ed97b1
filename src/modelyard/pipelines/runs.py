"""Pipeline runs: plan, consult the cache, run on a runner, retry, record; resume and read them back.

A pipeline run is a tracked run (experiment = the pipeline's name) with one child run per step attempt.
The coordinator (this module, in the calling process) walks the graph: a node whose inputs are ready is
planned (inputs resolved, cache key computed); a cache hit (or, on resume, the resumed run's result for the
same key) is recorded as a finished child run without running; a miss becomes a task for the runner. A
failed attempt is retried after a backoff; a node that fails for good skips what depends on it, while
independent branches go on, so a resume has as much to reuse as possible.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    PipelineError,
    StepFailedError,
    close_matches,
)
from modelyard.ids import Digest, RunId
from modelyard.pipelines import records, sweeps
from modelyard.pipelines.definitions import Pipeline
from modelyard.pipelines.execution import MAX_ERROR_CHARS, Task, TaskResult
from modelyard.pipelines.fingerprints import Fingerprinter
from modelyard.pipelines.graphs import Graph
from modelyard.pipelines.models import OutputRef, PipelineRun, StepRun, StepStatus
from modelyard.pipelines.outputs import Outputs
from modelyard.pipelines.planning import Planned, Planner
from modelyard.pipelines.runners import InlineRunner, LocalRunner, Runner
from modelyard.pipelines.sweeps import SweepResult
from modelyard.tracking.models import RunStatus

if TYPE_CHECKING:
    from modelyard.client import Client

__all__ = ["Pipelines"]


@dataclass(slots=True, kw_only=True)
class _State:
    """The coordinator's view of one run in progress."""

    graph: Graph
    parent: RunId
    started: float
    params: dict[str, object]
    results: dict[str, StepRun] = field(default_factory=dict)
    outputs: dict[str, tuple[OutputRef, ...]] = field(default_factory=dict)
    running: dict[str, tuple[Task, Planned]] = field(default_factory=dict)
    retry_at: dict[str, tuple[float, Task, Planned]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    first_started: dict[str, float] = field(default_factory=dict)

    def ready(self) -> list[str]:
        """Nodes whose inputs are all ready and that are not started, in execution order."""
        busy = set(self.results) | set(self.running) | set(self.retry_at)
        return [
            key
            for key in self.graph.order
            if key not in busy
            and all(self.results.get(u, _PENDING).status.is_done for u in self.graph.nodes[key].upstream)
        ]


_PENDING = StepRun(name="", status=StepStatus.SKIPPED)
_MAX_POOLS = 8


class Pipelines:
    """The pipelines capability behind ``client.pipelines``: run, resume, read runs and outputs."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._fingerprints = Fingerprinter()
        self._pools: dict[tuple[int | None, int], LocalRunner] = {}  # worker processes kept between runs
        self._ray_address: str | None = None  # the Ray instance this client's runs connected to

    def close(self) -> None:
        """Stop the worker processes kept for the next run (the client does this when it closes)."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    # -- runners ---------------------------------------------------------------------------------------------
    def runner(self, runner: str | Runner | None, *, workers: int | None = None) -> Runner:
        """The runner named ``inline``, ``local`` (default), ``ray`` or ``ray://host:port``."""
        if runner is not None and not isinstance(runner, str):
            return runner
        name = runner or "local"
        if name == "inline":
            return InlineRunner(self._client)
        if name == "local":
            key = (workers, threading.get_ident())  # one pool per thread: a sweep's trials run side by side
            pool = self._pools.get(key)
            if pool is None:
                while len(self._pools) >= _MAX_POOLS:
                    self._pools.pop(next(iter(self._pools))).close()
                pool = self._pools[key] = LocalRunner(self._client, workers=workers)
            return pool
        if name == "ray" or name.startswith("ray://"):
            from importlib import import_module

            ray_runner: Runner = import_module("modelyard.integrations.ray").RayRunner(
                self._client, address=None if name == "ray" else name, workers=workers, connected=self._ray_address
            )
            self._ray_address = getattr(ray_runner, "address", None)
            return ray_runner
        raise ConfigError(f"Unknown runner {name!r}.", hint="Use inline, local, ray or ray://HOST:PORT.")

    # -- running ---------------------------------------------------------------------------------------------
    def run(
        self,
        pipeline: Pipeline,
        *,
        runner: str | Runner | None = None,
        config: str | Path | Mapping[str, object] | None = None,
        overrides: Sequence[str] = (),
        cache: bool = True,
        force: Sequence[str] = (),
        workers: int | None = None,
        experiment: str | None = None,
        params: Mapping[str, object] | None = None,
        resume: PipelineRun | None = None,
        parent: str | None = None,
    ) -> PipelineRun:
        """Run ``pipeline``; return its record, or raise StepFailedError (with ``.run``) when a step failed.

        Args:
            pipeline: what to run.
            runner: ``"local"`` (default: worker processes), ``"inline"`` (this process), ``"ray"``, a
                ``ray://`` address, or a Runner; the config's ``[run] runner`` applies when not given.
            config: a config file or mapping (default: the pipeline's own config file).
            overrides: ``--set`` style overrides, e.g. ``["train.max_depth=8"]``.
            cache: False runs every step (and stores nothing in the cache).
            force: steps to run again even when the cache has them (their new outputs replace the entry).
            workers: the most steps at once (local and Ray runners; default: the CPU count).
            experiment: where the run is tracked (default: the pipeline's name).
            params: the pipeline's parameters (override the config).
            resume: a failed run whose finished steps are reused when their cache keys still match.
            parent: the run this pipeline run belongs to (a sweep's run).
        """
        resolved = pipeline.resolve(config=config, overrides=overrides, params=params)
        graph = pipeline.graph(resolved)
        _check_force(graph, force)
        settings = resolved.run
        use_cache = cache and bool(settings.get("cache", True))
        chosen = self.runner(runner or _text(settings.get("runner")), workers=workers or _int(settings.get("workers")))
        outputs = Outputs(self._client, pipeline.serializers, pipeline.record_types)
        planner = Planner(self._client, outputs, self._fingerprints)
        flat = records.flat_params(graph)  # every step's parameter values, as step.name
        parent_run = self._client.create_run(
            experiment or _text(settings.get("experiment")) or pipeline.name,
            name=pipeline.name,
            tags=records.run_tags(pipeline, chosen.name, resume),
            parent=parent,
            params={k: v for k, v in flat.items() if records.is_loggable(v)},
        )
        state = _State(graph=graph, parent=parent_run.id, started=time.monotonic(), params=flat)
        planner.parent = parent_run.id
        reuse = {} if resume is None else {s.cache_key: s for s in resume.steps if s.status.is_done and s.cache_key}
        context = _Context(
            pipeline, planner, chosen, state, use_cache, frozenset(force), reuse, parent_run.experiment_name
        )
        try:
            self._client.flush()  # the run is written before its files are recorded
            spec = records.spec_artifact(self._client, pipeline, resolved, graph, chosen.name, force, use_cache, flat)
            self._client.metadata.runs.add_artifacts(parent_run.id, [spec])
            self._loop(context)
        except BaseException as exc:
            self._interrupt(context, RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED)
            raise
        finally:
            if chosen not in self._pools.values():
                chosen.close()  # a local pool stays for the next run: spawning workers costs ~1-2 s each
        return self._finish(context, resume)

    def _loop(self, ctx: _Context) -> None:
        state = ctx.state
        while True:
            for key in state.ready():
                if len(state.running) >= ctx.runner.slots:
                    break
                self._start(ctx, key)
            now = time.monotonic()
            for key, (due, task, planned) in list(state.retry_at.items()):
                if due <= now and len(state.running) < ctx.runner.slots:
                    del state.retry_at[key]
                    self._submit(ctx, task, planned)
            if not state.running and not state.retry_at and not state.ready():
                return
            waits = [due - now for due, _, _ in state.retry_at.values()]
            if not state.running:  # cache hits made more nodes ready, or only backoffs are pending
                if waits and not state.ready():
                    time.sleep(max(0.0, min(waits)))  # wait for the first backoff without spinning
                continue
            for result in ctx.runner.wait(max(0.0, min(waits)) if waits else None):
                self._settle(ctx, result)

    def _start(self, ctx: _Context, key: str) -> None:
        node = ctx.state.graph.nodes[key]
        planned = ctx.planner.plan(node, ctx.state.outputs)
        ctx.state.first_started[key] = time.monotonic()
        cacheable = ctx.use_cache and node.step.options.cache and key not in ctx.force
        found = self._reusable(ctx, planned, cacheable)
        if found is not None:
            refs, source = found
            run = self._client.create_run(
                ctx.experiment, name=key, parent=ctx.state.parent, params=planned.params,
                tags=records.step_tags(
                    key, planned, ctx.state.graph, cache_hit=True, attempt=0, source=source, outputs=refs
                ),
            )  # fmt: skip
            self._client.end_run(RunStatus.FINISHED, run_id=run.id)
            ctx.state.outputs[key] = refs
            ctx.state.results[key] = StepRun(
                name=key,
                status=StepStatus.CACHED,
                cache_hit=True,
                cache_key=planned.cache_key,
                run_id=run.id,
                outputs=refs,
            )
            return
        writes_cache = ctx.use_cache and node.step.options.cache
        task = Task(
            node=key, step=node.step, run_id=RunId(""), values=planned.values, upstream=planned.upstream,
            datasets=planned.datasets, cache_key=planned.cache_key if writes_cache else None,
            replace_cache=key in ctx.force, serializers=ctx.pipeline.serializers,
            record_types=ctx.pipeline.record_types, timeout_s=node.step.options.timeout_s,
        )  # fmt: skip
        self._submit(ctx, task, planned)

    def _reusable(self, ctx: _Context, planned: Planned, cacheable: bool) -> tuple[tuple[OutputRef, ...], str] | None:
        previous = ctx.reuse.get(planned.cache_key)
        if previous is not None and self._present(previous.outputs):
            return previous.outputs, f"resumed:{previous.run_id}"
        if not cacheable:
            return None
        entry = self._client.metadata.step_cache.find(planned.cache_key)
        if entry is None or not self._present(entry.outputs):
            return None  # an entry whose objects were collected is a miss: the step runs and stores them again
        return entry.outputs, f"cache:{entry.run_id}"

    def _present(self, refs: Sequence[OutputRef]) -> bool:
        for ref in refs:
            if ref.kind == "dataset":
                continue
            if ref.kind == "model":
                try:
                    self._client.metadata.packages.get(Digest.parse(ref.digest))
                except NotFoundError:
                    return False
            elif not self._client.artifacts.exists(Digest.parse(ref.digest)):
                return False
        return True

    def _submit(self, ctx: _Context, task: Task, planned: Planned) -> None:
        key = task.node
        attempt = ctx.state.attempts.get(key, 0) + 1
        ctx.state.attempts[key] = attempt
        name = key if attempt == 1 else f"{key} (attempt {attempt})"
        run = self._client.create_run(
            ctx.experiment, name=name, parent=ctx.state.parent, params=planned.params,
            tags=records.step_tags(key, planned, ctx.state.graph, cache_hit=False, attempt=attempt),
        )  # fmt: skip
        self._client.flush()  # the worker continues this run from another process
        task = dataclasses.replace(task, run_id=run.id, attempt=attempt)
        ctx.state.running[key] = (task, planned)
        ctx.runner.submit(task)

    def _settle(self, ctx: _Context, result: TaskResult) -> None:
        state = ctx.state
        task, planned = state.running.pop(result.node)
        node = state.graph.nodes[result.node]
        elapsed = timedelta(seconds=time.monotonic() - state.first_started[result.node])
        if result.error is None:
            state.outputs[result.node] = result.outputs
            state.results[result.node] = StepRun(
                name=result.node, status=StepStatus.SUCCEEDED, duration=elapsed, cache_key=planned.cache_key,
                run_id=result.run_id, attempts=result.attempt, outputs=result.outputs,
            )  # fmt: skip
            return
        self._close_run(result.run_id, RunStatus.FAILED, result.error.text())
        retries = node.step.options.retries
        if result.attempt <= retries and result.error.code not in records.NO_RETRY:
            delay = node.step.options.retry_delay_s * 2 ** (result.attempt - 1)
            state.retry_at[result.node] = (time.monotonic() + delay, task, planned)
            return
        state.results[result.node] = StepRun(
            name=result.node, status=StepStatus.FAILED, duration=elapsed, cache_key=planned.cache_key,
            run_id=result.run_id, attempts=result.attempt, error=result.error.text(),
        )  # fmt: skip
        for key in state.graph.dependents(result.node):
            state.results.setdefault(key, StepRun(name=key, status=StepStatus.SKIPPED, error=f"{result.node} failed"))

    def _close_run(self, run_id: RunId, status: RunStatus, error: str | None) -> None:
        """End a step run its worker could not end (killed, timed out); a no-op when it already ended."""
        run = self._client.get_run(run_id)
        if not run.status.is_terminal:
            if error:
                self._client.set_run_tags(run_id, {"pipeline.error": error[:MAX_ERROR_CHARS]})
            self._client.end_run(status, run_id=run_id)

    def _interrupt(self, ctx: _Context, status: RunStatus) -> None:
        """Ctrl-C (KILLED) or an error of the coordinator (FAILED): stop the runner and end every open run."""
        for task in ctx.runner.cancel():
            self._close_run(task.run_id, RunStatus.KILLED, "interrupted")
        for key, (task, _) in ctx.state.running.items():
            self._close_run(task.run_id, RunStatus.KILLED, "interrupted")
            ctx.state.results.setdefault(key, StepRun(name=key, status=StepStatus.KILLED, run_id=task.run_id))
        self._client.set_run_tags(ctx.state.parent, {"pipeline.status": status.value.lower()})
        self._client.end_run(status, run_id=ctx.state.parent)

    def _finish(self, ctx: _Context, resume: PipelineRun | None) -> PipelineRun:
        state = ctx.state
        steps = tuple(state.results.get(k, StepRun(name=k, status=StepStatus.SKIPPED)) for k in state.graph.order)
        failed = [s for s in steps if s.status is StepStatus.FAILED]
        loader = self._loader(ctx.pipeline)
        gates = records.gates_passed(steps, loader)
        status = StepStatus.FAILED if failed else StepStatus.SUCCEEDED
        tags = {"pipeline.status": status.value, "pipeline.cache_hits": sum(s.cache_hit for s in steps)}
        if gates is not None:
            tags["pipeline.gates"] = "passed" if gates else "failed"
        self._client.set_run_tags(state.parent, tags)
        self._client.end_run(RunStatus.FAILED if failed else RunStatus.FINISHED, run_id=state.parent)
        record = PipelineRun(
            id=state.parent, pipeline=ctx.pipeline.name, status=status, steps=steps,
            params=state.params, duration=timedelta(seconds=time.monotonic() - state.started),
            resumed_from=None if resume is None else resume.id, gates_passed=gates,
            failure=None if not failed else f"step {failed[0].name!r} failed: {failed[0].error}",
            _loader=loader,
        )  # fmt: skip
        if failed:
            raise StepFailedError(
                f"Pipeline {ctx.pipeline.name!r} run {state.parent}: "
                f"step {failed[0].name!r} failed.\n{failed[0].error}",
                hint=f"Fix it and resume: modelyard pipeline resume {state.parent}",
                run=record,
            )
        return record

    def _loader(self, pipeline: Pipeline | None) -> Any:
        outputs = Outputs(
            self._client,
            () if pipeline is None else pipeline.serializers,
            () if pipeline is None else pipeline.record_types,
        )
        return outputs.load

    def sweep(
        self,
        pipeline: Pipeline,
        trials: Sequence[Mapping[str, object]],
        *,
        metric: str,
        maximize: bool = True,
        runner: str | None = None,
        parallel: int | None = None,
        config: str | Path | Mapping[str, object] | None = None,
        overrides: Sequence[str] = (),
    ) -> SweepResult:
        """Run one pipeline run per params in ``trials``, ``parallel`` at once, and score each by ``metric``.

        ``metric`` is ``step.key`` (e.g. ``evaluate.auc``); see ``modelyard.pipelines.sweeps``.
        """
        return sweeps.sweep(
            self._client, pipeline, trials, metric=metric, maximize=maximize, runner=runner, parallel=parallel,
            config=config, overrides=overrides,
        )  # fmt: skip

    # -- reading and resuming --------------------------------------------------------------------------------
    def get(self, run_id: str, *, pipeline: Pipeline | None = None) -> PipelineRun:
        """The record of a pipeline run, read back from tracking."""
        parent = self._client.get_run(run_id)
        if "pipeline.name" not in parent.tags:
            raise NotFoundError(f"Run {run_id} is not a pipeline run.", hint="Pass the id `pipeline run` printed.")
        children = self._client.search_runs(
            parent.experiment_name, filter=f"attributes.parent_id = '{parent.id}'", max_results=10_000
        ).runs
        return records.from_tracking(
            parent, children, records.read_spec(self._client, parent.id), self._loader(pipeline)
        )

    def resume(
        self, run_id: str, *, pipeline: Pipeline | None = None, runner: str | Runner | None = None
    ) -> PipelineRun:
        """Run a failed (or interrupted) pipeline run again, reusing every step that finished.

        The pipeline is imported from where the run recorded it (or pass ``pipeline``); its recorded params and
        config are used again. Steps whose cache key is unchanged are taken from the old run; the failed step
        and everything after it run.
        """
        previous = self.get(run_id, pipeline=pipeline)
        spec = records.read_spec(self._client, previous.id)
        target = pipeline or records.load_pipeline(spec)
        for step in previous.steps:  # a runner killed mid-run left these open: they will never end otherwise
            if step.status is StepStatus.RUNNING and step.run_id is not None:
                self._close_run(step.run_id, RunStatus.KILLED, "interrupted; resumed in a new pipeline run")
        if previous.status is StepStatus.RUNNING:
            self._close_run(previous.id, RunStatus.KILLED, None)
        if previous.status is StepStatus.SUCCEEDED and self._client.get_run(run_id).status is RunStatus.FINISHED:
            raise InvalidInputError(
                f"Pipeline run {run_id} succeeded; there is nothing to resume.", hint="Run it again instead."
            )
        return self.run(
            target, runner=runner or str(spec.get("runner") or "local"), config=records.config_of(spec),
            cache=bool(spec.get("cache", True)), resume=previous,
        )  # fmt: skip


@dataclass(slots=True)
class _Context:
    pipeline: Pipeline
    planner: Planner
    runner: Runner
    state: _State
    use_cache: bool
    force: frozenset[str]
    reuse: dict[str, StepRun]
    experiment: str


def _check_force(graph: Graph, force: Sequence[str]) -> None:
    for key in force:
        if key not in graph.nodes:
            raise PipelineError(
                f"--force names step {key!r}, which the pipeline does not have.",
                hint=(close_matches(key, graph.nodes) or f" Steps: {', '.join(graph.order)}.").strip(),
            )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))
