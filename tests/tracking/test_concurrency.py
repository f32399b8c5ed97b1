"""Many processes logging at once while others search (RELIABILITY.md T1/T2).

Each writer process logs runs whose points are all distinct; afterwards the stored multiset of points must
equal exactly what was sent (none lost, none duplicated) and no client may have seen an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.config import resolve_settings

EXTENDED = os.environ.get("MODELYARD_TEST_PROFILE") == "extended"

_WRITER = textwrap.dedent(
    """
    import json, sys, time
    from modelyard.client import Client
    from modelyard.config import resolve_settings
    uri, artifacts = sys.argv[1], sys.argv[2]
    worker, runs, points = (int(arg) for arg in sys.argv[3:6])
    client = Client(settings=resolve_settings(uri, artifacts=artifacts, env={}, flush_interval_s=0.2))
    latencies = []
    ids = []
    for r in range(runs):
        t0 = time.perf_counter()
        with client.start_run("concurrent", name=f"w{worker}-r{r}") as run:
            client.log_params({"worker": worker, "run": r})
            half = points // 2
            for i in range(half):                                  # one point per call
                client.log_metric(f"single{i % 4}", worker * 1e6 + r * 1e3 + i, step=i)
            for b in range(0, points - half, 50):                  # batches of 50 keys at one step
                client.log_metrics({f"batch{k}": worker * 1e6 + r * 1e3 + b + k for k in range(50)}, step=b)
        latencies.append(time.perf_counter() - t0)
        ids.append(run.id)
    client.close()
    print(json.dumps({"ids": ids, "latencies": latencies}))
    """
)

_READER = textwrap.dedent(
    """
    import sys, time
    from modelyard.client import Client
    from modelyard.config import resolve_settings
    client = Client(settings=resolve_settings(sys.argv[1], artifacts=sys.argv[2], env={}))
    deadline = time.monotonic() + float(sys.argv[3])
    searches = 0
    while time.monotonic() < deadline:
        client.search_runs("concurrent", filter="metrics.single0 >= 0", order_by="metrics.batch0 DESC", max_results=50)
        searches += 1
    client.close()
    print(searches)
    """
)


def _expected(worker: int, run: int, points: int) -> set[tuple[str, int, float]]:
    half = points // 2
    sent = {(f"single{i % 4}", i, worker * 1e6 + run * 1e3 + i) for i in range(half)}
    for b in range(0, points - half, 50):
        sent |= {(f"batch{k}", b, worker * 1e6 + run * 1e3 + b + k) for k in range(50)}
    return sent


def _hammer(uri: str, artifacts: str, writers: int, runs: int, points: int, readers: int) -> None:
    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as first:  # schema + experiment
        first.metadata.experiments.ensure("concurrent")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, uri, artifacts, str(w), str(runs), str(points)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    searchers = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, uri, artifacts, "8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(readers)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "database is locked" not in err
    for proc in searchers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert int(out) > 0
    latencies = sorted(lat for out, _ in outputs for lat in json.loads(out)["latencies"])
    client = Client(settings=resolve_settings(uri, artifacts=artifacts, env={}))
    try:
        total = 0
        for w, (out, _) in enumerate(outputs):
            for r, run_id in enumerate(json.loads(out)["ids"]):
                run = client.get_run(run_id)
                assert run.status.value == "FINISHED"
                stored = [(key, p.step, p.value) for key in run.metrics for p in client.get_metric_history(run_id, key)]
                assert len(stored) == len(set(stored))  # no duplicates
                assert set(stored) == _expected(w, r, points)  # none lost, none invented
                total += len(stored)
        assert total == writers * runs * points
        assert latencies[int(len(latencies) * 0.99) - 1] < 30  # p99 of a whole run's life, generous on 2 cores
    finally:
        client.close()


@pytest.mark.slow
def test_eight_writers_and_four_readers_on_sqlite(tmp_path: Path) -> None:
    _hammer(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "blobs"), 8, 25, 200, 4)


@pytest.mark.slow
@pytest.mark.postgres
def test_sixteen_writers_on_postgres(tmp_path: Path, pg_uri_factory: object) -> None:
    _hammer(pg_uri_factory(), str(tmp_path / "blobs"), 16, 25 if EXTENDED else 10, 200, 4)  # type: ignore[operator]
