"""Races and crashes (RELIABILITY.md T3/T5): registrations number 1..16; alias moves stay serialisable; kill -9."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modelyard.client import Client
from modelyard.config import resolve_settings
from modelyard.stores.maintenance import fsck
from tests.fixtures.crashes import kill_trials, run_together, trials

pytestmark = pytest.mark.slow

_WORKER = """
import json, sys
from modelyard.client import Client
from modelyard.config import resolve_settings
uri, artifacts, source, worker, mode = sys.argv[1:6]
client = Client(settings=resolve_settings(uri, artifacts=artifacts, env={}))
done = []
if mode == "register":
    done.append(client.register_model("shared", source).version)
else:
    for move in range(5):
        version = (int(worker) + move) % 3 + 1
        client.set_alias("shared", "production", version, reason=f"worker {worker} move {move}")
        done.append(version)
print(json.dumps(done))
client.close()
"""


def _setup(uri: str, artifacts: str) -> str:
    from sklearn.linear_model import LogisticRegression

    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as client:
        with client.start_run(experiment="race"):
            info = client.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
        return info.uri


def _race(uri: str, artifacts: str, source: str, mode: str, workers: int) -> list[list[int]]:
    return run_together(_WORKER, [[uri, artifacts, source, str(w), mode] for w in range(workers)])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sixteen_concurrent_registrations_number_one_to_sixteen(
    backend: str, tmp_path: Path, pg_uri_factory: Callable[[], str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else pg_uri_factory()
    artifacts = str(tmp_path / "blobs")
    source = _setup(uri, artifacts)
    results = _race(uri, artifacts, source, "register", 16)
    assert sorted(r[0] for r in results) == list(range(1, 17))
    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as client:
        assert [v.version for v in client.models.versions("shared")] == list(range(16, 0, -1))
        created = [e for e in client.events.since(0) if e.kind == "model-version-created"]
        assert [e.payload["version"] for e in created] == list(range(1, 17))  # event order is commit order


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_alias_moves_equal_some_serial_order(
    backend: str, tmp_path: Path, pg_uri_factory: Callable[[], str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else pg_uri_factory()
    artifacts = str(tmp_path / "blobs")
    source = _setup(uri, artifacts)
    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as client:
        for _ in range(3):
            client.register_model("shared", source)
    results = _race(uri, artifacts, source, "alias", 8)
    with Client(settings=resolve_settings(uri, artifacts=artifacts, env={})) as client:
        moves = client.models.history("shared", alias="production")
        final = client.models.get("shared").aliases["production"]
        events = [e for e in client.events.since(0) if e.kind == "model-alias-moved"]
    # Replaying the recorded moves in order gives the final state, and each move starts where the last ended.
    assert moves[-1].to_value == str(final)
    for before, after in itertools.pairwise(moves):
        assert after.from_value == before.to_value
    # Every real move (one that changed the alias) is recorded, once, with an event.
    attempted = sum(len(r) for r in results)
    assert len(moves) <= attempted
    assert [(e.payload["from"], e.payload["to"]) for e in events] == [
        (None if m.from_value is None else int(m.from_value), int(m.to_value or 0)) for m in moves
    ]
    assert {m.reason for m in moves} <= {f"worker {w} move {i}" for w in range(8) for i in range(5)}


_CRASHER = """
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from modelyard.client import Client
home, seed = sys.argv[1], int(sys.argv[2])
client = Client(home)
x = np.random.default_rng(seed).normal(size=(60, 3))
import skops.io  # paid once before the kills start, so they land inside registrations, not imports
print("ready", flush=True)
for i in range(1000):
    model = LogisticRegression(C=1 + i + seed * 1000).fit(x, (x[:, 0] > 0).astype(int))
    with client.start_run(experiment="crash"):
        info = client.log_model(model, input_example=x[:3])
    version = client.register_model("crash", info)
    client.set_alias("crash", "production", version.version)
    print(json.dumps({"version": version.version, "package": str(version.package)}), flush=True)
"""


def test_kill_9_during_registrations_leaves_whole_versions_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Client(home).close()
    records = kill_trials(_CRASHER, [str(home)], count=trials(20, 200), seed=11, max_wait_s=0.8)
    acknowledged = {int(r["version"]): str(r["package"]) for r in records}
    with Client(home) as client:
        versions = {v.version: v for v in client.models.versions("crash", limit=10_000)}
        for number, package in acknowledged.items():  # every acknowledged registration is there, as acknowledged
            assert str(versions[number].package) == package
        assert sorted(versions) == list(range(1, len(versions) + 1))  # no gap: numbering is transactional
        x = np.zeros((2, 3))
        for version in versions.values():  # every version that exists loads and predicts
            assert client.models.load(version, cache=False).predict(x).shape == (2,)
        production = client.models.get("crash").aliases.get("production")
        assert production is None or production in versions
        report = fsck(client.metadata, client.artifacts)
        assert report.is_clean, report.problems
        assert acknowledged
