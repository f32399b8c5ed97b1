"""`modelyard fsck` and `modelyard gc` on a real local artifact store."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.ids import Digest
from tests.cli.conftest import Invoke, Seeded


def _object_file(home: Path, digest: str) -> Path:
    hex_digest = Digest.parse(digest).hex
    (found,) = [
        p
        for p in (home / "blobs" / "objects").rglob("*")
        if p.is_file() and hex_digest in p.as_posix().replace("/", "")
    ]
    return found


def _corrupt(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


# -- fsck ----------------------------------------------------------------------------------------------------
def test_fsck_clean(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("fsck")
    assert result.exit_code == 0, result.output
    assert "Checked 1 referenced object, 13 B." in result.stdout
    assert "No problems found." in result.stdout
    document = json.loads(invoke("fsck", "--json").stdout)
    assert document == {
        "clean": True, "referenced": 1, "checked": 1, "bytes_checked": 13, "sampled": False, "problems": [],
    }  # fmt: skip


def test_fsck_finds_a_corrupt_object(seeded: Seeded, invoke: Invoke) -> None:
    _corrupt(_object_file(seeded.home, seeded.report_digest))
    result = invoke("fsck")
    assert result.exit_code == 1
    short = Digest.parse(seeded.report_digest).short
    row = next(line for line in result.stdout.splitlines() if short in line)
    assert "corrupt" in row
    assert seeded.mid in result.stdout  # referenced by the run that logged it
    assert "1 problem found." in result.stdout
    as_json = invoke("fsck", "--json")
    assert as_json.exit_code == 1
    (problem,) = json.loads(as_json.stdout)["problems"]
    assert problem["digest"] == seeded.report_digest
    assert problem["kind"] == "corrupt"
    assert any(seeded.mid in who for who in problem["referenced_by"])


def test_fsck_missing_object_and_sample(seeded: Seeded, invoke: Invoke) -> None:
    path = _object_file(seeded.home, seeded.report_digest)
    path.parent.chmod(path.parent.stat().st_mode | stat.S_IWUSR)
    os.remove(path)
    result = invoke("fsck", "--sample", "100%", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"][0]["kind"] == "missing"
    assert invoke("fsck", "--sample", "0.5").exit_code == 1  # one object: the sample is that object


@pytest.mark.parametrize("bad", ["150%", "0", "-0.1", "half"])
def test_fsck_bad_sample(seeded: Seeded, invoke: Invoke, bad: str) -> None:
    result = invoke("fsck", "--sample", bad)
    assert result.exit_code == 2
    assert "Invalid value for '--sample'" in result.stderr


# -- gc ------------------------------------------------------------------------------------------------------
def _orphan(home: Path) -> Digest:
    with Client(home) as client:
        return client.artifacts.put(io.BytesIO(b"nothing references these bytes")).digest


def test_gc_dry_run_then_yes(seeded: Seeded, invoke: Invoke) -> None:
    orphan = _orphan(seeded.home)
    dry = invoke("gc", "--grace", "0")
    assert dry.exit_code == 0, dry.output
    assert str(orphan) in dry.stdout
    assert seeded.report_digest not in dry.stdout
    assert "Would delete 1 unreferenced object, 30 B." in dry.stdout
    assert "pass --yes" in dry.stderr
    with Client(seeded.home) as client:
        assert client.artifacts.exists(orphan)
    done = invoke("gc", "--yes", "--grace", "0")
    assert done.exit_code == 0, done.output
    assert "Deleted 1 unreferenced object, 30 B." in done.stdout
    with Client(seeded.home) as client:
        assert not client.artifacts.exists(orphan)
        assert client.artifacts.exists(Digest.parse(seeded.report_digest))
    assert "Would delete 0 unreferenced objects" in invoke("gc", "--grace", "0").stdout


def test_gc_json_and_grace(seeded: Seeded, invoke: Invoke) -> None:
    orphan = _orphan(seeded.home)
    young = json.loads(invoke("gc", "--json").stdout)  # default grace 1h: the new object is spared
    assert young == {
        "dry_run": True,
        "unreferenced": [],
        "reclaimable_bytes": 0,
        "kept_young": 1,
        "deleted": 0,
    }
    assert "Kept 1 unreferenced object younger than the grace period (1h 00m)." in invoke("gc", "--grace", "1h").stdout
    document = json.loads(invoke("gc", "--grace", "0s", "--yes", "--json").stdout)
    assert document["dry_run"] is False
    assert document["unreferenced"] == [{"digest": str(orphan), "size_bytes": 30}]
    assert document["deleted"] == 1


@pytest.mark.parametrize("bad", ["soon", "1w", "-5"])
def test_gc_bad_grace(seeded: Seeded, invoke: Invoke, bad: str) -> None:
    result = invoke("gc", "--grace", bad)
    assert result.exit_code == 2
    assert "Invalid value for '--grace'" in result.stderr
