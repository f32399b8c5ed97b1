"""Train/test splits: reproducible, whole groups, no time leakage, clear errors."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidInputError
from modelyard.pipelines.splits import Split, split_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    rows = 200
    return pd.DataFrame(
        {
            "row": np.arange(rows),
            "month": rng.integers(1, 5, size=rows),
            "store": rng.choice([f"s{i}" for i in range(12)], size=rows),
            "x": rng.normal(size=rows),
        },
        index=pd.RangeIndex(1000, 1000 + rows),
    )


def _rows(split: Split) -> tuple[list[int], list[int]]:
    return split.train["row"].tolist(), split.test["row"].tolist()


def test_the_module_imports_without_pandas() -> None:
    code = "import sys, modelyard.pipelines.splits; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_random_split_is_reproducible_and_sized(frame: pd.DataFrame) -> None:
    first = split_frame(frame, test_size=0.25, seed=3)
    again = split_frame(frame, test_size=0.25, seed=3)
    pd.testing.assert_frame_equal(first.train, again.train)
    pd.testing.assert_frame_equal(first.test, again.test)
    assert len(first.test) == 50
    assert len(first.train) == 150
    train, test = _rows(first)
    assert sorted(train + test) == list(range(200))


def test_random_split_with_another_seed_differs(frame: pd.DataFrame) -> None:
    assert _rows(split_frame(frame, seed=1)) != _rows(split_frame(frame, seed=2))


def test_sides_keep_the_original_order_and_reset_the_index(frame: pd.DataFrame) -> None:
    train, test = split_frame(frame, seed=5)
    for side in (train, test):
        assert side["row"].is_monotonic_increasing
        assert side.index.equals(pd.RangeIndex(len(side)))
    assert list(train.columns) == list(frame.columns)


def test_split_unpacks_as_train_then_test(frame: pd.DataFrame) -> None:
    split = split_frame(frame, seed=0)
    train, test = split
    assert train is split.train
    assert test is split.test


def test_time_split_puts_the_last_month_in_test(frame: pd.DataFrame) -> None:
    train, test = split_frame(frame, method="time", by="month", test_size=0.2)
    assert sorted(train["month"].unique()) == [1, 2, 3]
    assert sorted(test["month"].unique()) == [4]
    assert len(train) + len(test) == len(frame)


@pytest.mark.parametrize("test_size", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_time_split_has_no_overlap_and_train_comes_first(test_size: float) -> None:
    days = pd.date_range("2024-01-01", periods=10, freq="D", tz="UTC")
    frame = pd.DataFrame({"day": np.repeat(days, 3), "x": np.arange(30)}).sample(frac=1.0, random_state=0)
    train, test = split_frame(frame, method="time", by="day", test_size=test_size)
    assert set(train["day"]).isdisjoint(set(test["day"]))
    assert train["day"].max() < test["day"].min()
    assert test["day"].nunique() == round(test_size * 10)


def test_time_split_with_a_cutoff(frame: pd.DataFrame) -> None:
    train, test = split_frame(frame, method="time", by="month", cutoff=3)
    assert set(train["month"]) == {1, 2}
    assert set(test["month"]) == {3, 4}


def test_time_split_with_a_date_cutoff_as_text() -> None:
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=20, freq="D"), "x": range(20)})
    train, test = split_frame(frame, method="time", by="day", cutoff="2024-01-15")
    assert len(train) == 14
    assert test["day"].min() == pd.Timestamp("2024-01-15")


def test_group_split_keeps_groups_whole(frame: pd.DataFrame) -> None:
    train, test = split_frame(frame, method="group", by="store", test_size=0.3, seed=4)
    assert set(train["store"]).isdisjoint(set(test["store"]))
    assert set(train["store"]) | set(test["store"]) == set(frame["store"])
    assert abs(len(test) / len(frame) - 0.3) < 0.1


def test_group_split_is_reproducible_and_seeded(frame: pd.DataFrame) -> None:
    assert _rows(split_frame(frame, method="group", by="store", seed=1)) == _rows(
        split_frame(frame, method="group", by="store", seed=1)
    )
    tests = {frozenset(split_frame(frame, method="group", by="store", seed=s).test["store"]) for s in range(5)}
    assert len(tests) > 1


def test_group_split_does_not_depend_on_row_order(frame: pd.DataFrame) -> None:
    shuffled = frame.sample(frac=1.0, random_state=9)
    test = split_frame(frame, method="group", by="store", seed=2).test
    test_of_shuffled = split_frame(shuffled, method="group", by="store", seed=2).test
    assert set(test["store"]) == set(test_of_shuffled["store"])


def test_group_split_treats_missing_values_as_one_group() -> None:
    frame = pd.DataFrame({"g": ["a", None, "b", None, "c", "a"], "x": range(6)})
    train, test = split_frame(frame, method="group", by="g", test_size=0.3, seed=0)
    assert len(train) + len(test) == 6
    assert sorted([int(train["g"].isna().sum()), int(test["g"].isna().sum())]) == [0, 2]


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"method": "randum"}, "Unknown split method 'randum'. Did you mean 'random'"),
        ({"test_size": 0.0}, "test_size must be a number strictly between 0 and 1, got 0.0"),
        ({"test_size": 1.0}, "strictly between 0 and 1, got 1.0"),
        ({"test_size": True}, "strictly between 0 and 1, got True"),
        ({"method": "time"}, "A time split needs by=<column>."),
        ({"method": "group"}, "A group split needs by=<column>. Pass the group column"),
        ({"method": "time", "by": "mnth"}, "Column 'mnth' is not in the frame. Did you mean 'month'"),
        ({"method": "group", "by": "shop"}, "Column 'shop' is not in the frame"),
        ({"by": "store"}, "A random split does not use by='store'"),
        ({"cutoff": 3}, "cutoff is only used by time splits"),
        ({"method": "time", "by": "month", "cutoff": "x"}, "cutoff 'x' cannot be compared with the values of 'month'"),
        ({"method": "time", "by": "month", "cutoff": 1}, "leaves the train side empty"),
        ({"method": "time", "by": "month", "cutoff": 9}, "leaves the test side empty"),
    ],
)
def test_invalid_splits_say_what_to_do(frame: pd.DataFrame, arguments: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(match)) as caught:
        split_frame(frame, **arguments)  # type: ignore[arg-type]
    assert caught.value.hint


def test_a_split_that_leaves_a_side_empty_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"random split of 2 row\(s\) leaves the test side empty"):
        split_frame(pd.DataFrame({"x": [1, 2]}), test_size=0.1)
    with pytest.raises(InvalidInputError, match=r"random split of 0 row\(s\) leaves the test side empty"):
        split_frame(pd.DataFrame({"x": []}))


def test_a_time_or_group_split_needs_two_values() -> None:
    frame = pd.DataFrame({"day": [1, 1, 1], "x": [1, 2, 3]})
    with pytest.raises(InvalidInputError, match=r"'day' has 1 distinct value\(s\); a time split needs at least 2"):
        split_frame(frame, method="time", by="day")
    with pytest.raises(InvalidInputError, match=r"'day' has 1 distinct value\(s\); a group split needs at least 2"):
        split_frame(frame, method="group", by="day")


def test_a_time_split_refuses_missing_times() -> None:
    frame = pd.DataFrame({"day": [1.0, None, 3.0], "x": [1, 2, 3]})
    with pytest.raises(InvalidInputError, match=r"'day' has 1 missing value\(s\), which have no place in time"):
        split_frame(frame, method="time", by="day")


def test_group_split_of_values_that_cannot_be_sorted() -> None:
    values = [pd.Timestamp("2024-01-01"), "x", 3, (1, 2)] * 5
    frame = pd.DataFrame({"g": pd.Series(values, dtype=object), "x": range(20)})
    train, test = split_frame(frame, method="group", by="g", test_size=0.25, seed=0)
    assert len(test) == 5
    assert set(map(str, train["g"])).isdisjoint(set(map(str, test["g"])))
