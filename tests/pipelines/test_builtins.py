"""The built-in steps in a real gated pipeline: data tests, time split, evaluation, the gate, register, promote."""

from __future__ import annotations

import pytest

from modelyard.client import Client
from modelyard.data import Column, DataTests
from modelyard.errors import GateFailedError, StepFailedError
from modelyard.pipelines.models import StepStatus
from tests.pipelines import model_flows

TESTS = DataTests([Column("a", type="number", nullable=False, min=-10, max=10), Column("y", isin=[0, 1])])


def _commit(client: Client, noise: float = 0.0, seed: int = 0) -> str:
    client.datasets.attach_tests("table", TESTS, policy="mark")
    return client.datasets.commit("table", model_flows.frame(seed=seed, noise=noise)).ref


def test_first_model_passes_the_gate_and_is_promoted(local_yard: Client) -> None:
    ref = _commit(local_yard)
    run = model_flows.gated.run(data=ref, runner="inline", client=local_yard)
    assert run.succeeded
    assert run.check() is run
    assert run.gates_passed is True
    split = run.step("split")
    assert [o.name for o in split.outputs] == ["train", "test"]
    test = run.load("split", "test")
    assert set(test["month"]) == {4}
    assert set(run.load("split", "train")["month"]) == {1, 2, 3}
    evaluation = run.load("evaluate")
    assert evaluation.metrics["auc"] > 0.9
    assert local_yard.get_run(run.step("evaluate").run_id).metric("auc") == pytest.approx(evaluation.metrics["auc"])
    report = run.load("check_model")
    assert report.passed
    assert report.baseline is None  # no champion yet
    registered = run.load("register")
    assert (registered.name, registered.version, registered.created) == ("clf", 1, True)
    promotion = run.load("promote")
    assert promotion.moved
    production = local_yard.models.get_version("clf@production")
    assert production.version == 1
    assert production.lineage.pipeline_run_id == run.id
    assert production.source == f"runs:/{run.step('fit').run_id}/fit"  # logged under the step's name
    signature = local_yard.models.manifest("clf@production").signature
    assert signature is not None  # from the step's table input: the columns the model was fitted on
    assert [c.name for c in signature.inputs] == ["month", "a", "b"]  # type: ignore[union-attr]
    assert production.lineage.datasets == (ref,)
    assert "gate passed" in (local_yard.models.history("clf", alias="production")[-1].reason or "")


def test_a_worse_model_is_registered_but_not_promoted_and_the_gate_fails(local_yard: Client) -> None:
    clean = _commit(local_yard)
    model_flows.gated.run(data=clean, runner="inline", client=local_yard)
    noisy = _commit(local_yard, noise=0.45, seed=1)
    run = model_flows.gated.run(data=noisy, runner="inline", client=local_yard, min_auc=0.0)
    assert run.status is StepStatus.SUCCEEDED  # every step ran ...
    assert run.gates_passed is False  # ... but the gate failed, so the run did not succeed
    assert not run.succeeded
    with pytest.raises(GateFailedError, match=r"gate 'check_model' \(no regression auc\) failed") as caught:
        run.check()
    assert caught.value.report == run.load("check_model")
    assert caught.value.run is run
    report = run.load("check_model")
    assert report.baseline == "clf/1"
    assert [c.name for c in report.checks if not c.passed] == [
        next(c.name for c in report.checks if "regression" in c.name)
    ]
    assert run.load("register").version == 2
    promotion = run.load("promote")
    assert not promotion.moved
    assert "gate failed" in promotion.reason
    assert local_yard.models.get_version("clf@production").version == 1


def test_register_is_idempotent_by_package(local_yard: Client) -> None:
    ref = _commit(local_yard)
    first = model_flows.gated.run(data=ref, runner="inline", client=local_yard)
    again = model_flows.gated.run(data=ref, runner="inline", client=local_yard)
    assert again.step("fit").cache_hit
    assert not again.step("register").cache_hit  # registry steps always run ...
    assert again.load("register").created is False  # ... and find the version the same package already has
    assert again.load("register").version == first.load("register").version
    assert "already points" in again.load("promote").reason
    assert len(local_yard.models.versions("clf")) == 1


def test_broken_data_stops_the_pipeline_at_validate_with_the_report(local_yard: Client) -> None:
    local_yard.datasets.attach_tests("table", TESTS, policy="mark")
    broken = model_flows.frame()
    broken.loc[:9, "a"] = 99.0
    ref = local_yard.datasets.commit("table", broken).ref
    with pytest.raises(StepFailedError, match=r"step 'validate' failed") as caught:
        model_flows.gated.run(data=ref, runner="inline", client=local_yard)
    assert "FAIL column 'a'" in caught.value.message
    run = caught.value.run
    assert run.step("validate").status is StepStatus.FAILED
    assert all(s.status is StepStatus.SKIPPED for s in run.steps[1:])
    assert not local_yard.metadata.step_cache.list(step="validate")


def test_gated_pipeline_on_the_local_runner_equals_inline(local_yard: Client, tmp_path: object) -> None:
    ref = _commit(local_yard)
    inline = model_flows.gated.run(data=ref, runner="inline", client=local_yard, cache=False)
    local = model_flows.gated.run(data=ref, runner="local", workers=2, client=local_yard, cache=False)
    assert local.succeeded
    assert local.load("evaluate") == inline.load("evaluate")
    assert local.step("fit").outputs[0].digest == inline.step("fit").outputs[0].digest  # the same model package
