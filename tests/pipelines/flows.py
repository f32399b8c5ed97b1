"""Steps and pipelines for the pipeline tests, at module level so worker processes import them by reference.

Steps leave side-effect markers (one line appended to a file whose path is a parameter) so a test can count
how many times a step body really ran, in any process. Not a test module.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd

import modelyard as my
from modelyard.client import Client
from modelyard.config import resolve_settings
from modelyard.pipelines.definitions import Pipeline


def make_client(home: str | os.PathLike[str]) -> Client:
    """A client on an embedded store at ``home`` (not made the current client)."""
    return Client(settings=resolve_settings(str(home), env={}, flush_interval_s=0.05))


def mark(path: str, text: str) -> None:
    """Append ``text`` as one line to the marker file ``path`` (nothing when ``path`` is empty)."""
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


def marks(path: str | os.PathLike[str]) -> list[str]:
    """The lines written to a marker file so far."""
    file = Path(path)
    return file.read_text(encoding="utf-8").splitlines() if file.exists() else []


# -- a small training pipeline: prepare -> train -> evaluate -------------------------------------------------
@my.step
def prepare(rows: int = 20, marker: str = "") -> pd.DataFrame:
    """A deterministic frame of ``rows`` rows."""
    mark(marker, "prepare")
    return pd.DataFrame({"x": [float(i) for i in range(rows)], "y": [i % 2 for i in range(rows)]})


@my.step
def train(frame: pd.DataFrame, depth: int = 3, marker: str = "") -> dict:
    """A stand-in model: JSON numbers derived from the frame."""
    mark(marker, "train")
    return {"depth": depth, "mean": float(frame["x"].mean()), "rows": len(frame)}


@my.step
def evaluate(model: dict, frame: pd.DataFrame, threshold: float = 0.5, marker: str = "") -> dict:
    """A score that depends on the model, the frame and the threshold."""
    mark(marker, "evaluate")
    return {"score": model["mean"] * model["depth"] / len(frame) + threshold}


@Pipeline
def training(rows: int = 20, marker: str = "") -> None:
    frame = prepare(rows, marker=marker)
    model = train(frame, marker=marker)
    evaluate(model, frame, marker=marker)


@my.step
def slow_prepare(rows: int = 20, linger: float = 0.0, marker: str = "") -> pd.DataFrame:
    """``prepare`` that takes ``linger`` seconds (so two racing runs are inside it at once)."""
    mark(marker, "slow_prepare")
    time.sleep(linger)
    return pd.DataFrame({"x": [float(i) for i in range(rows)], "y": [i % 2 for i in range(rows)]})


@Pipeline
def racing(rows: int = 20, linger: float = 1.0, marker: str = "") -> None:
    frame = slow_prepare(rows, linger, marker=marker)
    model = train(frame, marker=marker)
    evaluate(model, frame, marker=marker)


# -- runners: parallel fan-out, retries, timeouts, dying workers -----------------------------------------------
@my.step(cache=False)
def nap(tag: str, seconds: float, log: str) -> str:
    """Sleep ``seconds``; log "tag start/end <time>" lines."""
    mark(log, f"{tag} start {time.time():.6f} {os.getpid()}")
    time.sleep(seconds)
    mark(log, f"{tag} end {time.time():.6f} {os.getpid()}")
    return tag


@Pipeline
def fan_out(log: str, seconds: float = 1.0) -> None:
    for tag in ("a", "b", "c", "d"):
        nap(tag, seconds, log)


@my.step(retries=2, retry_delay_s=0.2)
def flaky(counter: str, fail_times: int = 2) -> int:
    """Fail the first ``fail_times`` calls (counted in the file ``counter``), then return the attempt number."""
    mark(counter, f"{time.time():.6f}")
    attempt = len(marks(counter))
    if attempt <= fail_times:
        raise RuntimeError(f"flaky failure number {attempt}")
    return attempt


@my.step
def double(value: int) -> int:
    return value * 2


@Pipeline
def retrying(counter: str, fail_times: int = 2) -> None:
    double(flaky(counter, fail_times))


@my.step(retries=1, retry_delay_s=1.5)
def fails_once(counter: str) -> int:
    """Fail the first call only; retried after a 1.5 s backoff."""
    mark(counter, f"{time.time():.6f}")
    if len(marks(counter)) == 1:
        raise RuntimeError("first attempt fails")
    return 1


@Pipeline
def backoff(counter: str) -> None:
    fails_once(counter)


@my.step(timeout_s=1)
def slow(seconds: float = 30.0, marker: str = "") -> int:
    mark(marker, "slow started")
    time.sleep(seconds)
    mark(marker, "slow finished")
    return 1


@my.step
def quick(value: int = 1, marker: str = "") -> int:
    mark(marker, "quick")
    return value


@Pipeline
def timing_out(marker: str) -> None:
    slow(marker=marker)
    quick(7, marker=marker)


@my.step
def suicide(marker: str = "") -> int:
    """Kill the process running the step with SIGKILL."""
    mark(marker, "suicide")
    os.kill(os.getpid(), signal.SIGKILL)
    return 0  # pragma: no cover - never reached


@Pipeline
def dying(marker: str) -> None:
    suicide(marker=marker)
    quick(3, marker=marker)


# -- failure, skip and resume ------------------------------------------------------------------------------------
@my.step
def source(marker: str = "") -> pd.DataFrame:
    mark(marker, "source")
    return pd.DataFrame({"v": [1, 2, 3, 4]})


@my.step
def fragile(frame: pd.DataFrame, flag: str, marker: str = "") -> pd.DataFrame:
    """Fail unless the file ``flag`` exists (the test "fixes the cause" by creating it)."""
    mark(marker, "fragile")
    if not Path(flag).exists():
        raise ValueError(f"the flag file {flag} is missing")
    return frame.assign(w=frame["v"] * 10)


@my.step
def downstream(frame: pd.DataFrame, marker: str = "") -> dict:
    mark(marker, "downstream")
    return {"total": int(frame["w"].sum())}


@my.step
def sibling(frame: pd.DataFrame, marker: str = "") -> dict:
    mark(marker, "sibling")
    return {"count": len(frame)}


@Pipeline
def branches(flag: str, marker: str = "") -> None:
    frame = source(marker=marker)
    fixed = fragile(frame, flag, marker=marker)
    downstream(fixed, marker=marker)
    sibling(frame, marker=marker)


# -- killing the coordinator mid-step ---------------------------------------------------------------------------
@my.step
def hold(frame: pd.DataFrame, gate: str, marker: str = "") -> pd.DataFrame:
    """Mark that it started; then, while the file ``gate`` exists, wait (up to 60 s) before finishing."""
    mark(marker, "hold started")
    deadline = time.monotonic() + 60
    while Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return frame.assign(h=frame["v"] + 1)


@my.step
def tally(frame: pd.DataFrame, marker: str = "") -> dict:
    mark(marker, "tally")
    return {"sum": int(frame.to_numpy().sum())}


@Pipeline
def held(gate: str, marker: str = "") -> None:
    frame = source(marker=marker)
    kept = hold(frame, gate, marker=marker)
    tally(kept, marker=marker)


# -- tracking -------------------------------------------------------------------------------------------------------
@my.step
def chatty(times: int = 3) -> int:
    """Print a line and log a metric ``times`` times."""
    for i in range(times):
        print(f"chatty says hello {i}")
        my.log_metric("loss", 1.0 / (i + 1), step=i)
    return times


@Pipeline
def talking(times: int = 3) -> None:
    quick(double(chatty(times)))


@my.step(cache=False)
def worker_pid(marker: str, number: int) -> int:
    """Write the id of the process running the step."""
    del number
    mark(marker, str(os.getpid()))
    return os.getpid()


@Pipeline
def pids(marker: str, number: int = 0) -> None:
    worker_pid(marker, number)
