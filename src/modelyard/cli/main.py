"""The ``modelyard`` command: the root group, its global options and the one place errors are rendered.

Every noun is a module of its own (``experiments``, ``runs``, ``data``, ``maintenance``) and is registered here with
``main.add_command``; a new capability registers its group the same way. Nothing heavy is imported at startup:
commands import ``modelyard.client`` (and with it SQLAlchemy) only when they run.
"""

from __future__ import annotations

import click

from modelyard import __version__
from modelyard.cli import data, demo, experiments, init, maintenance, models, pipelines, runs
from modelyard.cli.commands import ModelyardGroup
from modelyard.cli.session import Session
from modelyard.errors import ConfigError, InvalidInputError, ModelyardError, NotFoundError

__all__ = ["RootGroup", "exit_code", "main"]

_USER_ERRORS = (InvalidInputError, NotFoundError, ConfigError)


def exit_code(error: ModelyardError) -> int:
    """2 for what the user can fix in the command line (invalid input, not found, configuration), else 1."""
    return 2 if isinstance(error, _USER_ERRORS) else 1


class RootGroup(ModelyardGroup):
    """The root group: renders a ``ModelyardError`` from any command as a message and a hint, no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the command, close the client inside the error boundary, and render modelyard errors."""
        try:
            try:
                return super().invoke(ctx)
            finally:
                ctx.close()  # runs call_on_close (the client's close) here, so its errors are rendered too
        except ModelyardError as error:
            from modelyard.cli.output import print_error

            print_error(error)
            ctx.exit(exit_code(error))


@click.group(cls=RootGroup, name="modelyard", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--uri",
    metavar="URI",
    help="Metadata store: a folder, sqlite:///path.db or postgresql://user@host/db "
    "[default: $MODELYARD_URI, then modelyard.toml, then ./.modelyard].",
)
@click.option(
    "--artifacts",
    metavar="URI",
    help="Artifact store: a folder, file:///folder or s3://bucket/prefix "
    "[default: $MODELYARD_ARTIFACTS, then blobs/ beside the SQLite file].",
)
@click.version_option(__version__, "--version", prog_name="modelyard", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, uri: str | None, artifacts: str | None) -> None:
    """modelyard: track experiments and runs, version datasets, register models, keep every byte verifiable.

    Each command opens the modelyard home given by --uri (or MODELYARD_URI, modelyard.toml, ./.modelyard).
    Listing and show commands take --json for scripts; errors go to stderr with a hint, and the exit code
    is 2 for invalid input, unknown names and configuration problems, 1 for other failures.

    Examples:
        modelyard experiments list
        modelyard --uri /srv/yard runs list churn --order-by "metrics.auc DESC"
        modelyard runs show 3f2a9c1e --json
        modelyard data commit flights data/ -m "January"
        modelyard data diff flights@1 flights@latest
        modelyard models show flights-delay@production
        modelyard pipeline run train.py:training --set train.max_depth=8
        modelyard fsck --sample 10%
    """
    ctx.obj = Session(uri, artifacts)


main.add_command(experiments.experiments)
main.add_command(runs.runs)
main.add_command(data.data)
main.add_command(models.models)
main.add_command(pipelines.pipeline)
main.add_command(init.init)
main.add_command(maintenance.fsck)
main.add_command(maintenance.gc)
main.add_command(demo.demo)


if __name__ == "__main__":
    main(prog_name="modelyard")
