"""How pipeline runs are written into tracking, and read back: tags, the run's spec file, records.

The pipeline run's own run carries ``pipeline.*`` tags and a ``pipeline.json`` artifact (the resolved params,
the graph in execution order, its text and DOT drawings, the runner, and where the pipeline is defined, so
``resume`` can import it again). Each step attempt is a child run tagged with the step's name, position,
cache key, whether the cache answered, and its outputs.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.errors import NotFoundError, PipelineError
from modelyard.ids import RunId
from modelyard.pipelines.graphs import Graph, Upstream
from modelyard.pipelines.models import OutputRef, PipelineRun, StepRun, StepStatus, gate_reports
from modelyard.pipelines.outputs import recorded_json
from modelyard.pipelines.parameters import Parameters
from modelyard.pipelines.planning import Planned
from modelyard.tracking.models import ArtifactEntry, Run, RunStatus

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.pipelines.definitions import Pipeline

__all__ = [
    "NO_RETRY",
    "entry_of",
    "SPEC",
    "config_of",
    "flat_params",
    "from_tracking",
    "gates_passed",
    "is_loggable",
    "load_pipeline",
    "read_spec",
    "run_tags",
    "spec_artifact",
    "step_tags",
]

SPEC = "pipeline.json"
NO_RETRY = frozenset({"data-tests-failed", "gate-failed", "pipeline", "cycle"})  # retrying cannot help


def entry_of(pipeline: Pipeline) -> dict[str, str | None] | None:
    """Where the pipeline is defined: module, attribute and file."""
    if pipeline.entry is not None:
        target, _, name = pipeline.entry.rpartition(":")
        return {"entry": pipeline.entry, "module": None, "qualname": name, "file": target}
    if pipeline.function is None:
        return None
    function = pipeline.function
    return {
        "entry": f"{function.__module__}:{function.__qualname__}",
        "module": function.__module__,
        "qualname": function.__qualname__,
        "file": inspect.getsourcefile(function),
    }


def run_tags(pipeline: Pipeline, runner: str, resume: PipelineRun | None) -> dict[str, object]:
    """Tags of a pipeline run's own run."""
    entry = entry_of(pipeline)
    tags: dict[str, object] = {"pipeline.name": pipeline.name, "pipeline.runner": runner, "pipeline.status": "running"}
    if entry is not None:
        tags["pipeline.entry"] = entry["entry"]
    if resume is not None:
        tags["pipeline.resumed_from"] = resume.id
    return tags


def spec_artifact(
    client: Client,
    pipeline: Pipeline,
    resolved: Parameters,
    graph: Graph,
    runner: str,
    force: Sequence[str],
    cache: bool,
    params: dict[str, object],
) -> ArtifactEntry:
    """Store ``pipeline.json`` and return its artifact entry."""
    body = {
        "pipeline": pipeline.name,
        "entry": entry_of(pipeline),
        "params": resolved.to_json(),
        "flat_params": params,
        "order": graph.order,
        "upstream": {key: sorted(node.upstream) for key, node in graph.nodes.items()},
        "text": graph.text(),
        "dot": graph.dot(),
        "svg": graph.svg(),
        "runner": runner,
        "cache": cache,
        "force": list(force),
    }
    data = recorded_json(body)
    stored = client.artifacts.put(io.BytesIO(data))
    return ArtifactEntry(path=SPEC, digest=stored.digest, size_bytes=len(data))


def read_spec(client: Client, run_id: str) -> dict[str, Any]:
    """The ``pipeline.json`` of a pipeline run."""
    for entry in client.list_artifacts(run_id, SPEC):
        if entry.path == SPEC:
            with client.artifacts.open(entry.digest) as data:
                spec: dict[str, Any] = orjson.loads(data.read())
            return spec
    raise NotFoundError(f"Run {run_id} has no {SPEC}; it is not a pipeline run.", hint="Pass a pipeline run's id.")


def config_of(spec: dict[str, Any]) -> dict[str, object]:
    """The recorded params as a config mapping (what ``run`` resolves back to the same params)."""
    params = Parameters.from_json(spec["params"])
    return {**params.pipeline, **params.steps, **({"run": params.run} if params.run else {})}


def load_pipeline(spec: dict[str, Any]) -> Pipeline:
    """Import the pipeline a run recorded."""
    from modelyard.pipelines.definitions import Pipeline
    from modelyard.pipelines.loading import load_attribute, load_entry

    entry = spec.get("entry")
    if not entry:
        raise PipelineError(
            f"Pipeline {spec.get('pipeline')!r} was not defined in an importable place.",
            hint="Pass pipeline=... to resume.",
        )
    if entry.get("module") is None:
        found = load_entry(str(entry["entry"]))
    else:
        found = load_attribute(str(entry["module"]), str(entry["qualname"]), entry.get("file"))
    if not isinstance(found, Pipeline):
        raise PipelineError(f"{entry['entry']} is a {type(found).__name__}, not a pipeline.", hint="Pass pipeline=...")
    if entry.get("module") is None:
        found.entry = str(entry["entry"])
    return found


def step_tags(
    key: str,
    planned: Planned,
    graph: Graph,
    *,
    cache_hit: bool,
    attempt: int = 1,
    source: str | None = None,
    outputs: Sequence[OutputRef] = (),
) -> dict[str, object]:
    """Tags of one step attempt's run."""
    tags: dict[str, object] = {
        "pipeline.step": key,
        "pipeline.order": graph.order.index(key),
        "pipeline.cache_key": planned.cache_key,
        "pipeline.cache_hit": "true" if cache_hit else "false",
        "pipeline.attempt": attempt,
        "pipeline.inputs": orjson.dumps(
            {n: v.node for n, v in graph.nodes[key].inputs.items() if isinstance(v, Upstream)} | planned.datasets
        ).decode(),
    }
    if source is not None:
        tags["pipeline.source"] = source
    if outputs:
        tags["pipeline.outputs"] = orjson.dumps([r.to_json() for r in outputs]).decode()
    return tags


def gates_passed(steps: Sequence[StepRun], load: Callable[[OutputRef], object]) -> bool | None:
    """Whether every gate report a step produced passed (None: no step produced one)."""
    verdicts = [bool(getattr(report, "passed", False)) for _, report in gate_reports(steps, load)]
    return None if not verdicts else all(verdicts)


def flat_params(graph: Graph) -> dict[str, object]:
    """Every step's parameter values as ``step.name`` (step outputs excluded)."""
    return {
        f"{key}.{name}": value
        for key in graph.order
        for name, value in graph.nodes[key].inputs.items()
        if not isinstance(value, Upstream)
    }


def is_loggable(value: object) -> bool:
    """Whether a parameter value is small and plain enough to log as a run param."""
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 500


def _status(run: Run, cache_hit: bool) -> StepStatus:
    if run.status is RunStatus.FINISHED:
        return StepStatus.CACHED if cache_hit else StepStatus.SUCCEEDED
    return {RunStatus.FAILED: StepStatus.FAILED, RunStatus.KILLED: StepStatus.KILLED}.get(
        run.status, StepStatus.RUNNING
    )


def _step_of(run: Run) -> StepRun:
    tags = run.tags
    cache_hit = tags.get("pipeline.cache_hit") == "true"
    outputs = tuple(OutputRef.from_json(o) for o in orjson.loads(tags.get("pipeline.outputs", "[]")))
    return StepRun(
        name=tags["pipeline.step"],
        status=_status(run, cache_hit),
        duration=timedelta(seconds=run.duration_s or 0.0),
        cache_hit=cache_hit,
        cache_key=tags.get("pipeline.cache_key"),
        run_id=run.id,
        attempts=int(tags.get("pipeline.attempt", "1")),
        outputs=outputs,
        error=tags.get("pipeline.error"),
    )


def from_tracking(
    parent: Run, children: Sequence[Run], spec: dict[str, Any], load: Callable[[OutputRef], object]
) -> PipelineRun:
    """Rebuild a pipeline run's record from its runs (the last attempt of each step counts)."""
    latest: dict[str, StepRun] = {}
    for child in children:
        if "pipeline.step" not in child.tags:
            continue
        record = _step_of(child)
        if record.name not in latest or record.attempts >= latest[record.name].attempts:
            latest[record.name] = record
    steps = tuple(latest.get(k, StepRun(name=k, status=StepStatus.SKIPPED)) for k in spec["order"])
    status = {
        RunStatus.FINISHED: StepStatus.SUCCEEDED,
        RunStatus.FAILED: StepStatus.FAILED,
        RunStatus.KILLED: StepStatus.KILLED,
    }.get(parent.status, StepStatus.RUNNING)
    gates = parent.tags.get("pipeline.gates")
    failed = next((s for s in steps if s.status is StepStatus.FAILED), None)
    resumed = parent.tags.get("pipeline.resumed_from")
    return PipelineRun(
        id=parent.id,
        pipeline=parent.tags["pipeline.name"],
        status=status,
        steps=steps,
        params=dict(spec.get("flat_params") or parent.params),
        duration=timedelta(seconds=parent.duration_s or 0.0),
        resumed_from=None if resumed is None else RunId(resumed),
        gates_passed=None if gates is None else gates == "passed",
        failure=None if failed is None else f"step {failed.name!r} failed: {failed.error}",
        _loader=load,
    )
