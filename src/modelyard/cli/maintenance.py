"""``modelyard fsck`` and ``modelyard gc``: verify stored objects, and delete the ones nothing references."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardCommand
from modelyard.cli.session import current_client

if TYPE_CHECKING:
    from modelyard.stores.maintenance import FsckReport, GcReport

__all__ = ["Duration", "Fraction", "fsck", "gc"]

GC_LISTED = 50
"""How many objects ``gc`` lists in its table (JSON lists them all)."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Fraction(click.ParamType[float]):
    """A fraction in (0, 1], written ``0.1`` or ``10%``."""

    name = "fraction"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Parse ``10%`` or ``0.1`` into 0.1."""
        if isinstance(value, float):
            return value
        text = str(value).strip()
        try:
            fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            self.fail(f"{text!r} is not a fraction; write e.g. 10% or 0.1.", param, ctx)
        if not 0 < fraction <= 1:
            self.fail(f"{text!r} is not in (0, 1]; write e.g. 10% or 0.1.", param, ctx)
        return fraction


class Duration(click.ParamType[float]):
    """A duration in seconds, written ``3600``, ``90s``, ``15m``, ``1h`` or ``2d``."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Parse ``1h`` into 3600.0."""
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION.fullmatch(str(value).strip().lower())
        if match is None:
            self.fail(f"{value!r} is not a duration; write e.g. 3600, 90s, 15m, 1h or 2d.", param, ctx)
        return float(match.group(1)) * _UNIT_S[match.group(2)]


# -- fsck ----------------------------------------------------------------------------------------------------
def _fsck_json(report: FsckReport) -> dict[str, object]:
    return {
        "clean": report.is_clean,
        "referenced": report.referenced,
        "checked": report.checked,
        "bytes_checked": report.bytes_checked,
        "sampled": report.sampled,
        "problems": [
            {
                "digest": str(problem.digest),
                "kind": problem.kind,
                "referenced_by": list(problem.referenced_by),
                "detail": problem.detail,
            }
            for problem in report.problems
        ],
    }


def _print_fsck(report: FsckReport) -> None:
    of = f" of {report.referenced} (a random sample)" if report.sampled else ""
    output.print_renderable(
        f"Checked {report.checked}{of} referenced {'object' if report.checked == 1 else 'objects'}, "
        f"{output.format_bytes(report.bytes_checked)}."
    )
    if report.is_clean:
        output.console().print("No problems found.", style="green")
        return
    table = output.new_table("digest", "kind", "referenced by", "detail", no_wrap=("digest", "kind"))
    for problem in report.problems:
        table.add_row(problem.digest.short, problem.kind, "\n".join(problem.referenced_by), problem.detail)
    output.print_renderable(table)
    count = len(report.problems)
    output.console().print(f"{output.plural(count, 'problem')} found.", style="bold red")


@click.command(cls=ModelyardCommand)
@click.option(
    "--sample",
    type=Fraction(),
    metavar="FRACTION",
    help="Check a random share of the objects: 10% or 0.1 [default: all].",
)
@output.json_option
@click.pass_context
def fsck(ctx: click.Context, sample: float | None, as_json: bool) -> None:
    """Verify that every referenced object exists and is intact.

    Intact means the stored bytes still match the digest the metadata holds.

    Each referenced object is read back and re-hashed (or a random --sample of them). Problems are listed
    with the short digest, the kind (missing or corrupt) and what references the object. Exits with 1 when a
    problem is found and 0 when the store is clean, so scripts and CI can call it.

    Examples:
        modelyard fsck
        modelyard fsck --sample 10% --json
    """
    from modelyard.stores import maintenance

    client = current_client()
    report = maintenance.fsck(client.metadata, client.artifacts, sample=sample)
    if as_json:
        output.print_json(_fsck_json(report))
    else:
        _print_fsck(report)
    if not report.is_clean:
        ctx.exit(1)


# -- gc ------------------------------------------------------------------------------------------------------
def _gc_json(report: GcReport) -> dict[str, object]:
    return {
        "dry_run": report.dry_run,
        "unreferenced": [
            {"digest": str(stored.digest), "size_bytes": stored.size_bytes} for stored in report.unreferenced
        ],
        "reclaimable_bytes": report.reclaimable_bytes,
        "kept_young": report.kept_young,
        "deleted": report.deleted,
    }


def _print_gc(report: GcReport, grace_s: float) -> None:
    count, size = len(report.unreferenced), output.format_bytes(report.reclaimable_bytes)
    if report.unreferenced:
        table = output.new_table("digest", "size", numeric=("size",), no_wrap=("size",))
        for stored in report.unreferenced[:GC_LISTED]:
            table.add_row(str(stored.digest), output.format_bytes(stored.size_bytes))
        output.print_renderable(table)
        if count > GC_LISTED:
            output.print_renderable(f"... and {count - GC_LISTED} more (--json lists them all).")
    if report.kept_young:
        output.print_renderable(
            f"Kept {output.plural(report.kept_young, 'unreferenced object')} younger than the grace period "
            f"({output.format_duration(grace_s)})."
        )
    if report.dry_run:
        output.print_renderable(f"Would delete {output.plural(count, 'unreferenced object')}, {size}.")
        if count:
            output.note("This was a dry run; pass --yes to delete them.", style="yellow")
    else:
        output.print_renderable(f"Deleted {output.plural(report.deleted, 'unreferenced object')}, {size}.")


@click.command(cls=ModelyardCommand)
@click.option("--yes/--dry-run", "delete", default=False, help="Delete the objects; the default only lists them.")
@click.option(
    "--grace", "grace_s", type=Duration(), default="1h", show_default=True, metavar="DURATION",
    help="Spare objects written more recently than this (3600, 90s, 15m, 1h, 2d); "
    "their metadata may still be in flight.",
)  # fmt: skip
@output.json_option
def gc(delete: bool, grace_s: float, as_json: bool) -> None:
    """Delete unreferenced objects (a dry run unless --yes).

    Objects younger than the grace period are kept, so a write whose metadata is not committed yet is never
    collected. The dry run lists what would go and how many bytes it would free.

    Examples:
        modelyard gc
        modelyard gc --yes --grace 15m
    """
    from modelyard.stores import maintenance

    client = current_client()
    report = maintenance.gc(client.metadata, client.artifacts, dry_run=not delete, grace_s=grace_s)
    if as_json:
        output.print_json(_gc_json(report))
    else:
        _print_gc(report, grace_s)
