"""``modelyard data validate`` and ``modelyard data tests``: run data tests, attach them to a dataset.

Both exit with status 1 when an expectation fails and print the report, so they work as CI steps.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardCommand
from modelyard.cli.session import current_client
from modelyard.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from modelyard.data.checks import DataTests
    from modelyard.data.models import CheckReport

__all__ = ["load_tests", "tests", "validate"]


def load_tests(spec: str) -> DataTests:
    """Load a ``DataTests`` object from ``path.py:name`` (the user's own code, like a pipeline file)."""
    from modelyard.data.checks import DataTests

    file_part, _, attribute = spec.rpartition(":")
    if not file_part or not attribute:
        raise InvalidInputError(f"{spec!r} does not name tests.", hint="Write path/to/file.py:variable_name.")
    path = Path(file_part)
    if not path.is_file():
        raise NotFoundError(f"No file {file_part!r}.", hint="Give the path of the Python file defining the tests.")
    module_spec = importlib.util.spec_from_file_location(f"_modelyard_tests_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:  # pragma: no cover - a .py file always has one
        raise InvalidInputError(f"Cannot load {file_part!r} as Python.", hint="Give a .py file.")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    found = getattr(module, attribute, None)
    if not isinstance(found, DataTests):
        raise InvalidInputError(
            f"{spec!r} is not a DataTests object (got {type(found).__name__}).",
            hint="Define it as name = DataTests([...]) in that file.",
        )
    return found


def _exit_on_failure(report: CheckReport) -> None:
    output.print_renderable(report.summary())
    if not report.passed:
        sys.exit(1)


@click.command("validate", cls=ModelyardCommand)
@click.argument("ref")
@click.option("--tests", "spec", metavar="FILE.py:NAME", help="Run these tests instead of the attached suite.")
@output.json_option
def validate(ref: str, spec: str | None, as_json: bool) -> None:
    """Run data tests on a stored version; exit with status 1 when any expectation fails.

    Examples:
        modelyard data validate flights@latest
        modelyard data validate flights@3 --tests checks.py:flight_tests
    """
    report = current_client().datasets.validate(ref, None if spec is None else load_tests(spec))
    if as_json:
        output.print_json(report.model_dump(mode="json"))
        if not report.passed:
            sys.exit(1)
        return
    _exit_on_failure(report)


@click.command("tests", cls=ModelyardCommand)
@click.argument("name")
@click.option("--from", "spec", metavar="FILE.py:NAME", help="Attach this DataTests suite.")
@click.option("--policy", type=click.Choice(["refuse", "mark"]), help="On failure: refuse the commit, or mark it.")
@click.option("--detach", is_flag=True, help="Remove the attached suite.")
def tests(name: str, spec: str | None, policy: str | None, detach: bool) -> None:
    """Attach data tests to a dataset (they run on every commit), change the policy, or detach them.

    Examples:
        modelyard data tests flights --from checks.py:flight_tests --policy refuse
        modelyard data tests flights --policy mark
        modelyard data tests flights --detach
    """
    from modelyard.data.checks import DataTests

    client = current_client()
    if detach and spec:
        raise InvalidInputError("--detach and --from cannot be combined.", hint="Pass one of them.")
    current = client.datasets.get_dataset(name) if not spec else None
    suite: DataTests | None
    if spec:
        suite = load_tests(spec)
    elif detach:
        suite = None
    else:
        text = client.metadata.datasets.attached_checks(name)
        if text is None:
            raise InvalidInputError(f"Dataset {name!r} has no data tests attached.", hint="Attach some with --from.")
        suite = DataTests.from_json(text)
    chosen = policy or (current.check_policy.value if current is not None else "refuse")
    dataset = client.datasets.attach_tests(name, suite, policy=chosen)
    state = "attached" if dataset.has_checks else "none attached"
    output.print_renderable(f"{dataset.name}: data tests {state}; policy {dataset.check_policy.value}")
