"""Train/test splits of a pandas DataFrame: random, by time, by group (the core of the built-in split step).

>>> from modelyard.pipelines.splits import split_frame
>>> train, test = split_frame(flights, method="time", by="month")             # months 1..11 train, 12 test
>>> train, test = split_frame(flights, method="group", by="tailnum", seed=7)  # each plane on one side only

Every split is deterministic: the same frame, method, parameters and seed give the same rows on each side, run
after run (the shuffles come from NumPy's seeded ``default_rng``). Rows keep their original order within each
side and the index is reset, so a split never carries the frame's old positions into training code.

pandas and NumPy are imported when a split runs, never when this module is imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from modelyard.errors import InvalidInputError, close_matches

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = ["Split", "SplitMethod", "split_frame"]

SplitMethod = Literal["random", "time", "group"]
_METHODS: tuple[str, ...] = ("random", "time", "group")
# A share computed in floating point (0.7 * 10 = 7.000000000000001) must not round up to the next value.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """The two sides of a split; unpacks as ``train, test = split``.

    Attributes:
        train: the training rows, in their original order, index reset.
        test: the test rows, in their original order, index reset.
    """

    train: pd.DataFrame
    test: pd.DataFrame

    def __iter__(self) -> Iterator[pd.DataFrame]:
        yield self.train
        yield self.test


def split_frame(
    frame: pd.DataFrame,
    *,
    method: SplitMethod = "random",
    test_size: float = 0.2,
    by: str | None = None,
    seed: int = 0,
    cutoff: object | None = None,
) -> Split:
    """Split a DataFrame into train and test rows.

    - ``random``: a seeded shuffle of the rows; ``round(test_size * rows)`` of them go to test.
    - ``time``: ``by`` names a time (or any ordered) column. Rows with ``by < cutoff`` go to train, the rest to
      test. Without ``cutoff``, the cutoff is the ``1 - test_size`` quantile (the next value up) of the
      *distinct* values of ``by``, so ``test_size`` is the share of distinct values in test, and no value of
      ``by`` is on both sides. Missing values of ``by`` have no place in time and are refused.
    - ``group``: all rows with one value of ``by`` go to the same side (missing values form one group).
      Groups are taken in a seeded random order until the test side is as close as possible to
      ``test_size`` of the rows; the result does not depend on the order of the rows in ``frame``.

    Args:
        frame: the rows to split.
        method: ``"random"``, ``"time"`` or ``"group"``.
        test_size: the share of the rows (of the distinct values for ``time``) that go to test, in (0, 1).
        by: the time column (``time``) or the group column (``group``); not used by ``random``.
        seed: the seed of the shuffle (``random`` and ``group``).
        cutoff: ``time`` only: the first value of ``by`` that goes to test, instead of the quantile.

    Returns:
        The two sides as a ``Split``.

    Raises:
        InvalidInputError: an unknown method, ``test_size`` outside (0, 1), ``by`` missing or not a column,
            ``cutoff`` given for a method other than ``time``, or a side that would be empty.

    Example:
        >>> split = split_frame(frame, test_size=0.25, seed=1)
        >>> len(split.test) == round(0.25 * len(frame))
        True

    Added in 0.2.
    """
    _check_arguments(method=method, test_size=test_size, cutoff=cutoff)
    if method == "random":
        if by is not None:
            raise InvalidInputError(
                f"A random split does not use by={by!r}.",
                hint="Drop by, or use method='group' (keep each value on one side) or method='time'.",
            )
        test_mask = _random_mask(len(frame), test_size, seed)
    elif method == "time":
        test_mask = _time_mask(frame, _column(frame, by, method), test_size, cutoff)
    else:
        test_mask = _group_mask(frame, _column(frame, by, method), test_size, seed)
    return _sides(frame, test_mask, method=method, by=by)


def _check_arguments(*, method: str, test_size: float, cutoff: object | None) -> None:
    if method not in _METHODS:
        raise InvalidInputError(
            f"Unknown split method {method!r}.{close_matches(method, _METHODS)}",
            hint="Use one of 'random', 'time' or 'group'.",
        )
    if isinstance(test_size, bool) or not isinstance(test_size, int | float) or not 0 < test_size < 1:
        raise InvalidInputError(
            f"test_size must be a number strictly between 0 and 1, got {test_size!r}.",
            hint="Pass the share of the rows that go to test, such as test_size=0.2.",
        )
    if cutoff is not None and method != "time":
        raise InvalidInputError(
            f"cutoff is only used by time splits, but method={method!r}.",
            hint="Drop cutoff, or use method='time' with by=<time column>.",
        )


def _column(frame: pd.DataFrame, by: str | None, method: str) -> str:
    if by is None:
        raise InvalidInputError(
            f"A {method} split needs by=<column>.",
            hint=f"Pass the {'time' if method == 'time' else 'group'} column as by=.",
        )
    if by not in frame.columns:
        names = [str(column) for column in frame.columns]
        raise InvalidInputError(
            f"Column {by!r} is not in the frame.{close_matches(by, names)}",
            hint=f"Pass one of the frame's columns as by= (it has {len(names)}: {_shorten(names)}).",
        )
    return by


def _shorten(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def _random_mask(rows: int, test_size: float, seed: int) -> npt.NDArray[np.bool_]:
    import numpy as np

    test_rows = round(rows * test_size)
    order = np.random.default_rng(seed).permutation(rows)
    mask = np.zeros(rows, dtype=bool)
    mask[order[:test_rows]] = True
    return mask


def _time_mask(frame: pd.DataFrame, by: str, test_size: float, cutoff: object | None) -> npt.NDArray[np.bool_]:
    column: Any = frame[by]
    missing = int(column.isna().sum())
    if missing:
        raise InvalidInputError(
            f"Time column {by!r} has {missing} missing value(s), which have no place in time.",
            hint=f"Drop or fill the rows with no {by!r} before splitting.",
        )
    if cutoff is None:
        values = column.drop_duplicates().sort_values().to_list()
        if len(values) < 2:
            raise InvalidInputError(
                f"Time column {by!r} has {len(values)} distinct value(s); a time split needs at least 2.",
                hint="Split on a column with more distinct times, or use method='random'.",
            )
        cutoff = values[math.ceil((1 - test_size) * (len(values) - 1) - _EPSILON)]
    try:
        before: Any = column < cutoff
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"cutoff {cutoff!r} cannot be compared with the values of {by!r} ({column.dtype}).",
            hint=f"Pass a cutoff of the same type as {by!r}.",
        ) from exc
    mask: npt.NDArray[np.bool_] = ~before.to_numpy(dtype=bool)
    return mask


def _group_mask(frame: pd.DataFrame, by: str, test_size: float, seed: int) -> npt.NDArray[np.bool_]:
    import numpy as np
    import pandas as pd

    try:
        codes, groups = pd.factorize(frame[by], sort=True, use_na_sentinel=False)
    except TypeError:  # values of mixed types cannot be sorted: fall back to their order of appearance
        codes, groups = pd.factorize(frame[by], sort=False, use_na_sentinel=False)
    if len(groups) < 2:
        raise InvalidInputError(
            f"Group column {by!r} has {len(groups)} distinct value(s); a group split needs at least 2.",
            hint="Split on a column with more groups, or use method='random'.",
        )
    sizes = np.bincount(codes, minlength=len(groups))
    order = np.random.default_rng(seed).permutation(len(groups))
    taken = np.cumsum(sizes[order])[:-1]  # at least one group stays in train
    count = int(np.argmin(np.abs(taken - test_size * len(frame)))) + 1
    mask: npt.NDArray[np.bool_] = np.isin(codes, order[:count])
    return mask


def _sides(frame: pd.DataFrame, test_mask: npt.NDArray[np.bool_], *, method: str, by: str | None) -> Split:
    test_rows = int(test_mask.sum())
    if test_rows == 0 or test_rows == len(frame):
        side = "test" if test_rows == 0 else "train"
        where = f" on {by!r}" if by is not None else ""
        raise InvalidInputError(
            f"The {method} split{where} of {len(frame)} row(s) leaves the {side} side empty.",
            hint="Split more rows, change test_size, or pick a cutoff inside the range of the column.",
        )
    train = frame.iloc[~test_mask].reset_index(drop=True)
    test = frame.iloc[test_mask].reset_index(drop=True)
    return Split(train=train, test=test)
