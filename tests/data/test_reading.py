"""Reading versions: streaming verified files, seeking, tables, checkouts, and refusing damaged data."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.data.chunks import PackWriter, chunk_digest
from modelyard.data.manifests import write_manifest
from modelyard.data.models import FileEntry, NewVersion, VersionStatus
from modelyard.errors import IntegrityError, InvalidInputError, NotFoundError, UnsafePathError
from modelyard.ids import Digest
from modelyard.stores.maintenance import fsck
from tests.data.conftest import flights_like, make_files

MiB = 1024 * 1024


def test_open_streams_and_seeks_a_large_file(yard: Client, tmp_path: Path) -> None:
    data = os.urandom(5 * MiB + 123)
    (tmp_path / "big.bin").write_bytes(data)
    version = my.datasets.commit("blob", tmp_path / "big.bin")
    (entry,) = version.files()
    assert entry.chunked
    assert entry.size_bytes == len(data)
    with version.open("big.bin") as handle:
        assert handle.read() == data
        handle.seek(3 * MiB + 7)
        assert handle.read(1000) == data[3 * MiB + 7 : 3 * MiB + 1007]
        handle.seek(-10, io.SEEK_END)
        assert handle.read() == data[-10:]
        assert handle.seekable()


def test_missing_file_names_close_paths(yard: Client, tmp_path: Path) -> None:
    version = my.datasets.commit("tree", make_files(tmp_path / "src", 3))
    with pytest.raises(NotFoundError, match=r"has no file 'd000/f0001\.bin'.*Did you mean 'd000/f00001\.bin'"):
        version.open("d000/f0001.bin")
    with pytest.raises(UnsafePathError, match=r"has a '\.\.' component"):
        version.open("../secret")


def test_unknown_versions_and_tags_say_what_exists(yard: Client, tmp_path: Path) -> None:
    my.datasets.commit("known", make_files(tmp_path / "src", 1))
    with pytest.raises(NotFoundError, match=r"Dataset 'known' has no version 5 \(its newest is 1\)"):
        my.datasets.get("known@5")
    with pytest.raises(NotFoundError, match="Dataset 'known' has no tag 'gold'"):
        my.datasets.get("known@gold")
    with pytest.raises(NotFoundError, match=r"No dataset named 'knwn'.*Did you mean 'known'"):
        my.datasets.get("knwn")
    with pytest.raises(InvalidInputError, match="names no version"):
        my.datasets.get("known@not a tag")


def test_tables_read_whole_or_by_column(yard: Client) -> None:
    frame = flights_like(5000)
    version = my.datasets.commit("flights", frame)
    table = version.to_arrow(columns=["carrier", "distance"])
    assert table.column_names == ["carrier", "distance"]
    assert table.num_rows == 5000
    assert version.to_pandas()["distance"].sum() == frame["distance"].sum()
    with pytest.raises(InvalidInputError, match="The table has no column 'nope'"):
        version.to_arrow(columns=["nope"])


def test_files_without_a_table_say_how_to_read_them(yard: Client, tmp_path: Path) -> None:
    version = my.datasets.commit("bins", make_files(tmp_path / "src", 2))
    with pytest.raises(InvalidInputError, match=r"holds no Parquet or CSV files.*\.open\(path\)"):
        version.to_pandas()


def test_checkout_writes_verified_copies(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "src", 30, 70_000)
    my.datasets.commit("tree", folder)
    target = my.datasets.checkout("tree@1", tmp_path / "out")
    for path in folder.rglob("*.bin"):
        assert (target / path.relative_to(folder)).read_bytes() == path.read_bytes()
    assert not list(target.rglob(".modelyard-*"))  # no temporary files left
    with pytest.raises(InvalidInputError, match="is not empty; checking out tree@1 would mix two versions"):
        my.datasets.checkout("tree@1", target)
    my.datasets.checkout("tree@1", target, overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="exists and is not a folder"):
        my.datasets.checkout("tree@1", tmp_path / "file")


def test_a_hostile_manifest_cannot_write_outside_the_checkout(local_yard: Client, tmp_path: Path) -> None:
    """A store pulled from elsewhere may hold any manifest: every path goes through the chokepoint."""
    canary = tmp_path / "escape"
    writer = PackWriter(local_yard.artifacts)
    payload = b"owned"
    digest = chunk_digest(payload)
    writer.add(digest, payload)

    def put_blob(data: bytes) -> bytes:
        d = chunk_digest(data)
        writer.add(d, data)
        return d

    entries = [FileEntry(path="../escape", size_bytes=len(payload), digest=Digest.from_bytes(digest))]
    manifest = write_manifest(entries, put_blob)
    packs = writer.finish()
    dataset = local_yard.metadata.datasets.ensure("evil")
    new = NewVersion(
        dataset_id=dataset.id, digest=manifest.digest, author=None, message=None, file_count=1, size_bytes=5,
        stored_bytes=5, status=VersionStatus.UNCHECKED, profile=None, checks=None, created_ms=int(time.time() * 1000),
    )  # fmt: skip
    local_yard.metadata.datasets.add_version(new, packs)
    with pytest.raises(UnsafePathError, match=r"Unsafe path '\.\./escape'"):
        my.datasets.checkout("evil@1", tmp_path / "out")
    assert not canary.exists()
    assert not (tmp_path / "out").exists()  # refused before anything was written


def _flip_pack_byte(client: Client, offset: int) -> Digest:
    (pack,) = [d for d, who in client.metadata.references.list_digests() if who == "dataset pack"]
    path = Path(client.artifacts.root) / "objects" / pack.hex[:2] / pack.hex[2:]  # type: ignore[attr-defined]
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x40
    path.write_bytes(bytes(raw))
    return pack


def test_a_corrupt_chunk_is_refused_naming_dataset_and_file_and_fsck_reports_it(
    local_yard: Client, tmp_path: Path
) -> None:
    data = os.urandom(400_000)
    (tmp_path / "weights.bin").write_bytes(data)
    version = my.datasets.commit("models", tmp_path / "weights.bin")
    assert fsck(local_yard.metadata, local_yard.artifacts).is_clean
    pack = _flip_pack_byte(local_yard, 200_000)
    fresh = Client(settings=local_yard.settings)  # no cached manifest: every byte comes from the store
    try:
        with pytest.raises(
            IntegrityError, match=r"dataset models@1 file 'weights\.bin': chunk [0-9a-f]{16} .* corrupt"
        ):
            fresh.datasets.get("models@1").open("weights.bin").read()
        with pytest.raises(IntegrityError, match=r"dataset models@1 file 'weights\.bin'"):
            fresh.datasets.checkout("models@1", tmp_path / "out")
        assert not (tmp_path / "out" / "weights.bin").exists()
    finally:
        fresh.close()
    report = fsck(local_yard.metadata, local_yard.artifacts)
    assert [(p.digest, p.kind, p.referenced_by) for p in report.problems] == [(pack, "corrupt", ("dataset pack",))]
    assert version.number == 1
