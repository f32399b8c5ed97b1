"""The demo's data part: 2013's flights arrive month by month as versions of one dataset, guarded by tests.

Each month's delivery is committed as the table of every flight so far (a growing Parquet file with
content-defined pages), so most of each version's bytes are already stored; the data tests run on every
commit, and a broken delivery is refused with its report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.client import Client
from modelyard.data import CheckReport, Column, DataDiff, DataTests, RowCount

__all__ = ["DATASET", "FLIGHT_TESTS", "TRAINING_TAG", "DataSummary", "commit_months"]

DATASET = "flights"
TRAINING_TAG = "q1"
CARRIERS = ["9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"]

FLIGHT_TESTS = DataTests(
    [
        Column("month", type="int", nullable=False, min=1, max=12),
        Column("carrier", type="string", nullable=False, isin=CARRIERS),
        Column("origin", type="string", nullable=False, isin=["EWR", "JFK", "LGA"]),
        Column("distance", type="number", nullable=False, min=1, max=6000),
        Column("dep_hour", min=0, max=24),
        Column("temp", type="number", min=-30, max=125),
        Column("late", nullable=False, isin=[0, 1]),
        RowCount(min=1000),
    ]
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSummary:
    """What committing the months did."""

    versions: int
    logical_bytes: int  # sum of every version's size: what a copy per version would store
    stored_bytes: int  # what was actually stored
    rows: int
    refused: CheckReport | None  # the broken June delivery's report (kept as a version marked failed)
    diff: DataDiff
    months: dict[int, str]  # month -> the version holding every flight through it
    broken: str | None  # the broken June delivery's version


def _broken(month: Any) -> Any:
    """A delivery gone wrong: a feed that lost its carrier codes and flipped some distances."""
    broken = month.copy()
    broken.loc[broken.index[:40], "carrier"] = "??"
    broken.loc[broken.index[40:90], "distance"] = -broken.loc[broken.index[40:90], "distance"]
    return broken


def commit_months(client: Client, frame: Any, progress: Any) -> DataSummary:
    """Attach the tests, commit months 1..12 one at a time, try one broken delivery, and diff March to April."""
    import pandas as pd

    frame = frame.sort_values("month", kind="stable").reset_index(drop=True)
    datasets = client.datasets
    datasets.attach_tests(DATASET, FLIGHT_TESTS, policy="mark")  # a failing delivery is kept, marked failed
    months = sorted(int(m) for m in frame["month"].unique())
    base = datasets.get_dataset(DATASET).newest or 0
    refused: CheckReport | None = None
    broken_ref: str | None = None
    refs: dict[int, str] = {}
    for month in months:
        so_far = frame[frame["month"] <= month]
        if month == 6:  # June's first delivery is broken; the fixed one follows
            broken = pd.concat([frame[frame["month"] < month], _broken(frame[frame["month"] == month])])
            bad = datasets.commit(DATASET, broken.reset_index(drop=True), message="June (broken feed)")
            broken_ref, refused = bad.ref, bad.checks
            failed = len(refused.failures) if refused is not None else 0
            progress(
                f"{bad.ref}: June's first delivery failed its data tests ({failed} expectations); kept, marked failed"
            )
        version = datasets.commit(DATASET, so_far.reset_index(drop=True), message=f"flights through month {month}")
        refs[month] = version.ref
        progress(f"{version.ref}: {len(so_far):,} flights, stored {version.stored_bytes / 1e6:.2f} MB new")
        if month == 3:
            datasets.tag(version.ref, TRAINING_TAG, reason="training data: January to March")
    versions = [v for v in datasets.versions(DATASET) if v.number > base]
    return DataSummary(
        versions=len(versions),
        logical_bytes=sum(v.size_bytes for v in versions),
        stored_bytes=sum(v.stored_bytes for v in versions),
        rows=len(frame),
        refused=refused,
        diff=datasets.diff(refs[3], refs[4])
        if 3 in refs and 4 in refs
        else datasets.diff(refs[months[0]], refs[months[-1]]),
        months=refs,
        broken=broken_ref,
    )
