"""``modelyard init --ci github``: write a CI workflow that runs a pipeline with its gates.

The workflow installs the project the way its files say (``pyproject.toml``, else ``requirements.txt``, else
modelyard alone), runs ``modelyard pipeline run`` against the team's stores (URIs from repository secrets),
keeps the run's JSON record as a build artifact, and fails the job when a data test or a gate fails, because
``pipeline run`` exits 1 then.
"""

from __future__ import annotations

from pathlib import Path

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardCommand
from modelyard.errors import AlreadyExistsError, InvalidInputError

__all__ = ["init", "github_workflow"]

_WORKFLOW = """\
# Written by `modelyard init --ci github`. Runs the pipeline {entry} with its data tests and gates:
# the job fails when a data test or a gate fails, so a bad model never reaches the alias it guards.
name: modelyard pipeline

on:
  push:
    branches: [{branch}]
  pull_request:
  workflow_dispatch:

concurrency:
  group: modelyard-pipeline-${{{{ github.ref }}}}
  cancel-in-progress: false

jobs:
  pipeline:
    runs-on: ubuntu-latest
    timeout-minutes: {timeout}
    env:
      # The team's stores (see docs/pipelines.md): e.g. postgresql://... and s3://bucket/prefix.
      MODELYARD_URI: ${{{{ secrets.MODELYARD_URI }}}}
      MODELYARD_ARTIFACTS: ${{{{ secrets.MODELYARD_ARTIFACTS }}}}
      MODELYARD_S3_ENDPOINT: ${{{{ secrets.MODELYARD_S3_ENDPOINT }}}}
      AWS_ACCESS_KEY_ID: ${{{{ secrets.AWS_ACCESS_KEY_ID }}}}
      AWS_SECRET_ACCESS_KEY: ${{{{ secrets.AWS_SECRET_ACCESS_KEY }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
          cache: pip
      - name: Install
        run: |
          python -m pip install --upgrade pip
          {install}
      - name: Run the pipeline (data tests and gates decide the exit code)
        run: modelyard pipeline run {entry}{config} --json > pipeline-run.json
      - name: Show the run
        if: always()
        run: cat pipeline-run.json || true
      - name: Keep the run record
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: pipeline-run
          path: pipeline-run.json
"""


def _install(project: Path, extras: str) -> str:
    if (project / "pyproject.toml").is_file():
        return f"pip install -e '.{extras}'" if extras else "pip install -e ."
    spec = f"'modelyard{extras}'" if extras else "modelyard"
    if (project / "requirements.txt").is_file():
        return f"pip install -r requirements.txt {spec}"
    return f"pip install {spec}"


def github_workflow(
    project: Path, *, entry: str, config: str | None, python: str, branch: str, extras: str, timeout_minutes: int
) -> str:
    """The text of the GitHub Actions workflow for ``entry``."""
    if ":" not in entry:
        raise InvalidInputError(f"{entry!r} does not name a pipeline.", hint="Pass --pipeline FILE.py:NAME.")
    return _WORKFLOW.format(
        entry=entry,
        config=f" --config {config}" if config else "",
        python=python,
        branch=branch,
        install=_install(project, f"[{extras}]" if extras else ""),
        timeout=timeout_minutes,
    )


@click.command(cls=ModelyardCommand)
@click.option("--ci", type=click.Choice(["github"]), required=True, help="The CI system to write a workflow for.")
@click.option("--pipeline", "entry", required=True, metavar="FILE.py:NAME", help="The pipeline the workflow runs.")
@click.option("--config", help="A config file the workflow passes to the pipeline.")
@click.option("--python", default="3.11", show_default=True, help="The Python version CI installs.")
@click.option("--branch", default="main", show_default=True, help="Pushes to this branch run the pipeline.")
@click.option("--extras", default="", help="Extras of the project (or modelyard) to install, e.g. sklearn,postgres.")
@click.option("--timeout-minutes", default=60, show_default=True, type=int, help="The job's time limit.")
@click.option("--force", is_flag=True, help="Overwrite an existing workflow file.")
def init(
    ci: str, entry: str, config: str | None, python: str, branch: str, extras: str, timeout_minutes: int, force: bool
) -> None:
    """Write a CI workflow that installs the project and runs a pipeline with its gates.

    The workflow (.github/workflows/modelyard.yml) reads the stores' URIs from repository secrets
    (MODELYARD_URI, MODELYARD_ARTIFACTS, and S3 credentials) and fails when a data test or a gate fails.

    Examples:
        modelyard init --ci github --pipeline train.py:training
        modelyard init --ci github --pipeline train.py:training --config params.toml --extras sklearn,postgres,s3
    """
    del ci  # one choice today; the option names the system so more can follow
    project = Path.cwd()
    target = project / ".github" / "workflows" / "modelyard.yml"
    if target.exists() and not force:
        raise AlreadyExistsError(f"{target} already exists.", hint="Pass --force to overwrite it.")
    text = github_workflow(
        project,
        entry=entry,
        config=config,
        python=python,
        branch=branch,
        extras=extras,
        timeout_minutes=timeout_minutes,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    output.note(f"wrote {target.relative_to(project)}: set the secrets MODELYARD_URI and MODELYARD_ARTIFACTS")
