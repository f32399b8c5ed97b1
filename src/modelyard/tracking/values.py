"""Validation of what users log: keys, param and tag values, metric values and steps.

Checked at call time, before buffering, so a bad value fails at the line that logged it.
Decision (docs/tracking.md): NaN and ±inf metric values are refused, because a value that cannot be
compared or ordered makes search and "best run" answers meaningless; log a divergence as a tag instead.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from numbers import Real

from modelyard.errors import InvalidInputError

__all__ = ["check_key", "metric_value", "param_value", "step_value", "tag_value"]

KEY_LENGTH = 250
PARAM_VALUE_LENGTH = 6000
TAG_VALUE_LENGTH = 8000
_KEY = re.compile(r"[A-Za-z0-9_\-. /:]+")


def check_key(key: object, what: str) -> str:
    """Return ``key`` if it is a valid name for a param, metric or tag."""
    if key.__class__ is str:
        return _checked_key(key, what)
    raise InvalidInputError(
        f"{what.capitalize()} key {key!r} is not a non-empty string.", hint="Use a name such as 'learning_rate'."
    )


@functools.lru_cache(maxsize=4096)
def _checked_key(key: str, what: str) -> str:
    """Validate a key; cached because a training loop logs the same few keys many times."""
    if not key:
        raise InvalidInputError(f"{what.capitalize()} key is empty.", hint="Use a name such as 'learning_rate'.")
    if len(key) > KEY_LENGTH:
        raise InvalidInputError(
            f"{what.capitalize()} key {key[:40]!r}... has {len(key)} characters; the limit is {KEY_LENGTH}.",
            hint="Use a shorter key.",
        )
    if not _KEY.fullmatch(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidInputError(
            f"{what.capitalize()} key {key!r} holds characters other than letters, digits, '_', '-', '.', ' ', "
            "'/' and ':' (or starts with '/').",
            hint="Rename it, e.g. 'val_loss' or 'val/loss'.",
        )
    return key


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return str(value)


def param_value(key: str, value: object) -> str:
    """Return the stored text of a param value."""
    text = _text(value)
    if len(text) > PARAM_VALUE_LENGTH:
        raise InvalidInputError(
            f"Param {key!r} is {len(text)} characters long; the limit is {PARAM_VALUE_LENGTH}.",
            hint="Log large values as an artifact with log_artifact().",
        )
    return text


def tag_value(key: str, value: object) -> str:
    """Return the stored text of a tag value."""
    text = _text(value)
    if len(text) > TAG_VALUE_LENGTH:
        raise InvalidInputError(
            f"Tag {key!r} is {len(text)} characters long; the limit is {TAG_VALUE_LENGTH}.",
            hint="Log large values as an artifact with log_artifact().",
        )
    return text


def metric_value(key: str, value: object) -> float:
    """Return a metric value as a finite float."""
    if value.__class__ is float or value.__class__ is int:  # the common case, without ABC checks
        number = float(value)
    elif isinstance(value, bool) or not isinstance(value, Real):
        try:
            number = float(value)  # type: ignore[arg-type]  # numpy scalars, Decimal, 0-d arrays
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"Metric {key!r} got {value!r} ({type(value).__name__}); metrics are numbers.",
                hint="Log text as a tag with set_tags().",
            ) from None
    else:
        number = float(value)
    if not math.isfinite(number):
        raise InvalidInputError(
            f"Metric {key!r} got {number}; NaN and infinite values are refused.",
            hint="Stop or skip the step, and record the divergence with set_tags({'diverged': 'true'}).",
        )
    return number


def step_value(step: object) -> int:
    """Return a step as an int (0 to 2**62)."""
    if isinstance(step, bool) or not isinstance(step, int):
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        else:
            try:
                step = int(step.__index__())  # type: ignore[attr-defined]  # numpy integers
            except (AttributeError, TypeError):
                raise InvalidInputError(
                    f"Step {step!r} is not a whole number.", hint="Pass step=0, 1, 2, ..."
                ) from None
    if not 0 <= step < 2**62:
        raise InvalidInputError(f"Step {step} is out of range.", hint="Steps run from 0 to 2**62 - 1.")
    return step


def check_mapping(values: Mapping[str, object] | None, what: str) -> Mapping[str, object]:
    """Return ``values`` if it is a mapping of str keys (None means empty)."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidInputError(
            f"{what.capitalize()} must be a mapping of names to values, not {type(values).__name__}.",
            hint="Pass a dict, e.g. {'lr': 0.1}.",
        )
    return values


def merged(values: Mapping[str, object] | None, extra: Mapping[str, object], what: str) -> dict[str, object]:
    """Combine a positional mapping and keyword values (keywords win), checking the mapping's type."""
    return {**check_mapping(values, what), **extra}
