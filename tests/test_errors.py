"""The error tree: stable codes, documented, and messages with hints."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from modelyard import errors


def _classes() -> list[type[errors.ModelyardError]]:
    return [obj for _, obj in inspect.getmembers(errors, inspect.isclass) if issubclass(obj, errors.ModelyardError)]


def test_every_code_is_unique_and_documented() -> None:
    codes = [cls.code for cls in _classes()]
    assert len(codes) == len(set(codes))
    doc = (Path(__file__).parents[1] / "docs" / "errors.md").read_text()
    documented = re.findall(r"^## ([a-z-]+)$", doc, flags=re.M)
    assert sorted(documented) == sorted(codes)


def test_message_and_hint_render_together() -> None:
    exc = errors.NotFoundError("No run 'x'.", hint="List runs.")
    assert str(exc) == "No run 'x'. List runs."
    assert isinstance(exc, LookupError)
    assert isinstance(errors.InvalidInputError("bad"), ValueError)
    assert str(errors.ConfigError("plain")) == "plain"


def test_close_matches_suggests_names() -> None:
    assert errors.close_matches("churn", ["chrun", "fraud"]) == " Did you mean 'chrun'?"
    assert errors.close_matches("zzz", ["churn"]) == ""
