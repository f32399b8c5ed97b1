"""``modelyard pipeline``: run pipelines, show their runs, draw their graphs, resume failed runs.

A pipeline is named ``FILE.py:NAME`` (a ``@pipeline`` in a file) or ``package.module:NAME``. ``run`` and
``resume`` exit 0 when every step finished and every gate passed, 1 when a step (a data test, say) failed or
a gate failed, with the report on stderr, so the command works as a CI/CD step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardGroup
from modelyard.cli.session import current_client
from modelyard.errors import PipelineError, StepFailedError

if TYPE_CHECKING:
    from modelyard.pipelines.definitions import Pipeline
    from modelyard.pipelines.models import PipelineRun

__all__ = ["pipeline", "run_json"]


@click.group(cls=ModelyardGroup)
def pipeline() -> None:
    """Pipelines: typed steps, cached by code, params, inputs and environment; runs tracked step by step.

    Examples:
        modelyard pipeline run train.py:training --set train.max_depth=8
        modelyard pipeline run train.py:training --config params.toml --runner inline
        modelyard pipeline show 3f2a9c1e
        modelyard pipeline graph train.py:training --format svg -o training.svg
        modelyard pipeline resume 3f2a9c1e
    """


def _load(entry: str) -> Pipeline:
    from modelyard.pipelines.definitions import Pipeline
    from modelyard.pipelines.loading import load_entry

    found = load_entry(entry)
    if not isinstance(found, Pipeline):
        raise PipelineError(
            f"{entry} is a {type(found).__name__}, not a pipeline.",
            hint="Decorate the function with @modelyard.pipeline.",
        )
    if ":" in entry and entry.rpartition(":")[0].endswith(".py"):
        found.entry = f"{Path(entry.rpartition(':')[0]).resolve()}:{entry.rpartition(':')[2]}"
    return found


def run_json(run: PipelineRun) -> dict[str, object]:
    """The JSON form of a pipeline run."""
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "status": run.status.value,
        "succeeded": run.succeeded,
        "gates_passed": run.gates_passed,
        "duration_s": run.duration.total_seconds(),
        "cache_hits": run.cache_hits,
        "resumed_from": run.resumed_from,
        "failure": run.failure,
        "steps": [
            {
                "name": s.name,
                "status": s.status.value,
                "cache_hit": s.cache_hit,
                "duration_s": s.duration.total_seconds(),
                "attempts": s.attempts,
                "run_id": s.run_id,
                "cache_key": s.cache_key,
                "outputs": [o.to_json() for o in s.outputs],
                "error": s.error,
            }
            for s in run.steps
        ],
    }


def _print_run(run: PipelineRun) -> None:
    table = output.new_table("step", "status", "cache", "duration", "attempts", "outputs", "run", numeric=("duration",))
    for s in run.steps:
        outputs = ", ".join(f"{o.name} ({o.kind}, {output.format_bytes(o.size_bytes)})" for o in s.outputs)
        table.add_row(
            s.name, s.status.value, "hit" if s.cache_hit else "-", output.format_duration(s.duration.total_seconds()),
            str(s.attempts or "-"), outputs or "-", (s.run_id or "-")[:8],
        )  # fmt: skip
    took = output.format_duration(run.duration.total_seconds())
    table.title = f"pipeline {run.pipeline}  run {run.id}  {run.status.value}  {took}"
    output.print_renderable(table)
    if run.gates_passed is not None:
        output.note(
            f"gates: {'passed' if run.gates_passed else 'FAILED'}", style=None if run.gates_passed else "bold red"
        )
    output.note(f"{output.plural(run.cache_hits, 'cache hit')} of {len(run.steps)} steps")


def _report_gates(run: PipelineRun) -> None:
    """Print every gate report a run produced (the reason a gated run exits 1)."""
    for name, report in run.gate_reports():
        output.note(f"gate {name}:\n{report.summary()}", style=None if report.passed else "red")


def _finish(run: PipelineRun, as_json: bool) -> None:
    if as_json:
        output.print_json(run_json(run))
    else:
        _print_run(run)
        _report_gates(run)
    run.check()  # a failed gate raises GateFailedError: exit 1, with the reason on stderr


def _run_or_report(work: Callable[[], PipelineRun], as_json: bool) -> None:
    from modelyard.pipelines.models import PipelineRun

    try:
        run = work()
    except StepFailedError as error:
        if isinstance(error.run, PipelineRun):
            if as_json:
                output.print_json(run_json(error.run))
            else:
                _print_run(error.run)
        raise
    _finish(run, as_json)


@pipeline.command("run")
@click.argument("entry", metavar="FILE.py:NAME")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="A TOML, YAML or JSON config file.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a param: data=flights@4, train.max_depth=8.",
)
@click.option("--runner", help="inline, local (default), ray or ray://HOST:PORT.")
@click.option("--workers", type=int, help="The most steps at once (default: the CPU count).")
@click.option("--no-cache", is_flag=True, help="Run every step; store nothing in the cache.")
@click.option("--force", multiple=True, metavar="STEP", help="Run this step again even if cached (repeatable).")
@click.option("--experiment", help="Track the run in this experiment (default: the pipeline's name).")
@output.json_option
def run_command(
    entry: str, config: str | None, overrides: Sequence[str], runner: str | None, workers: int | None,
    no_cache: bool, force: Sequence[str], experiment: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Run a pipeline; exit 1 when a step or a gate fails.

    Examples:
        modelyard pipeline run train.py:training
        modelyard pipeline run train.py:training --set data=flights@4 --set train.max_depth=8
        modelyard pipeline run train.py:training --force train --runner inline
    """
    target = _load(entry)
    client = current_client()
    _run_or_report(
        lambda: client.pipelines.run(
            target,
            runner=runner,
            config=config,
            overrides=overrides,
            cache=not no_cache,
            force=force,
            workers=workers,
            experiment=experiment,
        ),
        as_json,
    )


@pipeline.command("resume")
@click.argument("run_id")
@click.option("--runner", help="Runner for the resumed run (default: the one it ran on).")
@output.json_option
def resume_command(run_id: str, runner: str | None, as_json: bool) -> None:
    """Run a failed or interrupted pipeline run again, reusing every step that had finished.

    Examples:
        modelyard pipeline resume 3f2a9c1e0d4b4c5f8e7a6b5c4d3e2f1a
    """
    client = current_client()
    _run_or_report(lambda: client.pipelines.resume(_full_id(run_id), runner=runner), as_json)


def _full_id(run_id: str) -> str:
    """A run id from a full id or a unique prefix (as ``runs show`` takes)."""
    from modelyard.cli.runs import resolve_run

    return resolve_run(current_client(), run_id).id


@pipeline.command("list")
@click.argument("name", required=False)
@click.option("--limit", type=int, default=20, show_default=True, help="How many runs, newest first.")
@output.json_option
def list_command(name: str | None, limit: int, as_json: bool) -> None:
    """List pipeline runs, newest first: status, gates, cache hits, duration (of one pipeline when NAME is given).

    Examples:
        modelyard pipeline list
        modelyard pipeline list flights-training --limit 5 --json
    """
    client = current_client()
    experiments = [e.name for e in client.list_experiments()]
    if not experiments:
        runs = []
    else:
        condition = "tags.`pipeline.name` like '%'" if name is None else f"tags.`pipeline.name` = '{_quoted(name)}'"
        order = "attributes.start_time DESC"
        runs = client.search_runs(experiments, condition, order_by=order, max_results=limit).runs
    rows = [
        {
            "id": r.id,
            "pipeline": r.tags.get("pipeline.name"),
            "status": r.tags.get("pipeline.status", r.status.value.lower()),
            "gates": r.tags.get("pipeline.gates"),
            "cache_hits": r.tags.get("pipeline.cache_hits"),
            "runner": r.tags.get("pipeline.runner"),
            "started_at": output.iso_time(r.start_time),
            "duration_s": r.duration_s,
            "resumed_from": r.tags.get("pipeline.resumed_from"),
        }
        for r in runs
    ]
    if as_json:
        output.print_json(rows)
        return
    table = output.new_table("run", "pipeline", "status", "gates", "cache hits", "runner", "started", "duration")
    for row, run in zip(rows, runs, strict=True):
        cells = [str(row[k] or "-") for k in ("pipeline", "status", "gates", "cache_hits", "runner")]
        table.add_row(
            run.id[:8], *cells, output.format_local_time(run.start_time), output.format_duration(run.duration_s)
        )
    output.print_renderable(table)
    if not rows:
        output.note("No pipeline runs yet. Run one: modelyard pipeline run FILE.py:NAME")


def _quoted(text: str) -> str:
    return text.replace("'", "''")


@pipeline.command("show")
@click.argument("run_id")
@output.json_option
def show_command(run_id: str, as_json: bool) -> None:
    """Show a pipeline run: each step's status, cache hit, duration, attempts and outputs.

    Examples:
        modelyard pipeline show 3f2a9c1e0d4b4c5f8e7a6b5c4d3e2f1a --json
    """
    run = current_client().pipelines.get(_full_id(run_id))
    if as_json:
        output.print_json(run_json(run))
        return
    _print_run(run)
    if run.failure:
        output.note(run.failure, style="red")


@pipeline.command("graph")
@click.argument("target", metavar="FILE.py:NAME|RUN_ID")
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "svg"]), default="text", show_default=True)
@click.option("-o", "--output", "dest", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Params to trace the pipeline with.")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="A config file to trace the pipeline with.")
def graph_command(target: str, fmt: str, dest: str | None, overrides: Sequence[str], config: str | None) -> None:
    """Draw a pipeline's graph (of a definition, or as a past run recorded it): text, DOT or SVG.

    SVG is drawn by modelyard itself (steps in columns by depth); for Graphviz's layout pipe --format dot to `dot`.

    Examples:
        modelyard pipeline graph train.py:training
        modelyard pipeline graph train.py:training --format dot | dot -Tpng > graph.png
        modelyard pipeline graph 3f2a9c1e0d4b4c5f8e7a6b5c4d3e2f1a --format svg -o run.svg
    """
    if ":" in target:
        pipeline_ = _load(target)
        graph = pipeline_.graph(pipeline_.resolve(config=config, overrides=overrides))
        text, dot, svg = graph.text(), graph.dot(), graph.svg()
    else:
        from modelyard.pipelines.records import read_spec

        spec = read_spec(current_client(), _full_id(target))
        text, dot, svg = str(spec["text"]), str(spec["dot"]), str(spec.get("svg", ""))
        if fmt == "svg" and not svg:
            raise PipelineError(f"Run {target} recorded no SVG drawing.", hint="Use --format dot for runs this old.")
    document = text if fmt == "text" else dot if fmt == "dot" else svg
    if dest is None:
        click.echo(document)
    else:
        Path(dest).write_text(document + "\n", encoding="utf-8")
        output.note(f"wrote {dest}")


@pipeline.command("sweep")
@click.argument("entry", metavar="FILE.py:NAME")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2,...", help="Values to try (every combination of grids).")
@click.option("--range", "ranges", multiple=True, metavar="KEY=LOW:HIGH[:log]", help="A range to draw values from.")
@click.option("--samples", type=int, help="Random draws (from --range, per grid combination; or a subset of a grid).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random draws.")
@click.option("--metric", required=True, metavar="STEP.KEY", help="The objective, e.g. evaluate.auc.")
@click.option("--minimize", is_flag=True, help="Lower is better (default: higher is better).")
@click.option("--parallel", type=int, help="Trials at once (default: the CPU count).")
@click.option("--runner", help="local (default), inline or ray.")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="A config file for every trial.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="A param for every trial.")
@output.json_option
def sweep_command(
    entry: str, grid: Sequence[str], ranges: Sequence[str], samples: int | None, seed: int, metric: str,
    minimize: bool, parallel: int | None, runner: str | None, config: str | None, overrides: Sequence[str],
    as_json: bool,
) -> None:  # fmt: skip
    """Run a pipeline over a grid or random search of params, trials in parallel; report the best.

    Every trial is a pipeline run (a child of the sweep's run), cached as usual: steps before the swept
    params come from the cache after the first trial stores them. Exits 1 when every trial failed.

    Examples:
        modelyard pipeline sweep train.py:training --grid train.max_depth=4,6,8 --metric evaluate.auc
        modelyard pipeline sweep train.py:training --range train.learning_rate=0.01:0.3:log --samples 8 \
            --metric evaluate.auc
    """
    from modelyard.pipelines.sweeps import parse_grid, parse_range, trial_params

    target = _load(entry)
    trials = trial_params(parse_grid(grid), parse_range(ranges), samples=samples, seed=seed)
    result = current_client().pipelines.sweep(
        target, trials, metric=metric, maximize=not minimize, runner=runner, parallel=parallel, config=config,
        overrides=overrides,
    )  # fmt: skip
    best = result.best
    if as_json:
        output.print_json(
            {
                "id": result.id,
                "metric": result.metric,
                "maximize": result.maximize,
                "best": None if best is None else best.number,
                "trials": [
                    {"number": t.number, "params": t.params, "value": t.value, "run_id": t.run.id if t.run else None,
                     "error": t.error}
                    for t in result.trials
                ],
            }
        )  # fmt: skip
    else:
        keys = sorted({k for t in result.trials for k in t.params})
        table = output.new_table("trial", *keys, metric, "cache hits", "run", numeric=(metric,))
        for t in sorted(
            result.trials, key=lambda t: (t.value is None, -(t.value or 0) if not minimize else t.value or 0)
        ):
            marker = " *" if best is not None and t.number == best.number else ""
            hits = "-" if t.run is None else f"{t.run.cache_hits}/{len(t.run.steps)}"
            value = "failed" if t.value is None else output.format_number(t.value)
            row = [str(t.params.get(k, "")) for k in keys]
            table.add_row(f"{t.number}{marker}", *row, value, hits, (t.run.id[:8] if t.run else "-"))
        table.title = f"sweep {result.id} of {target.name}: {len(result.trials)} trials, objective {metric}"
        output.print_renderable(table)
        if best is not None:
            output.note(f"best: trial {best.number} {best.params} -> {metric} = {best.value:.6g}")
    if best is None:
        raise click.exceptions.Exit(1)
