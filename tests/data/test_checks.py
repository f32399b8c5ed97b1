"""Data tests: every expectation passing and failing, stored suites, commit policies, and sandboxed SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.data import Column, Custom, DataTests, Expression, Fresh, RowCount, Unique, VersionStatus
from modelyard.errors import DataTestsFailedError, InvalidInputError, NotFoundError
from tests.data.conftest import flights_like

GOOD = DataTests(
    [
        Column("flight", type="int", nullable=False, unique=True, min=0),
        Column("carrier", type="string", nullable=False, isin=["AA", "B6", "DL", "UA"], pattern="[A-Z0-9]{2}"),
        Column("dep_delay", type="number", min=-200, max=400),
        Unique(["flight", "carrier"]),
        RowCount(min=100, max=1_000_000),
        Expression("distance is positive", "distance > 0"),
    ]
)


def _results(report: object) -> dict[str, tuple[bool, str]]:
    return {r.name: (r.passed, r.detail) for r in report.results}  # type: ignore[attr-defined]


def test_a_good_table_passes_every_expectation(yard: Client) -> None:
    version = my.datasets.commit("flights", flights_like(1000), tests=GOOD)
    assert version.status is VersionStatus.PASSED
    assert version.checks is not None
    assert version.checks.passed
    assert [r.passed for r in version.checks.results] == [True] * 6


def test_each_expectation_catches_its_problem(yard: Client) -> None:
    frame = flights_like(1000)
    frame.loc[3, "carrier"] = "ZZ"
    frame.loc[4, "carrier"] = "lowercase"
    frame.loc[5, ["flight", "carrier"]] = frame.loc[6, ["flight", "carrier"]].to_numpy()
    frame.loc[7, "dep_delay"] = 9999.0
    frame.loc[8, "distance"] = -5
    frame.loc[9, "carrier"] = None
    version = my.datasets.commit("flights", frame, tabular=True)
    report = version.validate(GOOD)
    found = _results(report)
    assert not report.passed
    assert found["column 'flight'"] == (False, "1 duplicates")
    passed, detail = found["column 'carrier'"]
    assert not passed
    assert "1 nulls" in detail
    assert "2 values not allowed" in detail
    assert "1 values not matching the pattern" in detail
    assert found["column 'dep_delay'"] == (False, "1 outside [-200, 400]")
    assert found["unique (flight, carrier)"] == (False, "1 duplicates")
    assert found["row count"] == (True, "1,000 rows")
    assert found["distance is positive"] == (False, "1 rows violate it")
    failing = next(r for r in report.results if r.name == "distance is positive")
    assert failing.failing_rows == 1
    assert failing.examples[0]["distance"] == -5
    text = report.summary()
    assert text.startswith("FAILED: 1 of 6 expectations hold on 1,000 rows.")
    assert "FAIL column 'dep_delay': 1 outside [-200, 400]" in text
    assert "e.g. flight=8" in text


def test_types_missing_columns_row_counts_and_freshness(yard: Client) -> None:
    frame = flights_like(50)
    version = my.datasets.commit("small", frame)
    newest = frame["time_hour"].max().to_pydatetime()
    suite = DataTests(
        [
            Column("distance", type="string"),
            Column("nope"),
            RowCount(min=100),
            Fresh("time_hour", max_age="2d"),
            Fresh("distance", max_age=60),
        ]
    )
    from modelyard.data.checks import TestsPart

    source = yard.datasets.reader.table(version)
    part = TestsPart(suite, source, now=newest + timedelta(hours=30))
    from modelyard.data.tables import scan

    part.finish(*scan(source, part.expressions(), part.taps()))
    found = _results(part.report())
    assert found["column 'distance'"] == (False, "type is int64, expected string")
    assert found["column 'nope'"] == (False, "the table has no column 'nope'")
    assert found["row count"] == (False, "50 rows, expected [100, inf]")
    assert found["fresh 'time_hour'"][0] is True
    assert "30.0 h old (allowed 48.0 h)" in found["fresh 'time_hour'"][1]
    assert found["fresh 'distance'"][0] is False
    stale = TestsPart(DataTests([Fresh("time_hour", max_age=timedelta(hours=1))]), source, now=datetime.now(UTC))
    stale.finish(*scan(source, stale.expressions(), stale.taps()))
    assert not stale.report().passed


def test_custom_python_checks_run_per_batch(yard: Client) -> None:
    version = my.datasets.commit("c", flights_like(3000))
    ok = Custom("carrier codes are short", lambda f: f["carrier"].str.len() == 2)
    bad = Custom("few long delays", lambda f: f["dep_delay"].fillna(0) < 60)
    whole = Custom("frame level", lambda f: len(f) > 10_000)
    broken = Custom("raises", lambda f: f["missing"])
    report = version.validate(DataTests([ok, bad, whole, broken]))
    found = _results(report)
    assert found["carrier codes are short"] == (True, "holds on every row")
    assert not found["few long delays"][0]
    assert found["few long delays"][1].endswith("rows fail it")
    assert found["frame level"] == (False, "3,000 rows fail it")
    assert found["raises"] == (False, "the check raised KeyError: 'missing'")


def test_invalid_sql_is_a_failed_expectation_not_a_crash(yard: Client) -> None:
    version = my.datasets.commit("s", flights_like(100))
    report = version.validate(DataTests([Expression("typo", "distanse > 0"), RowCount(min=1)]))
    found = _results(report)
    assert not found["typo"][0]
    assert found["typo"][1].startswith("invalid SQL: Binder Error")
    assert found["row count"][0]


@pytest.mark.parametrize("reader", ["read_csv", "read_text", "read_parquet", "glob"])
def test_stored_sql_cannot_read_files(yard: Client, tmp_path: Path, reader: str) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    version = my.datasets.commit("s", flights_like(10))
    sql = f"(SELECT count(*) FROM {reader}('{secret}')) > 0"
    result = version.validate(DataTests([Expression("sneaky", sql)])).results[0]
    assert not result.passed
    assert result.detail.startswith("invalid SQL: Permission Error")
    assert "disabled by configuration" in result.detail


def test_suites_are_stored_with_a_dataset_and_run_on_every_commit(yard: Client) -> None:
    attached = my.datasets.attach_tests("flights", GOOD)
    assert attached.has_checks
    assert attached.check_policy.value == "refuse"
    first = my.datasets.commit("flights", flights_like(500))
    assert first.status is VersionStatus.PASSED
    broken = flights_like(500, start=500)
    broken.loc[0, "carrier"] = "XX"
    with pytest.raises(DataTestsFailedError, match=r"fails its data tests, so no version was committed") as caught:
        my.datasets.commit("flights", broken)
    assert "FAIL column 'carrier': 1 values not allowed" in str(caught.value)
    assert caught.value.report is not None
    assert [v.number for v in my.datasets.versions("flights")] == [1]  # nothing half-written
    my.datasets.attach_tests("flights", GOOD, policy="mark")
    marked = my.datasets.commit("flights", broken, message="bad month")
    assert marked.number == 2
    assert marked.status is VersionStatus.FAILED
    assert my.datasets.get("flights@latest").number == 1  # latest skips failed versions
    assert my.datasets.get_dataset("flights").newest == 2
    report = my.datasets.validate("flights@2")
    assert not report.passed
    my.datasets.attach_tests("flights", None)
    assert not my.datasets.get_dataset("flights").has_checks
    with pytest.raises(InvalidInputError, match="has no data tests attached and none were given"):
        my.datasets.validate("flights@1")


def test_latest_when_every_version_failed(yard: Client) -> None:
    my.datasets.attach_tests("bad", DataTests([RowCount(min=10**9)]), policy="mark")
    my.datasets.commit("bad", flights_like(10))
    with pytest.raises(NotFoundError, match="has no latest version: all of its versions failed their data tests"):
        my.datasets.get("bad")


def test_python_checks_cannot_be_stored(yard: Client) -> None:
    suite = DataTests([Custom("code", lambda f: True)])
    with pytest.raises(InvalidInputError, match="holds the Python check 'code', which cannot be stored"):
        my.datasets.attach_tests("x", suite)


def test_stored_form_round_trips(tmp_path: Path) -> None:
    suite = DataTests(
        [
            Column("a", type="float", nullable=False, min=0.5, max=2, isin=[1, 2.5, "x"], pattern="a+", unique=True),
            Unique("k"),
            RowCount(max=10),
            Fresh("t", max_age="36h"),
            Expression("e", "a > 0"),
        ]
    )
    again = DataTests.from_json(suite.to_json())
    assert again.to_json() == suite.to_json()
    assert again.expectations[3].max_age_s == 36 * 3600  # type: ignore[union-attr]
    with pytest.raises(InvalidInputError, match="Stored data tests are not valid"):
        DataTests.from_json('[{"kind": "nothing"}]')


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DataTests([]), "needs at least one expectation"),
        (lambda: DataTests(["not a check"]), "is not a data-test expectation"),  # type: ignore[list-item]
        (lambda: Column("x", pattern="("), "is not a regular expression"),
        (lambda: Fresh("t", max_age="soon"), "is not a duration"),
        (lambda: Column("x", min=float("nan")).model_dump(), None),
    ],
)
def test_bad_declarations(build: object, message: str | None) -> None:
    if message is None:
        build()  # type: ignore[operator]
        return
    with pytest.raises(InvalidInputError, match=message):
        build()  # type: ignore[operator]


def test_tests_need_a_table(yard: Client, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match="holds no Parquet or CSV file, so there is no table"):
        my.datasets.commit("notes", tmp_path / "notes.txt", tests=GOOD)
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(InvalidInputError, match="Data tests need the table"):
        my.datasets.commit("t", frame, tests=GOOD, tabular=False)
