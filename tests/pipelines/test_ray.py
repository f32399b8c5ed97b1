"""The Ray runner on a local Ray instance: the same pipeline code, the same results as the other runners."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.errors import StepFailedError
from modelyard.pipelines.models import StepStatus
from tests.pipelines import flows

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    import ray  # installed with the test dependencies: a missing Ray fails, never skips

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # loopback only, started and stopped by this module
    started = time.monotonic()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    assert time.monotonic() - started < 120
    yield
    ray.shutdown()


def _digests(run: object) -> dict[str, list[str]]:
    return {s.name: [o.digest for o in s.outputs] for s in run.steps}  # type: ignore[attr-defined]


def test_ray_runner_gives_the_same_outputs_as_inline_and_local(ray_instance: None, local_yard: Client) -> None:
    inline = flows.training.run(runner="inline", client=local_yard, cache=False)
    on_ray = flows.training.run(runner="ray", client=local_yard, cache=False)
    local = flows.training.run(runner="local", workers=2, client=local_yard, cache=False)
    assert on_ray.succeeded
    assert local_yard.get_run(on_ray.id).tags["pipeline.runner"] == "ray"
    assert _digests(on_ray) == _digests(inline) == _digests(local)
    assert on_ray.load("evaluate") == inline.load("evaluate")


def test_ray_runner_uses_and_fills_the_cache(ray_instance: None, local_yard: Client, tmp_path: Path) -> None:
    marker = str(tmp_path / "ran.txt")
    first = flows.training.run(runner="ray", client=local_yard, marker=marker)
    again = flows.training.run(runner="ray", client=local_yard, marker=marker)
    assert [s.cache_hit for s in first.steps] == [False, False, False]
    assert [s.cache_hit for s in again.steps] == [True, True, True]
    assert flows.marks(marker) == ["prepare", "train", "evaluate"]  # each step ran once, in a Ray worker


def test_ray_runner_retries_and_enforces_timeouts(ray_instance: None, local_yard: Client, tmp_path: Path) -> None:
    counter = str(tmp_path / "counter.txt")
    retried = flows.retrying.run(runner="ray", client=local_yard, counter=counter, fail_times=2)
    assert retried.succeeded
    assert retried.step("flaky").attempts == 3
    started = time.monotonic()
    with pytest.raises(StepFailedError, match="timeout") as caught:
        flows.timing_out.run(runner="ray", client=local_yard, marker=str(tmp_path / "slow.txt"))
    assert time.monotonic() - started < 25
    run = caught.value.run
    assert run.step("slow").status is StepStatus.FAILED
    assert run.step("quick").status is StepStatus.SUCCEEDED  # the independent branch finished
