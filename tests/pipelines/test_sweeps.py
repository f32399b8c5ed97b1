"""Sweeps: trial generation (grid, ranges, samples, seeds), parallel trials as pipeline runs, the best trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.errors import InvalidInputError
from modelyard.pipelines.sweeps import Range, parse_grid, parse_range, trial_params
from tests.pipelines import flows


def test_grid_values_are_typed_and_combined() -> None:
    grid = parse_grid(["train.depth=4,6", "evaluate.threshold=0.5,0.7"])
    assert grid == {"train.depth": [4, 6], "evaluate.threshold": [0.5, 0.7]}
    assert trial_params(grid, {}, samples=None) == [
        {"train.depth": 4, "evaluate.threshold": 0.5},
        {"train.depth": 4, "evaluate.threshold": 0.7},
        {"train.depth": 6, "evaluate.threshold": 0.5},
        {"train.depth": 6, "evaluate.threshold": 0.7},
    ]
    subset = trial_params(grid, {}, samples=2, seed=1)
    assert len(subset) == 2
    assert subset == trial_params(grid, {}, samples=2, seed=1)


def test_ranges_draw_seeded_values_within_bounds() -> None:
    ranges = parse_range(["train.lr=0.001:0.1:log", "train.depth=2:9"])
    assert ranges["train.lr"] == Range(low=0.001, high=0.1, log=True, integer=False)
    assert ranges["train.depth"].integer
    drawn = trial_params({}, ranges, samples=20, seed=3)
    assert len(drawn) == 20
    assert all(0.001 <= t["train.lr"] <= 0.1 for t in drawn)  # type: ignore[operator]
    assert all(isinstance(t["train.depth"], int) and 2 <= t["train.depth"] <= 9 for t in drawn)  # type: ignore[operator]
    assert drawn == trial_params({}, ranges, samples=20, seed=3)
    assert drawn != trial_params({}, ranges, samples=20, seed=4)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: parse_grid(["depth"]), "is not KEY=V1,V2"),
        (lambda: parse_range(["lr=0.1"]), "is not KEY=LOW:HIGH"),
        (lambda: parse_range(["lr=0:1:log"]), "LOW > 0 for log"),
        (lambda: parse_range(["lr=a:b"]), "is not KEY=LOW:HIGH"),
        (lambda: trial_params({}, {}, samples=None), "no trials"),
        (lambda: trial_params({"x": list(range(40)), "y": list(range(40))}, {}, samples=None), "1000 or fewer"),
    ],
)
def test_bad_sweeps_are_refused(make: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make()  # type: ignore[operator]


def test_trials_run_in_parallel_as_child_runs_and_share_the_cache(local_yard: Client, tmp_path: Path) -> None:
    marker = str(tmp_path / "ran.txt")
    trials = trial_params(parse_grid(["train.depth=1,2,3,4"]), {}, samples=None)
    result = local_yard.pipelines.sweep(
        flows.training, [{**t, "marker": marker} for t in trials], metric="evaluate.score", runner="inline", parallel=2
    )
    assert len(result.trials) == 4
    assert all(t.run is not None and t.run.succeeded for t in result.trials)
    best = result.best
    assert best is not None
    assert best.params["train.depth"] == 4  # the score grows with depth
    assert best.value == max(t.value for t in result.trials if t.value is not None)
    sweep_run = local_yard.get_run(result.id)
    assert sweep_run.tags["sweep.best_run"] == best.run.id  # type: ignore[union-attr]
    for trial in result.trials:
        assert local_yard.get_run(trial.run.id).parent_id == result.id  # type: ignore[union-attr]
    ran = flows.marks(marker)
    assert ran.count("train") == 4
    assert ran.count("prepare") <= 2  # shared by every trial: computed once (twice if two trials raced on it)


def test_trials_without_the_objective_fail_and_the_sweep_has_no_best(local_yard: Client, tmp_path: Path) -> None:
    result = local_yard.pipelines.sweep(
        flows.training, [{"train.depth": 2}, {"train.depth": 3}], metric="evaluate.missing", runner="inline"
    )
    assert result.best is None
    assert all("has no metric 'missing'" in (t.error or "") for t in result.trials)
    assert local_yard.get_run(result.id).status.value == "FAILED"
    with pytest.raises(InvalidInputError, match=r"STEP\.METRIC"):
        local_yard.pipelines.sweep(flows.training, [{"train.depth": 2}], metric="score", runner="inline")
