"""The README's demo, as a user runs it (quick mode), through the real console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from modelyard.client import Client
from modelyard.stores.maintenance import fsck


def _demo(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "--uri", str(home), "demo", "--quick"],
        capture_output=True, text=True, timeout=900, check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "RAY_AUTH_MODE": "disabled"},
    )  # fmt: skip


def test_demo_versions_data_and_trains_through_the_gated_pipeline(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _demo(home)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Dataset flights: 13 versions" in out
    assert "A broken June delivery (flights@6) failed the data tests and is kept marked failed:" in out
    assert "FAIL column 'carrier'" in out
    assert "flights@3 -> flights@4:" in out
    assert "Re-run: 5 of 8 steps answered by the cache." in out
    assert "On the broken June delivery the pipeline stopped at its data tests" in out
    assert "Model checks PASSED" in out or "Model checks FAILED" in out
    assert "pipeline show" in out
    with Client(home) as client:
        versions = client.datasets.versions("flights")
        assert [v.number for v in versions] == list(range(13, 0, -1))
        assert [v.number for v in versions if v.status.value == "failed"] == [6]
        assert sum(v.stored_bytes for v in versions) < sum(v.size_bytes for v in versions)
        runs = client.search_runs("flights-training", order_by="attributes.start_time")
        records = [client.pipelines.get(run.id) for run in runs if run.parent_id is None]
        first, rerun, broken, summer = records
        assert first.succeeded
        assert all(not s.cache_hit for s in first.steps)
        assert [s.name for s in rerun.steps if s.cache_hit] == [
            "validate",
            "load_dataset",
            "split",
            "train",
            "evaluate",
        ]
        assert rerun.step("train").outputs == first.step("train").outputs  # the same model package, not retrained
        assert broken.step("validate").status.value == "failed"
        assert all(s.status.value == "skipped" for s in broken.steps[1:])
        assert summer.succeeded
        v1 = client.models.get_version("flights-delay/1")
        assert v1.run_id == first.step("train").run_id
        assert v1.lineage.datasets == ("flights@4",)  # the pipeline run read it: data -> step output -> model
        assert v1.lineage.pipeline_run_id == first.id
        history = [e for e in client.models.history("flights-delay") if e.action == "alias-set"]
        assert history[0].to_value == "1"
        assert "gate passed" in (history[0].reason or "") or "no gate" in (history[0].reason or "")
        decision = summer.load("promote")
        production = client.models.get_version("flights-delay@production")
        assert production.version == (2 if decision.moved else 1)
        assert 0.55 < summer.load("evaluate").metrics["auc"] < 1
        assert fsck(client.metadata, client.artifacts).is_clean


def test_rerunning_the_demo_hits_the_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _demo(home).returncode == 0
    again = _demo(home)
    assert again.returncode == 0, again.stderr
    with Client(home) as client:
        runs = client.search_runs("flights-training", order_by="attributes.start_time DESC")
        last = client.pipelines.get(next(run.id for run in runs if run.parent_id is None))
        assert last.step("train").cache_hit  # the second demo's summer run: same content, same code
        assert len(client.models.versions("flights-delay")) == 2  # nothing new to register
