"""What every command prints: rich tables, JSON documents, times, sizes, durations and the error renderer.

Only ``modelyard.cli`` prints. rich is imported on first use rather than with this module, so ``--help`` and
other commands that print nothing through rich start fast. User data is never read as rich markup: a param
value of ``[red]`` prints as typed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

    from modelyard.errors import ModelyardError

__all__ = [
    "console",
    "format_bytes",
    "format_duration",
    "format_local_time",
    "format_number",
    "iso_time",
    "json_option",
    "new_table",
    "note",
    "plural",
    "print_error",
    "print_json",
    "print_renderable",
]

F = TypeVar("F", bound=Callable[..., object])

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_PIPE_WIDTH = 1000


def json_option(function: F) -> F:
    """Add the ``--json`` flag (parameter ``as_json``) every listing and show command takes."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON document to stdout instead of a table (errors still go to stderr).",
    )(function)


# -- formatting ----------------------------------------------------------------------------------------------
def iso_time(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` suffix and milliseconds, or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # stores return aware times; a naive one is UTC by convention
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_local_time(moment: datetime | None, *, seconds: bool = True) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (or without seconds) in the local time zone, for tables."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``0.4s``, ``3m 07s``, ``2h 05m``, ``3d 04h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{max(seconds, 0.0):.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_bytes(size: int) -> str:
    """A size in binary units: ``512 B``, ``1.5 KiB``, ``3.2 MiB``."""
    if abs(size) < 1024:
        return f"{size} B"
    exponent = min(int(math.log(abs(size), 1024)), len(_BYTE_UNITS) - 1)
    return f"{size / 1024**exponent:.1f} {_BYTE_UNITS[exponent]}"


def plural(count: int, noun: str) -> str:
    """``1 object``, ``2 objects``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_number(value: float | None) -> str:
    """A metric value with 6 significant digits; empty when missing."""
    return "" if value is None else f"{value:.6g}"


# -- printing ------------------------------------------------------------------------------------------------
def console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr) that never interprets markup, emoji codes or highlights.

    When the stream is not a terminal (a pipe, a file), lines are not wrapped at 80 columns: one table row
    stays one line for ``grep`` and ``less``.
    """
    from rich.console import Console

    made = Console(stderr=stderr, markup=False, emoji=False, highlight=False)
    if not made.is_terminal:
        made.width = max(made.width, _PIPE_WIDTH)
    return made


def new_table(
    *headers: str, title: str | None = None, numeric: tuple[str, ...] = (), no_wrap: tuple[str, ...] = ()
) -> Table:
    """A table with the house look: right-aligned ``numeric`` columns; long cells fold unless ``no_wrap``."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
    )
    for header in headers:
        table.add_column(
            header,
            justify="right" if header in numeric else "left",
            overflow="fold",
            no_wrap=header in no_wrap,
        )
    return table


def print_renderable(renderable: RenderableType) -> None:
    """Print a table or text to stdout."""
    console().print(renderable)


def print_json(document: object) -> None:
    """Print one JSON document to stdout (stdlib json, UTF-8, refusing NaN so the output is strict JSON)."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False))


def note(message: str, *, style: str | None = None) -> None:
    """Print a remark for the human (paging hints, hidden columns) to stderr, so stdout stays parseable."""
    console(stderr=True).print(message, style=style, soft_wrap=True)


def print_error(error: ModelyardError) -> None:
    """Render ``Error [code]: message`` and ``Hint: hint`` to stderr in red and yellow."""
    from rich.text import Text

    stderr = console(stderr=True)
    stderr.print(Text.assemble((f"Error [{error.code}]: ", "bold red"), (error.message, "red")), soft_wrap=True)
    if error.hint:
        stderr.print(Text.assemble(("Hint: ", "bold yellow"), (error.hint, "yellow")), soft_wrap=True)
