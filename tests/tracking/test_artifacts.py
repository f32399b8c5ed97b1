"""Run artifacts: files and folders in, verified files out, hostile names refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import IntegrityError, InvalidInputError, NotFoundError, UnsafePathError


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_files_and_folders_round_trip(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("accuracy 0.9\n")
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(os.urandom(300_000))
    (model / "sub" / "config.json").write_text("{}")
    with my.start_run(experiment="art") as run:
        my.log_artifact(report)
        entries = my.log_artifact(model, name="packaged/model")
        my.log_artifact(report, name="notes/données été.txt")
    assert sorted(e.path for e in entries) == ["packaged/model/sub/config.json", "packaged/model/weights.bin"]
    listed = [e.path for e in my.list_artifacts(run.id)]
    assert listed == sorted(["report.txt", "notes/données été.txt", *[e.path for e in entries]])
    dest = tmp_path / "out"
    got = my.download_artifacts(run.id, "packaged/model", dest)
    assert got == dest / "packaged" / "model"
    assert _tree(got) == _tree(model)
    single = my.download_artifacts(run.id, "report.txt", dest)
    assert single.read_text() == "accuracy 0.9\n"
    everything = my.download_artifacts(run.id, dest=tmp_path / "all")
    assert len(_tree(everything)) == 4


def test_same_content_is_stored_once(client: Client, tmp_path: Path) -> None:
    data = tmp_path / "a.bin"
    data.write_bytes(b"x" * 10_000)
    with my.start_run(experiment="art"):
        my.log_artifact(data, name="one.bin")
        my.log_artifact(data, name="two.bin")
    assert len(list(client.artifacts.list_objects())) == 1


@pytest.mark.parametrize("name", ["../escape.txt", "/abs.txt", "a/../../b", "c:\\x", "file:///etc/passwd", "%2e%2e/x"])
def test_hostile_names_are_refused(client: Client, tmp_path: Path, name: str) -> None:
    data = tmp_path / "a.txt"
    data.write_text("x")
    with my.start_run(experiment="art"), pytest.raises(UnsafePathError, match="path"):
        my.log_artifact(data, name=name)


def test_missing_and_empty_sources(client: Client, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with my.start_run(experiment="art") as run:
        with pytest.raises(NotFoundError, match="no such file"):
            my.log_artifact(tmp_path / "nope.txt")
        with pytest.raises(InvalidInputError, match="holds no files"):
            my.log_artifact(tmp_path / "empty")
    with pytest.raises(NotFoundError, match="has no artifact at 'x'"):
        my.download_artifacts(run.id, "x", tmp_path / "out")


def test_corrupt_object_is_never_served(client: Client, tmp_path: Path) -> None:
    data = tmp_path / "model.bin"
    data.write_bytes(os.urandom(50_000))
    with my.start_run(experiment="art") as run:
        (entry,) = my.log_artifact(data)
    stored = next(p for p in (tmp_path / "blobs" / "objects").rglob("*") if p.is_file())
    stored.chmod(0o644)
    raw = bytearray(stored.read_bytes())
    raw[100] ^= 0xFF
    stored.write_bytes(bytes(raw))
    dest = tmp_path / "out"
    with pytest.raises(IntegrityError, match=entry.digest.hex):
        my.download_artifacts(run.id, "model.bin", dest)
    assert not (dest / "model.bin").exists()
    assert [p.name for p in dest.iterdir()] == []  # no partial file left behind


def test_decomposed_unicode_names_from_disk_are_normalised(client: Client, tmp_path: Path) -> None:
    import unicodedata

    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / unicodedata.normalize("NFD", "été.png")).write_bytes(b"png")  # as macOS names files
    with my.start_run(experiment="art") as run:
        my.log_artifact(folder)
    assert [e.path for e in my.list_artifacts(run.id)] == [unicodedata.normalize("NFC", "plots/été.png")]
