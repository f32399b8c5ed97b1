"""Sweeps: run a pipeline once per combination of parameter values, in parallel, and report the best trial.

Trials come from a grid (every combination of listed values) and/or random draws from ranges (``low:high``
for numbers, log-uniform with ``low:high:log``, seeded). Each trial is an ordinary pipeline run, a child of
the sweep's run, so every step is cached as usual: steps a trial shares with another (the data preparation
before the swept parameters matter) come from the cache once one trial has stored them. Trials run at
once up to ``parallel`` (default: the CPU count), each on its own runner with one worker, so the sweep as
a whole uses ``parallel`` processes. The objective is ``step.key``: a metric of that step's output (an
``Evaluation``'s metrics, a dict, or the value itself when it is a number).
"""

from __future__ import annotations

import itertools
import math
import os
import random
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInputError, PipelineError, StepFailedError
from modelyard.ids import RunId
from modelyard.pipelines.models import PipelineRun
from modelyard.pipelines.parameters import parse_override
from modelyard.tracking.models import RunStatus

if TYPE_CHECKING:
    from pathlib import Path

    from modelyard.client import Client
    from modelyard.pipelines.definitions import Pipeline

__all__ = ["Range", "SweepResult", "Trial", "parse_grid", "parse_range", "sweep", "trial_params"]

_MAX_TRIALS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Range:
    """A numeric range to draw from: uniform, or log-uniform; integers when both ends are integers."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: random.Random) -> float | int:
        """One value from the range."""
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return round(value) if self.integer else value


@dataclass(frozen=True, slots=True, kw_only=True)
class Trial:
    """One trial: its params, its pipeline run, and the objective's value (None when it failed)."""

    number: int
    params: dict[str, object]
    run: PipelineRun | None = None
    value: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """A sweep: its run, every trial, and the best one by the objective."""

    id: RunId
    metric: str
    maximize: bool
    trials: tuple[Trial, ...] = field(default_factory=tuple)

    @property
    def best(self) -> Trial | None:
        """The trial with the best objective value (None when every trial failed)."""
        scored = [t for t in self.trials if t.value is not None]
        if not scored:
            return None
        return (max if self.maximize else min)(scored, key=lambda t: t.value or 0.0)


def parse_grid(items: Sequence[str]) -> dict[str, list[object]]:
    """``["train.max_depth=4,6,8"]`` -> ``{"train.max_depth": [4, 6, 8]}`` (values read as YAML)."""
    grid: dict[str, list[object]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise InvalidInputError(f"--grid {item!r} is not KEY=V1,V2,...", hint="Write --grid train.max_depth=4,6,8.")
        grid[key.strip()] = [parse_override(f"{key}={v}")[1] for v in values.split(",")]
    return grid


def _number(text: str) -> float | int | None:
    value = parse_override(f"x={text}")[1]
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_range(items: Sequence[str]) -> dict[str, Range]:
    """``["train.learning_rate=0.01:0.3:log"]`` -> a log-uniform Range."""
    ranges: dict[str, Range] = {}
    for item in items:
        key, sep, text = item.partition("=")
        parts = text.split(":")
        ends = [_number(p) for p in parts[:2]] if len(parts) in (2, 3) else []
        low, high = (ends[0], ends[1]) if len(ends) == 2 else (None, None)
        is_log = len(parts) == 3 and parts[2] == "log"
        if not sep or low is None or high is None or low >= high or (is_log and low <= 0):
            raise InvalidInputError(
                f"--range {item!r} is not KEY=LOW:HIGH[:log] with LOW < HIGH (and LOW > 0 for log).",
                hint="Write --range train.learning_rate=0.01:0.3:log or --range train.max_depth=3:12.",
            )
        integer = isinstance(low, int) and isinstance(high, int)
        ranges[key.strip()] = Range(low=float(low), high=float(high), log=is_log, integer=integer)
    return ranges


def trial_params(
    grid: Mapping[str, Sequence[object]], ranges: Mapping[str, Range], *, samples: int | None, seed: int = 0
) -> list[dict[str, object]]:
    """Every grid combination; with ranges, ``samples`` random draws on top of (each) combination."""
    keys = list(grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
    if ranges:
        rng = random.Random(seed)
        count = samples or 10
        combos = [{**combo, **{k: r.draw(rng) for k, r in ranges.items()}} for combo in combos for _ in range(count)]
    elif samples is not None and samples < len(combos):
        combos = random.Random(seed).sample(combos, samples)  # a random subset of a large grid
    if not combos or combos == [{}]:
        raise InvalidInputError("The sweep has no trials.", hint="Pass --grid KEY=V1,V2 and/or --range KEY=LOW:HIGH.")
    if len(combos) > _MAX_TRIALS:
        raise InvalidInputError(f"The sweep has {len(combos)} trials.", hint=f"Keep it at {_MAX_TRIALS} or fewer.")
    return combos


def objective(run: PipelineRun, metric: str) -> float:
    """The value of ``step.key`` in a finished run."""
    step_name, _, key = metric.partition(".")
    value: Any = run.load(step_name)
    if key:
        metrics = getattr(value, "metrics", value)
        if not isinstance(metrics, Mapping) or key not in metrics:
            raise PipelineError(f"Step {step_name!r} has no metric {key!r}.", hint="Name one its output holds.")
        value = metrics[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PipelineError(f"{metric} is a {type(value).__name__}, not a number.", hint="Name a numeric metric.")
    return float(value)


def sweep(
    client: Client,
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
    """Run ``pipeline`` once per params in ``trials`` (in parallel) and score each by ``metric``."""
    if "." not in metric:
        raise InvalidInputError(f"Objective {metric!r} is not STEP.METRIC.", hint="Write e.g. --metric evaluate.auc.")
    parent = client.create_run(pipeline.name, name=f"{pipeline.name} sweep", tags={"sweep.metric": metric})
    client.flush()
    lock = threading.Lock()

    def one(number: int, params: Mapping[str, object]) -> Trial:
        try:
            run = client.pipelines.run(
                pipeline, runner=runner or "local", workers=1, config=config, overrides=overrides,
                params=dict(params), parent=parent.id,
            )  # fmt: skip
        except StepFailedError as exc:
            return Trial(number=number, params=dict(params), run=exc.run, error=exc.message)  # type: ignore[arg-type]
        try:
            value = objective(run, metric)
        except PipelineError as exc:  # the objective names no number of this run: the trial counts as failed
            return Trial(number=number, params=dict(params), run=run, error=str(exc))
        with lock:  # the trial's own run has ended: its result is recorded on the sweep's run
            client.set_run_tags(parent.id, {f"sweep.trial.{number}": f'{{"run": "{run.id}", "value": {value!r}}}'})
        return Trial(number=number, params=dict(params), run=run, value=value)

    width = max(1, min(parallel or os.cpu_count() or 1, len(trials)))
    try:
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="modelyard-trial") as pool:
            done = list(pool.map(lambda pair: one(*pair), enumerate(trials, start=1)))
    except BaseException:
        client.end_run(RunStatus.KILLED, run_id=parent.id)
        raise
    result = SweepResult(id=parent.id, metric=metric, maximize=maximize, trials=tuple(done))
    best = result.best
    if best is not None and best.run is not None:
        client.set_run_tags(parent.id, {"sweep.best_run": best.run.id, "sweep.best_value": best.value})
    client.end_run(RunStatus.FINISHED if best is not None else RunStatus.FAILED, run_id=parent.id)
    return result
