"""CLI fixtures: a modelyard home filled through the public API, and a runner invoking `modelyard` on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from modelyard.cli.main import main
from modelyard.client import Client

# wide enough that rich never folds a header or cell the assertions look for
WIDE = {"COLUMNS": "250"}

Invoke = Callable[..., Result]


@dataclass(frozen=True, kw_only=True)
class Seeded:
    """The ids of what `seeded` logged: three runs in `churn` (small, mid, big) and one in `fraud`."""

    home: Path
    small: str
    mid: str
    big: str
    fraud: str
    report_digest: str


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def invoke(home: Path) -> Invoke:
    """Run `modelyard --uri <home> ARGS...` in-process; stdout and stderr are kept apart."""

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner(env={**WIDE, **(env or {})})
        return runner.invoke(main, ["--uri", str(home), *args], catch_exceptions=False)

    return run


def _log(client: Client, name: str, params: dict[str, object], aucs: list[float], loss: float) -> str:
    with client.start_run("churn", name=name, tags={"team": "risk"}) as run:
        client.log_params(params)
        for step, auc in enumerate(aucs):
            client.log_metric("auc", auc, step=step)
        client.log_metric("loss", loss)
    return run.id


@pytest.fixture
def seeded(home: Path, tmp_path: Path) -> Seeded:
    report = tmp_path / "report.txt"
    report.write_text("accuracy 0.9\n")
    client = Client(home)
    try:
        small = _log(client, "lr-small", {"lr": 0.01, "model": "xgb", "depth": 3}, [0.81, 0.85], 0.5)
        mid_run = client.start_run("churn", name="lr-mid", tags={"team": "risk"})
        with mid_run:
            client.log_params(lr=0.1, model="xgb", depth=3)
            client.log_metric("auc", 0.91)
            client.log_metric("loss", 0.3)
            (entry,) = client.log_artifact(report)
        big = _log(client, "lr-big", {"lr": 1.0, "model": "rf", "depth": 3}, [0.7], 0.9)
        with client.start_run("fraud", name="baseline") as fraud:
            client.log_metric("recall", 0.5)
    finally:
        client.close()
    return Seeded(home=home, small=small, mid=mid_run.id, big=big, fraud=fraud.id, report_digest=str(entry.digest))
