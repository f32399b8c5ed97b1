"""Table profiles: schema and statistics computed at commit, checked against pandas on the same data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from modelyard.client import Client
from tests.data.conftest import flights_like


def test_statistics_match_pandas(yard: Client) -> None:
    frame = flights_like(20_000, seed=3)
    profile = my.datasets.commit("flights", frame).profile
    assert profile is not None
    assert profile.rows == 20_000
    assert profile.schema_types == {
        "flight": "int64",
        "carrier": "string",
        "dep_delay": "double",
        "distance": "int64",
        "time_hour": "timestamp[us, tz=UTC]",
        "cancelled": "bool",
    }
    delay = profile.column("dep_delay")
    expected = frame["dep_delay"]
    assert delay.null_count == int(expected.isna().sum())
    assert delay.count == int(expected.notna().sum())
    assert delay.null_share == pytest.approx(expected.isna().mean())
    assert delay.mean == pytest.approx(expected.mean())
    assert delay.std == pytest.approx(expected.std())
    assert delay.min == pytest.approx(expected.min())
    assert delay.max == pytest.approx(expected.max())
    assert delay.quantiles is not None
    for p, value in delay.quantiles.items():  # a t-digest sketch: close to the exact quantile
        assert value == pytest.approx(expected.quantile(float(p)), abs=0.02 * expected.std())
    distance = profile.column("distance")
    assert distance.distinct == pytest.approx(frame["distance"].nunique(), rel=0.05)
    carrier = profile.column("carrier")
    assert carrier.top == [(k, int(v)) for k, v in frame["carrier"].value_counts().items()]  # exact counts
    assert carrier.min == "AA"
    assert carrier.max == "UA"
    cancelled = profile.column("cancelled")
    assert dict(cancelled.top or []) == {str(k).lower(): int(v) for k, v in frame["cancelled"].value_counts().items()}
    times = profile.column("time_hour")
    assert str(times.min).startswith("2013-01-01")


def test_high_cardinality_text_gets_no_top_values(yard: Client) -> None:
    frame = pd.DataFrame({"id": [f"user-{i}" for i in range(5000)], "group": ["a", "b"] * 2500})
    profile = my.datasets.commit("users", frame).profile
    assert profile is not None
    assert profile.column("id").top is None
    assert profile.column("id").distinct == pytest.approx(5000, rel=0.05)
    assert profile.column("group").top == [("a", 2500), ("b", 2500)]


def test_non_finite_values_do_not_break_the_profile(yard: Client) -> None:
    frame = pd.DataFrame({"x": [1.0, np.inf, -np.inf, np.nan, 2.0], "empty": [None] * 5})
    profile = my.datasets.commit("odd", frame).profile
    assert profile is not None
    x = profile.column("x")
    assert x.null_count == 1
    assert x.min is None or math.isfinite(x.min)  # type: ignore[arg-type]
    assert profile.column("empty").count == 0
    assert profile.model_dump_json()  # stored as strict JSON


def test_profile_of_an_empty_table(yard: Client) -> None:
    profile = my.datasets.commit("none", pd.DataFrame({"a": pd.Series([], dtype="float64")})).profile
    assert profile is not None
    assert profile.rows == 0
    assert profile.column("a").null_share == 0.0
