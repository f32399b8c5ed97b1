"""Runners: parallel worker processes, retries with backoff, timeouts, dying workers, failures and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.errors import InvalidInputError, StepFailedError
from modelyard.pipelines.loading import module_from_file
from modelyard.pipelines.models import PipelineRun, StepStatus
from modelyard.tracking.models import Run, RunStatus
from tests.pipelines import flows

ROOT = Path(__file__).resolve().parents[2]


def digests(run: PipelineRun) -> dict[str, list[str]]:
    return {s.name: [o.digest for o in s.outputs] for s in run.steps}


def statuses(run: PipelineRun) -> dict[str, StepStatus]:
    return {s.name: s.status for s in run.steps}


def children(client: Client, run: PipelineRun) -> list[Run]:
    """The step runs of a pipeline run, oldest first."""
    found = client.search_runs(run.pipeline, filter=f"attributes.parent_id = '{run.id}'", max_results=1000).runs
    return sorted(found, key=lambda r: (r.start_time, int(r.tags.get("pipeline.attempt", "1"))))


def failed_run(caught: pytest.ExceptionInfo[StepFailedError]) -> PipelineRun:
    record = caught.value.run
    assert isinstance(record, PipelineRun)
    assert record.status is StepStatus.FAILED
    return record


# -- parallelism ---------------------------------------------------------------------------------------------------
def test_the_local_runner_runs_independent_steps_in_parallel(local_yard: Client, tmp_path: Path) -> None:
    log = tmp_path / "naps"
    run = flows.fan_out.run(runner="local", workers=2, client=local_yard, log=str(log), seconds=1.0)
    assert statuses(run) == dict.fromkeys(["nap", "nap_2", "nap_3", "nap_4"], StepStatus.SUCCEEDED)
    spans: dict[str, list[float]] = {}
    pids = set()
    for line in flows.marks(log):
        tag, what, at, pid = line.split()
        spans.setdefault(tag, []).append(float(at))
        pids.add(pid)
        assert what in ("start", "end")
    assert sorted(spans) == ["a", "b", "c", "d"]
    events = sorted([(s[0], 1) for s in spans.values()] + [(s[1], -1) for s in spans.values()])
    running, most = 0, 0
    for _, change in events:
        running += change
        most = max(most, running)
    assert most == 2  # two steps at a time: in parallel, and never more than the workers
    assert len(pids) == 2  # two worker processes, each reused for a second step
    first_start = min(s[0] for s in spans.values())
    last_end = max(s[1] for s in spans.values())
    assert last_end - first_start < 3.5  # the serial sum is 4 s


# -- retries -----------------------------------------------------------------------------------------------------------
def test_a_failing_step_is_retried_with_backoff(local_yard: Client, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    run = flows.retrying.run(runner="local", workers=1, client=local_yard, counter=str(counter), fail_times=2)
    assert statuses(run) == {"flaky": StepStatus.SUCCEEDED, "double": StepStatus.SUCCEEDED}
    assert run.step("flaky").attempts == 3
    assert run.load("flaky") == 3
    assert run.load("double") == 6

    times = [float(t) for t in flows.marks(counter)]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.2  # retry_delay_s
    assert times[2] - times[1] >= 0.4  # doubled

    attempts = [r for r in children(local_yard, run) if r.tags["pipeline.step"] == "flaky"]
    assert [r.name for r in attempts] == ["flaky", "flaky (attempt 2)", "flaky (attempt 3)"]
    assert [r.tags["pipeline.attempt"] for r in attempts] == ["1", "2", "3"]
    assert [r.status for r in attempts] == [RunStatus.FAILED, RunStatus.FAILED, RunStatus.FINISHED]
    assert "flaky failure number 1" in attempts[0].tags["pipeline.error"]
    assert "flaky failure number 2" in attempts[1].tags["pipeline.error"]
    assert all(r.parent_id == run.id for r in attempts)
    assert run.step("flaky").run_id == attempts[2].id


def test_a_step_that_keeps_failing_fails_after_its_retries(local_yard: Client, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    with pytest.raises(StepFailedError, match="step 'flaky' failed") as caught:
        flows.retrying.run(runner="inline", client=local_yard, counter=str(counter), fail_times=5)
    record = failed_run(caught)
    assert statuses(record) == {"flaky": StepStatus.FAILED, "double": StepStatus.SKIPPED}
    assert record.step("flaky").attempts == 3
    assert "flaky failure number 3" in (record.step("flaky").error or "")
    assert len(flows.marks(counter)) == 3


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_waiting_out_a_backoff_does_not_spin(local_yard: Client, tmp_path: Path, runner: str) -> None:
    # fails_once is retried after 1.5 s; while nothing else runs, the coordinator should sleep through it.
    counter = tmp_path / "counter"
    wall, cpu = time.monotonic(), time.process_time()
    run = flows.backoff.run(runner=runner, workers=1, client=local_yard, counter=str(counter))
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert run.step("fails_once").attempts == 2
    assert wall >= 1.5
    assert cpu < 0.8, f"the coordinator used {cpu:.2f} s of CPU in a {wall:.2f} s run with a 1.5 s backoff"


# -- timeouts and dying workers ------------------------------------------------------------------------------------
def test_a_step_past_its_timeout_is_stopped_and_others_finish(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    started = time.monotonic()
    with pytest.raises(StepFailedError, match="step 'slow' failed") as caught:
        flows.timing_out.run(runner="local", workers=2, client=local_yard, marker=str(marker))
    assert time.monotonic() - started < 15  # not the step's 30 s
    record = failed_run(caught)
    assert statuses(record) == {"slow": StepStatus.FAILED, "quick": StepStatus.SUCCEEDED}
    assert "timeout of 1 s" in (record.step("slow").error or "")
    assert record.load("quick") == 7
    assert local_yard.get_run(record.step("slow").run_id or "").status is RunStatus.FAILED
    assert "slow finished" not in flows.marks(marker)


HEAVY = """
import os
import time

import modelyard as my
from modelyard.pipelines.definitions import Pipeline

if os.getpid() != {coordinator}:
    time.sleep(2.0)  # in a worker, importing this module takes 2 s (think of torch or tensorflow)


@my.step(timeout_s=2)
def brief() -> int:
    time.sleep(0.2)  # well within the step's timeout
    return 2


@Pipeline
def heavy() -> None:
    brief()
"""


def test_a_step_within_its_timeout_is_not_stopped_while_its_worker_starts(
    local_yard: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The timeout bounds the step, not the start of a fresh worker process and the import of the step's module.
    monkeypatch.setattr(sys, "path", list(sys.path))  # module_from_file adds the file's folder
    path = tmp_path / "heavy_steps.py"
    path.write_text(HEAVY.replace("{coordinator}", str(os.getpid())), encoding="utf-8")
    module = module_from_file(path)
    try:
        run = module.heavy.run(runner="local", workers=1, client=local_yard)
    finally:
        sys.modules.pop(module.__name__, None)
    assert statuses(run) == {"brief": StepStatus.SUCCEEDED}
    assert run.load("brief") == 2


def test_the_inline_runner_enforces_timeouts(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    started = time.monotonic()
    with pytest.raises(StepFailedError, match="step 'slow' failed") as caught:
        flows.timing_out.run(runner="inline", client=local_yard, marker=str(marker))
    assert time.monotonic() - started < 10
    record = failed_run(caught)
    assert statuses(record) == {"slow": StepStatus.FAILED, "quick": StepStatus.SUCCEEDED}
    assert "timeout of 1 s" in (record.step("slow").error or "")
    assert flows.marks(marker) == ["slow started", "quick"]


def test_a_worker_killed_mid_step_fails_the_step_without_hanging(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    started = time.monotonic()
    with pytest.raises(StepFailedError, match="step 'suicide' failed") as caught:
        flows.dying.run(runner="local", workers=2, client=local_yard, marker=str(marker))
    assert time.monotonic() - started < 30
    record = failed_run(caught)
    assert statuses(record) == {"suicide": StepStatus.FAILED, "quick": StepStatus.SUCCEEDED}
    assert "died (signal 9)" in (record.step("suicide").error or "")
    assert local_yard.get_run(record.step("suicide").run_id or "").status is RunStatus.FAILED
    assert local_yard.get_run(record.id).status is RunStatus.FAILED
    assert Counter(flows.marks(marker)) == {"suicide": 1, "quick": 1}


# -- failures, skips and resume ----------------------------------------------------------------------------------------
def test_a_failed_branch_skips_its_dependents_and_the_other_branch_completes(
    local_yard: Client, tmp_path: Path
) -> None:
    marker, flag = tmp_path / "marker", tmp_path / "flag"
    with pytest.raises(StepFailedError, match="step 'fragile' failed") as caught:
        flows.branches.run(runner="inline", client=local_yard, flag=str(flag), marker=str(marker))
    record = failed_run(caught)
    assert statuses(record) == {
        "source": StepStatus.SUCCEEDED,
        "fragile": StepStatus.FAILED,
        "sibling": StepStatus.SUCCEEDED,
        "downstream": StepStatus.SKIPPED,
    }
    assert "ValueError: the flag file" in (record.step("fragile").error or "")
    assert (record.failure or "").startswith("step 'fragile' failed")
    assert record.step("downstream").run_id is None
    assert record.load("sibling") == {"count": 4}
    assert local_yard.get_run(record.id).status is RunStatus.FAILED
    assert "downstream" not in flows.marks(marker)
    assert caught.value.hint == f"Fix it and resume: modelyard pipeline resume {record.id}"


def test_resume_reruns_only_the_failed_step_and_its_dependents(local_yard: Client, tmp_path: Path) -> None:
    marker, flag = tmp_path / "marker", tmp_path / "flag"
    with pytest.raises(StepFailedError, match="step 'fragile' failed") as caught:
        flows.branches.run(runner="local", workers=2, client=local_yard, flag=str(flag), marker=str(marker))
    failed = failed_run(caught)

    flag.write_text("fixed")
    resumed = local_yard.pipelines.resume(failed.id)
    assert resumed.resumed_from == failed.id
    assert statuses(resumed) == {
        "source": StepStatus.CACHED,
        "fragile": StepStatus.SUCCEEDED,
        "sibling": StepStatus.CACHED,
        "downstream": StepStatus.SUCCEEDED,
    }
    assert {s.name: s.cache_hit for s in resumed.steps} == {
        "source": True,
        "fragile": False,
        "sibling": True,
        "downstream": False,
    }
    assert Counter(flows.marks(marker)) == {"source": 1, "sibling": 1, "fragile": 2, "downstream": 1}
    assert local_yard.get_run(resumed.id).tags["pipeline.resumed_from"] == failed.id

    with flows.make_client(tmp_path / "uninterrupted") as other:
        expected = flows.branches.run(runner="inline", client=other, flag=str(flag), marker="")
    assert digests(resumed) == digests(expected)
    assert resumed.load("downstream") == {"total": 100}


def test_resuming_a_run_that_succeeded_is_refused(local_yard: Client) -> None:
    run = flows.training.run(runner="inline", client=local_yard)
    with pytest.raises(InvalidInputError, match=f"Pipeline run {run.id} succeeded; there is nothing to resume"):
        local_yard.pipelines.resume(run.id)


COORDINATOR = """
import sys

sys.path.insert(0, sys.argv[1])
from tests.pipelines import flows

home, gate, marker = sys.argv[2:5]
client = flows.make_client(home)
flows.held.run(runner="local", workers=1, client=client, gate=gate, marker=marker)
"""


def test_resume_after_the_coordinator_is_killed_mid_step(tmp_path: Path) -> None:
    home, gate, marker = tmp_path / "yard", tmp_path / "gate", tmp_path / "marker"
    gate.write_text("hold on")
    flows.make_client(home).close()
    process = subprocess.Popen(
        [sys.executable, "-c", COORDINATOR, str(ROOT), str(home), str(gate), str(marker)],
        start_new_session=True,  # its own process group: the coordinator and its workers die together
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while "hold started" not in flows.marks(marker):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    gate.unlink()

    with flows.make_client(home) as client:
        found = client.search_runs(
            "held", filter="tags.`pipeline.name` = 'held'", order_by="attributes.start_time DESC"
        ).runs
        assert [r.status for r in found] == [RunStatus.RUNNING]
        killed = client.pipelines.get(found[0].id)
        assert statuses(killed) == {
            "source": StepStatus.SUCCEEDED,
            "hold": StepStatus.RUNNING,
            "tally": StepStatus.SKIPPED,
        }

        resumed = client.pipelines.resume(killed.id)
        assert resumed.resumed_from == killed.id
        assert statuses(resumed) == {
            "source": StepStatus.CACHED,
            "hold": StepStatus.SUCCEEDED,
            "tally": StepStatus.SUCCEEDED,
        }
        assert Counter(flows.marks(marker)) == {"source": 1, "hold started": 2, "tally": 1}
        with flows.make_client(tmp_path / "uninterrupted") as other:
            expected = flows.held.run(runner="inline", client=other, gate=str(gate), marker="")
        assert digests(resumed) == digests(expected)
        assert resumed.load("tally") == expected.load("tally")


# -- runners agree ---------------------------------------------------------------------------------------------------
def test_the_inline_and_local_runners_give_the_same_outputs(tmp_path: Path) -> None:
    with flows.make_client(tmp_path / "inline") as one, flows.make_client(tmp_path / "local") as two:
        inline = flows.training.run(runner="inline", client=one, rows=30)
        local = flows.training.run(runner="local", workers=2, client=two, rows=30)
        assert digests(inline) == digests(local)
        assert [s.cache_key for s in inline.steps] == [s.cache_key for s in local.steps]
        assert local.load("evaluate") == inline.load("evaluate")
        assert one.get_run(inline.id).tags["pipeline.runner"] == "inline"
        assert two.get_run(local.id).tags["pipeline.runner"] == "local"


def test_ctrl_c_ends_every_run_as_killed_and_leaves_a_resumable_state(tmp_path: Path) -> None:
    home, gate, marker = tmp_path / "yard", tmp_path / "gate", tmp_path / "marker"
    gate.write_text("hold on")
    flows.make_client(home).close()
    process = subprocess.Popen(
        [sys.executable, "-c", COORDINATOR, str(ROOT), str(home), str(gate), str(marker)],
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while "hold started" not in flows.marks(marker):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert b"KeyboardInterrupt" in stderr
    assert _gone(lambda: os.killpg(process.pid, 0), within_s=15)  # no worker process outlived the coordinator
    gate.unlink()

    with flows.make_client(home) as client:
        found = client.search_runs("held", order_by="attributes.start_time").runs
        assert {r.status for r in found} <= {RunStatus.FINISHED, RunStatus.KILLED}  # nothing left RUNNING
        parent = next(r for r in found if r.parent_id is None)
        assert parent.status is RunStatus.KILLED
        killed = client.pipelines.get(parent.id)
        assert statuses(killed) == {
            "source": StepStatus.SUCCEEDED,
            "hold": StepStatus.KILLED,
            "tally": StepStatus.SKIPPED,
        }
        assert not client.metadata.step_cache.list(step="hold")  # the interrupted step stored nothing
        resumed = client.pipelines.resume(parent.id)
        assert statuses(resumed) == {
            "source": StepStatus.CACHED,
            "hold": StepStatus.SUCCEEDED,
            "tally": StepStatus.SUCCEEDED,
        }


def _gone(signal_zero: Callable[[], None], *, within_s: float) -> bool:
    """Whether ``os.kill(pid, 0)`` (or ``os.killpg``) starts failing within ``within_s``: the process is gone."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            signal_zero()
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_the_local_runner_keeps_its_workers_between_runs(local_yard: Client, tmp_path: Path) -> None:
    marker = str(tmp_path / "pids.txt")
    for number in range(2):
        flows.pids.run(runner="local", workers=1, client=local_yard, marker=marker, number=number)
    first, second = flows.marks(marker)
    assert first == second  # the same worker process ran both runs' step: no second spawn
    local_yard.pipelines.close()
    assert _gone(lambda: os.kill(int(first), 0), within_s=15)  # closing the client's pipelines (or the client) stops it
