"""Push and pull between stores: only missing chunks travel, histories must agree, transfers resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import ConflictError
from modelyard.stores.maintenance import fsck
from tests.data.conftest import flights_like, make_files


@pytest.mark.parametrize("kind", ["local", pytest.param("team", marks=[pytest.mark.postgres, pytest.mark.s3])])
def test_push_then_pull_round_trips_versions_tags_and_bytes(
    local_yard: Client, other_yard: Callable[[str], Client], tmp_path: Path, kind: str
) -> None:
    folder = make_files(tmp_path / "src", 300, 5000)
    my.datasets.commit("files", folder, tags=["first"])
    (folder / "d000" / "f00001.bin").write_bytes(b"changed")
    my.datasets.commit("files", folder)
    my.datasets.commit("flights", flights_like(2000))
    remote = other_yard(kind)
    sent = my.datasets.push("files@latest", remote)
    assert sent.versions == [1, 2]
    assert sent.chunks_present == 0
    assert sent.packs_written >= 1
    assert my.datasets.push("files", remote).versions == []  # up to date: nothing travels
    assert [v.number for v in remote.datasets.versions("files")] == [2, 1]
    assert remote.datasets.get("files@first").number == 1
    (folder / "extra.bin").write_bytes(os.urandom(5000))
    again = my.datasets.commit("files", folder)
    update = my.datasets.push("files", remote)
    assert update.versions == [again.number] == [3]
    assert update.chunks_sent <= 4  # the new file, a manifest leaf or two and the root
    assert update.chunks_present >= 300  # everything else is there already
    assert fsck(remote.metadata, remote.artifacts).is_clean
    fresh = other_yard("local")
    pulled = fresh.datasets.pull("files@2", remote)
    assert pulled.versions == [1, 2]
    out = fresh.datasets.checkout("files@2", tmp_path / "out")
    assert not (out / "extra.bin").exists()  # version 2 predates it
    for path in folder.rglob("f*.bin"):
        assert (out / path.relative_to(folder)).read_bytes() == path.read_bytes()
    assert fresh.datasets.get("files@2").digest == my.datasets.get("files@2").digest


def test_diverged_histories_are_refused(
    local_yard: Client, other_yard: Callable[[str], Client], tmp_path: Path
) -> None:
    remote = other_yard("local")
    my.datasets.commit("d", make_files(tmp_path / "a", 3, seed=1))
    remote.datasets.commit("d", make_files(tmp_path / "b", 3, seed=2))
    with pytest.raises(ConflictError, match="Dataset 'd' has diverged: version 1 differs between the two stores"):
        my.datasets.push("d", remote)
    assert [v.number for v in remote.datasets.versions("d")] == [1]


_PUSHER = """
import sys
from modelyard.client import Client
local, remote = Client(sys.argv[1]), Client(sys.argv[2])
print("go", flush=True)
local.datasets.push("big", remote)
"""


@pytest.mark.slow
def test_a_killed_push_resumes_without_sending_again(
    local_yard: Client, other_yard: Callable[[str], Client], tmp_path: Path
) -> None:
    data = tmp_path / "big.bin"
    data.write_bytes(os.urandom(200 * 1024 * 1024))
    my.datasets.commit("big", data)
    remote_home = tmp_path / "remote"
    Client(remote_home).close()
    process = subprocess.Popen(
        [sys.executable, "-c", _PUSHER, str(tmp_path / "local-yard"), str(remote_home)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"go"
    deadline = time.monotonic() + 60
    packs = remote_home / "blobs" / "objects"
    while time.monotonic() < deadline and len([p for p in packs.rglob("*") if p.is_file()]) < 2:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    remote = Client(remote_home)
    try:
        assert remote.datasets.list() == [] or remote.datasets.versions("big") == []  # no version yet
        report = my.datasets.push("big", remote)
        assert report.versions == [1]
        assert report.chunks_present > 0  # the packs written before the kill were kept
        with remote.datasets.get("big@1").open("big.bin") as handle:
            assert handle.read() == data.read_bytes()
        assert fsck(remote.metadata, remote.artifacts).is_clean
    finally:
        remote.close()
