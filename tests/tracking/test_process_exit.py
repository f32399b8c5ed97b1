"""What a process leaves behind: normal exit, an uncaught exception, and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from modelyard.client import Client
from modelyard.tracking.models import RunStatus


def _run_script(home: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = f"import modelyard as my\nmy.connect({str(home)!r})\n" + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)


def test_exit_without_ending_flushes_and_finishes(tmp_path: Path) -> None:
    done = _run_script(
        tmp_path,
        """
        run = my.start_run(experiment="exit")
        for step in range(500):
            my.log_metric("m", step * 0.5, step=step)
        my.log_param("p", 1)
        print(run.id)
        """,
    )
    assert done.returncode == 0, done.stderr
    with Client(tmp_path) as client:
        run = client.get_run(done.stdout.strip())
        assert run.status is RunStatus.FINISHED
        assert run.params == {"p": "1"}
        assert len(client.get_metric_history(run.id, "m")) == 500


def test_uncaught_exception_marks_open_run_failed(tmp_path: Path) -> None:
    done = _run_script(
        tmp_path,
        """
        run = my.start_run(experiment="exit")
        my.log_metric("m", 1.0)
        print(run.id, flush=True)
        raise SystemExit(my.nope)
        """,
    )
    assert done.returncode != 0
    assert "nope" in done.stderr
    with Client(tmp_path) as client:
        run = client.get_run(done.stdout.strip())
        assert run.status is RunStatus.FAILED
        assert run.metric("m") == 1.0


def test_kill_9_never_marks_a_run_finished(tmp_path: Path) -> None:
    script = f"import modelyard as my, time\nmy.connect({str(tmp_path)!r})\n" + textwrap.dedent(
        """
        run = my.start_run(experiment="exit")
        my.log_metric("m", 1.0)
        my.flush()
        print(run.id, flush=True)
        step = 0
        while True:
            my.log_metric("m", 2.0, step=step)
            step += 1
            time.sleep(0.001)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    with Client(tmp_path) as client:
        run = client.get_run(run_id)
        assert run.status is RunStatus.RUNNING
        assert run.end_time is None
        assert run.metrics["m"].min == 1.0
