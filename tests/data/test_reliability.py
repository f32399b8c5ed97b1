"""Races and crashes (RELIABILITY.md T3/T5): concurrent commits stay linear; a killed commit is all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.config import resolve_settings
from modelyard.stores.maintenance import fsck, gc
from tests.fixtures.crashes import kill_trials, run_together, trials

pytestmark = pytest.mark.slow

CRASH_TRIALS = trials(50, 500)

_COMMITTER = """
import json, os, sys
from pathlib import Path
from modelyard.client import Client
from modelyard.config import resolve_settings
uri, artifacts, worker, folder, same = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "1"
client = Client(settings=resolve_settings(uri, artifacts=artifacts, env={}))
folder.mkdir(parents=True, exist_ok=True)
(folder / "data.bin").write_bytes(b"same bytes for everyone" * 1000 if same else os.urandom(100_000))
(folder / f"worker-{0 if same else worker}.txt").write_text("hello")
version = client.datasets.commit("shared", folder, message=f"worker {worker}")
print(json.dumps({"number": version.number, "digest": str(version.digest)}))
client.close()
"""


def _race(uri: str, artifacts: str, tmp_path: Path, *, same: bool, workers: int = 16) -> list[dict[str, object]]:
    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as first:
        first.metadata.datasets.ensure("shared")
    flag = "1" if same else "0"
    return run_together(_COMMITTER, [[uri, artifacts, str(w), str(tmp_path / f"w{w}"), flag] for w in range(workers)])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sixteen_concurrent_commits_make_a_linear_history(
    backend: str, tmp_path: Path, pg_uri_factory: Callable[[], str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else pg_uri_factory()
    artifacts = str(tmp_path / "blobs")
    results = _race(uri, artifacts, tmp_path, same=False)
    assert sorted(r["number"] for r in results) == list(range(1, 17))
    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as client:
        versions = client.datasets.versions("shared")
        assert [v.number for v in versions] == list(range(16, 0, -1))
        assert {str(v.digest) for v in versions} == {r["digest"] for r in results}
        for version in versions:  # every version reads back whole
            assert len(version.files()) == 2
            assert len(version.open("data.bin").read()) == 100_000
        assert fsck(client.metadata, client.artifacts).is_clean


def test_sixteen_commits_of_the_same_bytes_make_one_version_and_one_object(tmp_path: Path) -> None:
    uri, artifacts = f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "blobs")
    results = _race(uri, artifacts, tmp_path, same=True)
    assert {r["number"] for r in results} == {1}
    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as client:
        assert [v.number for v in client.datasets.versions("shared")] == [1]
        gc(client.metadata, client.artifacts, dry_run=False, grace_s=0)
        assert len(list(client.artifacts.list_objects())) == 1  # racers' duplicate packs are garbage
        assert fsck(client.metadata, client.artifacts).is_clean


_CRASHER = """
import json, os, random, sys
from pathlib import Path
from modelyard.client import Client
home, folder, seed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
client = Client(home)
print("ready", flush=True)
for round in range(1000):
    for i in range(rng.randint(1, 30)):
        path = folder / f"d{rng.randint(0, 3)}" / f"f{rng.randint(0, 60)}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(rng.choice([10, 3000, 70_000, 600_000])))
    version = client.datasets.commit("crash", folder)
    print(json.dumps({"number": version.number, "digest": str(version.digest)}), flush=True)
"""


def test_kill_9_during_commits_leaves_whole_versions_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Client(home).close()
    records = kill_trials(_CRASHER, [str(home), str(tmp_path / "work")], count=CRASH_TRIALS, seed=7, max_wait_s=0.6)
    acknowledged = {int(r["number"]): str(r["digest"]) for r in records}
    with Client(home) as client:
        versions = {v.number: v for v in client.datasets.versions("crash")}
        for number, digest in acknowledged.items():  # every acknowledged commit is there, as acknowledged
            assert str(versions[number].digest) == digest
        assert sorted(versions) == list(range(1, len(versions) + 1))
        for version in versions.values():  # and every version that exists is whole
            for entry in version.files():
                with version.open(entry.path) as handle:
                    assert len(handle.read()) == entry.size_bytes
        report = fsck(client.metadata, client.artifacts)
        assert report.is_clean, report.problems
        assert len(acknowledged) > 0
