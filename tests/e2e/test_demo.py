"""The README's demo, as a user runs it (quick mode), through the real console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from modelyard.client import Client
from modelyard.stores.maintenance import fsck


def test_demo_trains_tracks_and_picks_the_best(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "--uri", str(home), "demo", "--quick"],
        capture_output=True, text=True, timeout=600, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Best run:" in done.stdout
    assert "runs show" in done.stdout
    assert "Dataset flights: 12 versions" in done.stdout
    assert "A broken June delivery was refused by the data tests:" in done.stdout
    assert "FAIL column 'carrier'" in done.stdout
    assert "flights@3 -> flights@4:" in done.stdout
    assert "Registered as flights-delay/1 behind alias 'production'" in done.stdout
    assert "models history flights-delay" in done.stdout
    with Client(home) as client:
        versions = client.datasets.versions("flights")
        assert [v.number for v in versions] == list(range(12, 0, -1))
        assert all(v.status.value == "passed" for v in versions)
        assert sum(v.stored_bytes for v in versions) < sum(v.size_bytes for v in versions)
        q1 = client.datasets.get("flights@q1")
        assert q1.number == 3
        assert sorted(set(q1.to_pandas()["month"])) == [1, 2, 3]
        readers = {(e.run_id, e.role) for e in q1.runs()}
        runs = client.search_runs("flights-delay", order_by="metrics.val_auc DESC")
        parents = [r for r in runs if r.parent_id is None]
        children = [r for r in runs if r.parent_id is not None]
        assert len(parents) == 1
        assert len(children) == 5
        assert parents[0].tags["best_run"] == children[0].id
        assert readers == {(parents[0].id, "input")}  # the comparison run read the training data
        assert parents[0].params["train_data"] == "flights@3"
        for run in children:
            assert run.status.value == "FINISHED"
            assert 0.55 < run.metric("val_auc") < 1
            assert "training_score" in run.metrics
            assert any(e.path == "model/model.skops" for e in client.list_artifacts(run.id))
        production = client.models.get_version("flights-delay@production")
        assert production.run_id == children[0].id
        assert production.lineage.datasets == ("flights@3", "flights@4")  # read by the parent comparison run
        assert production.metrics["val_auc"] == children[0].metric("val_auc")
        assert 0.55 < parents[0].metric("production_may_auc") < 1
        digests = {e.digest for run in children for e in client.list_artifacts(run.id)}
        report = fsck(client.metadata, client.artifacts)
        assert report.is_clean
        assert report.checked > len(digests) >= 6  # the runs' files and the dataset's packs
