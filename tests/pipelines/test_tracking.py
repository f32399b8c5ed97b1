"""Pipeline runs in tracking: a run with a child run per step attempt, params, logs, metrics, and records read back."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import NotFoundError, StepFailedError
from modelyard.pipelines.models import PipelineRun, StepRun, StepStatus
from modelyard.pipelines.records import SPEC
from modelyard.tracking.models import Run, RunStatus
from tests.pipelines import flows


def children(client: Client, run: PipelineRun) -> list[Run]:
    """The step runs of a pipeline run, oldest first."""
    found = client.search_runs(run.pipeline, filter=f"attributes.parent_id = '{run.id}'", max_results=1000).runs
    return sorted(found, key=lambda r: (r.start_time, int(r.tags.get("pipeline.attempt", "1"))))


def child(client: Client, run: PipelineRun, step: str) -> Run:
    return client.get_run(run.step(step).run_id or "")


def essentials(step: StepRun) -> tuple[object, ...]:
    return (step.name, step.status, step.cache_hit, step.cache_key, step.run_id, step.outputs)


def test_a_pipeline_run_is_a_tracked_run_with_a_child_run_per_step_attempt(local_yard: Client, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    run = flows.retrying.run(runner="inline", client=local_yard, counter=str(counter), fail_times=1)
    parent = local_yard.get_run(run.id)
    assert parent.experiment_name == "retrying"
    assert parent.status is RunStatus.FINISHED
    assert parent.parent_id is None
    assert parent.tags["pipeline.name"] == "retrying"
    assert parent.tags["pipeline.status"] == "succeeded"
    assert parent.tags["pipeline.runner"] == "inline"
    assert parent.tags["pipeline.entry"] == "tests.pipelines.flows:retrying"
    assert SPEC in [a.path for a in local_yard.list_artifacts(run.id)]

    steps = children(local_yard, run)
    assert [(r.tags["pipeline.step"], r.tags["pipeline.attempt"], r.status) for r in steps] == [
        ("flaky", "1", RunStatus.FAILED),
        ("flaky", "2", RunStatus.FINISHED),
        ("double", "1", RunStatus.FINISHED),
    ]
    assert all(r.parent_id == run.id for r in steps)
    assert all(r.tags["pipeline.cache_hit"] == "false" for r in steps)
    assert [r.tags["pipeline.cache_key"] for r in steps] == [
        run.step("flaky").cache_key,
        run.step("flaky").cache_key,
        run.step("double").cache_key,
    ]
    assert steps[1].id == run.step("flaky").run_id
    assert steps[2].tags["pipeline.inputs"] == '{"value":"flaky"}'

    again = flows.retrying.run(runner="inline", client=local_yard, counter=str(counter), fail_times=1)
    hits = children(local_yard, again)
    assert [(r.tags["pipeline.step"], r.tags["pipeline.cache_hit"], r.status) for r in hits] == [
        ("flaky", "true", RunStatus.FINISHED),
        ("double", "true", RunStatus.FINISHED),
    ]
    assert hits[0].tags["pipeline.source"] == f"cache:{run.step('flaky').run_id}"
    assert local_yard.get_run(again.id).tags["pipeline.cache_hits"] == "2"


def test_step_params_are_logged_with_the_step_run(local_yard: Client) -> None:
    run = flows.training.run(runner="inline", client=local_yard, overrides=["train.depth=4"], rows=7)
    assert child(local_yard, run, "prepare").params == {"rows": "7", "marker": ""}
    assert child(local_yard, run, "train").params == {"depth": "4", "marker": ""}  # not the frame it takes
    assert child(local_yard, run, "evaluate").params == {"threshold": "0.5", "marker": ""}


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_what_a_step_prints_is_its_step_log(local_yard: Client, tmp_path: Path, runner: str) -> None:
    run = flows.talking.run(runner=runner, workers=1, client=local_yard, cache=False)
    chatty = child(local_yard, run, "chatty")
    assert "step.log" in [a.path for a in local_yard.list_artifacts(chatty.id)]
    log = local_yard.download_artifacts(chatty.id, "step.log", tmp_path / "download").read_text(encoding="utf-8")
    assert log.splitlines()[:3] == ["chatty says hello 0", "chatty says hello 1", "chatty says hello 2"]
    assert "step.log" not in [a.path for a in local_yard.list_artifacts(child(local_yard, run, "double").id)]


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_metrics_logged_in_a_step_land_on_its_step_run(
    local_yard: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: str
) -> None:
    # A worker that logged to a default home of its own would write to tmp_path, never to the repository.
    monkeypatch.setenv("MODELYARD_URI", str(tmp_path / "default-home"))
    monkeypatch.chdir(tmp_path)
    run = flows.talking.run(runner=runner, workers=1, client=local_yard, cache=False)
    my.flush()
    chatty = child(local_yard, run, "chatty")
    assert "loss" in chatty.metrics, f"the step's run has metrics {sorted(chatty.metrics)}"
    history = local_yard.get_metric_history(chatty.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert local_yard.get_run(run.id).metrics == {}  # not on the pipeline run
    assert child(local_yard, run, "double").metrics == {}


def test_get_rebuilds_the_record_of_a_run(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for _ in range(2):  # a run that computes, then one the cache answers
        run = flows.training.run(runner="inline", client=local_yard, marker=str(marker))
        got = local_yard.pipelines.get(run.id)
        assert got.id == run.id
        assert got.pipeline == "training"
        assert got.status is run.status is StepStatus.SUCCEEDED
        assert [essentials(s) for s in got.steps] == [essentials(s) for s in run.steps]
        assert got.cache_hits == run.cache_hits
        assert got.load("evaluate") == run.load("evaluate")
    assert run.cache_hits == 3


def test_get_rebuilds_the_statuses_of_a_failed_run(local_yard: Client, tmp_path: Path) -> None:
    with pytest.raises(StepFailedError, match="step 'fragile' failed") as caught:
        flows.branches.run(runner="inline", client=local_yard, flag=str(tmp_path / "missing"))
    record = caught.value.run
    assert isinstance(record, PipelineRun)
    got = local_yard.pipelines.get(record.id)
    assert got.status is StepStatus.FAILED
    assert [(s.name, s.status, s.cache_hit, s.run_id, s.outputs) for s in got.steps] == [
        (s.name, s.status, s.cache_hit, s.run_id, s.outputs) for s in record.steps
    ]


def test_get_rebuilds_attempts(local_yard: Client) -> None:
    flows.training.run(runner="inline", client=local_yard)
    cached = flows.training.run(runner="inline", client=local_yard)
    got = local_yard.pipelines.get(cached.id)
    assert [(s.name, s.attempts) for s in got.steps] == [(s.name, s.attempts) for s in cached.steps]


def test_get_rebuilds_params(local_yard: Client) -> None:
    run = flows.training.run(runner="inline", client=local_yard, rows=9)
    assert run.params["prepare.rows"] == 9
    assert local_yard.pipelines.get(run.id).params == run.params


def test_get_rebuilds_step_errors(local_yard: Client, tmp_path: Path) -> None:
    with pytest.raises(StepFailedError, match="step 'fragile' failed") as caught:
        flows.branches.run(runner="inline", client=local_yard, flag=str(tmp_path / "missing"))
    record = caught.value.run
    assert isinstance(record, PipelineRun)
    got = local_yard.pipelines.get(record.id)
    assert got.step("fragile").error == record.step("fragile").error
    assert got.failure == record.failure


def test_get_refuses_a_run_that_is_not_a_pipeline_run(local_yard: Client) -> None:
    with local_yard.start_run("plain") as plain:
        pass
    with pytest.raises(NotFoundError, match=f"Run {plain.id} is not a pipeline run"):
        local_yard.pipelines.get(plain.id)
