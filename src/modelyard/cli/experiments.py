"""``modelyard experiments``: list the experiments of a modelyard home."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardGroup
from modelyard.cli.session import current_client

if TYPE_CHECKING:
    from modelyard.tracking.models import Experiment

__all__ = ["experiment_json", "experiments"]


def experiment_json(experiment: Experiment) -> dict[str, object]:
    """The JSON form of an experiment."""
    return {
        "id": experiment.id,
        "name": experiment.name,
        "run_count": experiment.run_count,
        "created_at": output.iso_time(experiment.created_at),
    }


@click.group(cls=ModelyardGroup)
def experiments() -> None:
    """Experiments: named groups of runs.

    An experiment is created by the first run that names it.

    Examples:
        modelyard experiments list
    """


@experiments.command("list")
@output.json_option
def list_experiments(as_json: bool) -> None:
    """List experiments with their ids, run counts and creation times.

    Examples:
        modelyard experiments list
        modelyard experiments list --json | jq -r '.experiments[].name'
    """
    found = current_client().list_experiments()
    if as_json:
        output.print_json({"experiments": [experiment_json(e) for e in found]})
        return
    if not found:
        output.note("No experiments yet. Start a run: `with modelyard.start_run(experiment='name'): ...`")
        return
    table = output.new_table("name", "id", "runs", "created", numeric=("runs",), no_wrap=("id", "created"))
    for experiment in found:
        table.add_row(
            experiment.name,
            experiment.id,
            str(experiment.run_count),
            output.format_local_time(experiment.created_at),
        )
    output.print_renderable(table)
