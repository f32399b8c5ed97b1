"""The click command and group classes every ``modelyard`` command uses.

Their only addition to click is help formatting: a docstring's ``Examples:`` section is printed verbatim, one
command per line, instead of being re-flowed into one paragraph. Docstrings therefore stay plain Google style
(no click backspace markers) and read the same in the source, in ``--help`` and in the generated docs.
"""

from __future__ import annotations

import inspect
import re

import click

__all__ = ["ModelyardCommand", "ModelyardGroup"]

_EXAMPLES = re.compile(r"^Examples?:\s*$", re.MULTILINE)


class _ExampleHelp(click.Command):
    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = inspect.cleandoc(self.help or "").partition("\f")[0]
        match = _EXAMPLES.search(text)
        if match is None:
            super().format_help_text(ctx, formatter)
            return
        prose, examples = text[: match.start()].rstrip(), text[match.end() :]
        with formatter.indentation():
            if prose:
                formatter.write_paragraph()
                formatter.write_text(prose)
            formatter.write_paragraph()
            formatter.write_text(match.group().strip())
            with formatter.indentation():
                for line in inspect.cleandoc(examples).splitlines():
                    formatter.write(f"{'':>{formatter.current_indent}}{line}\n" if line.strip() else "\n")


class ModelyardCommand(_ExampleHelp, click.Command):
    """A click command whose help prints the docstring's examples verbatim."""


class ModelyardGroup(_ExampleHelp, click.Group):
    """A click group of ``ModelyardCommand``s (``@group.command`` and ``@group.group`` use these classes)."""

    command_class = ModelyardCommand
    group_class = type  # subgroups are of this group's own class
