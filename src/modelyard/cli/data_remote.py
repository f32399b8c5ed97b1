"""``modelyard data push`` and ``modelyard data pull``: copy a dataset's versions between stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardCommand
from modelyard.cli.session import current_client

if TYPE_CHECKING:
    from modelyard.client import Client

__all__ = ["pull", "push"]


def _other(uri: str, artifacts: str | None) -> Client:
    from modelyard.client import Client

    return Client(uri, artifacts=artifacts)


def _sync(direction: str, ref: str, uri: str, artifacts: str | None, as_json: bool) -> None:
    client = current_client()
    other = _other(uri, artifacts)
    try:
        run: Callable[..., Any] = client.datasets.push if direction == "push" else client.datasets.pull
        report = run(ref, other)
    finally:
        other.close()
    if as_json:
        output.print_json(
            {
                "dataset": report.dataset,
                "versions": report.versions,
                "chunks_sent": report.chunks_sent,
                "bytes_sent": report.bytes_sent,
                "chunks_present": report.chunks_present,
                "packs_written": report.packs_written,
            }
        )
        return
    copied = ", ".join(map(str, report.versions)) or "none (already up to date)"
    output.print_renderable(
        f"{report.dataset}: versions {copied}; sent {report.chunks_sent:,} chunks "
        f"({output.format_bytes(report.bytes_sent)}) in {output.plural(report.packs_written, 'pack')}, "
        f"{report.chunks_present:,} already there"
    )


@click.command("push", cls=ModelyardCommand)
@click.argument("ref")
@click.option(
    "--to", "uri", required=True, metavar="URI", help="The other store: a folder, sqlite:// or postgresql://."
)
@click.option("--to-artifacts", "artifacts", metavar="URI", help="Its artifact store (s3://bucket/prefix or a folder).")
@output.json_option
def push(ref: str, uri: str, artifacts: str | None, as_json: bool) -> None:
    """Copy a dataset's versions up to REF to another store; only missing chunks travel.

    Examples:
        modelyard data push flights --to postgresql://ml@db/yard --to-artifacts s3://ml/yard
    """
    _sync("push", ref, uri, artifacts, as_json)


@click.command("pull", cls=ModelyardCommand)
@click.argument("ref")
@click.option(
    "--from", "uri", required=True, metavar="URI", help="The other store: a folder, sqlite:// or postgresql://."
)
@click.option(
    "--from-artifacts", "artifacts", metavar="URI", help="Its artifact store (s3://bucket/prefix or a folder)."
)
@output.json_option
def pull(ref: str, uri: str, artifacts: str | None, as_json: bool) -> None:
    """Copy a dataset's versions up to REF from another store into this one.

    Examples:
        modelyard data pull flights@latest --from postgresql://ml@db/yard --from-artifacts s3://ml/yard
    """
    _sync("pull", ref, uri, artifacts, as_json)
