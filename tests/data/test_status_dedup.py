"""The stat cache (status without re-reading) and storage dedup (content-defined chunks)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import NotFoundError
from tests.data.conftest import age, flights_like, make_files

MiB = 1024 * 1024


def test_status_reads_nothing_when_nothing_changed(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "work", 500)
    my.datasets.commit("files", folder)
    clean = my.datasets.status(folder)
    assert clean.is_clean
    assert (clean.dataset, clean.version, clean.unchanged, clean.hashed) == ("files", 1, 500, 0)


def test_status_finds_added_removed_and_modified_files(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "work", 50)
    my.datasets.commit("files", folder)
    (folder / "d000" / "f00003.bin").write_bytes(b"edited")
    (folder / "d000" / "f00004.bin").unlink()
    (folder / "new.bin").write_bytes(b"new")
    touched = folder / "d000" / "f00005.bin"
    touched.write_bytes(touched.read_bytes())  # same content, new mtime
    found = my.datasets.status(folder)
    assert found.added == ["new.bin"]
    assert found.removed == ["d000/f00004.bin"]
    assert found.modified == ["d000/f00003.bin"]
    assert found.unchanged == 48
    assert found.hashed == 2  # only the edited and the touched file were read
    age(folder)  # utime changes every file's ctime: the cache vouches for none of them now
    assert my.datasets.status(folder).hashed == 49  # each is read once and remembered again ...
    assert my.datasets.status(folder).hashed == 1  # ... so only the modified file is read from now on


def test_status_of_a_checkout_and_of_an_unknown_folder(yard: Client, tmp_path: Path) -> None:
    my.datasets.commit("files", make_files(tmp_path / "work", 20))
    out = my.datasets.checkout("files@1", tmp_path / "out")
    age(out)
    found = my.datasets.status(out)
    assert found.is_clean
    assert found.version == 1
    stranger = make_files(tmp_path / "stranger", 3)
    with pytest.raises(NotFoundError, match="was never committed or checked out here"):
        my.datasets.status(stranger)
    versus = my.datasets.status(stranger, dataset="files")
    assert versus.added == []
    assert versus.modified == []
    assert versus.unchanged == 3  # the same seeded bytes at the same paths
    assert len(versus.removed) == 17


def test_recommitting_a_big_folder_reads_only_what_changed(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "work", 300, 40_000)
    my.datasets.commit("files", folder)
    (folder / "d001" / "f00150.bin").write_bytes(os.urandom(40_000))
    age(folder, 1800)
    second = my.datasets.commit("files", folder)
    assert second.number == 2
    assert 40_000 <= second.stored_bytes < 60_000  # the new file, one manifest leaf and the root
    assert my.datasets.diff("files@1", "files@2").changed[0].path == "d001/f00150.bin"


def test_an_append_and_an_insertion_store_little_new_data(yard: Client, tmp_path: Path) -> None:
    data = os.urandom(16 * MiB)
    big = tmp_path / "work" / "big.bin"
    big.parent.mkdir()
    big.write_bytes(data)
    first = my.datasets.commit("big", big.parent)
    big.write_bytes(data + os.urandom(len(data) // 100))
    appended = my.datasets.commit("big", big.parent)
    assert appended.stored_bytes / appended.size_bytes < 0.02
    middle = len(data) // 2
    big.write_bytes(data[:middle] + os.urandom(100) + data[middle:])
    inserted = my.datasets.commit("big", big.parent)
    assert inserted.stored_bytes / inserted.size_bytes < 0.03  # a few 64 KiB chunks around the insertion
    assert first.stored_bytes >= len(data)
    with my.datasets.get("big@3").open("big.bin") as handle:
        assert handle.read() == data[:middle] + big.read_bytes()[middle : middle + 100] + data[middle:]


def test_appended_rows_reuse_parquet_pages(yard: Client) -> None:
    first = my.datasets.commit("flights", flights_like(400_000))
    import pandas as pd

    grown = pd.concat([flights_like(400_000), flights_like(4000, seed=9, start=400_000)], ignore_index=True)
    more = my.datasets.commit("flights", grown)
    assert more.stored_bytes < 0.35 * first.stored_bytes  # content-defined pages: earlier pages are unchanged


def test_many_small_files_become_a_few_objects(local_yard: Client, tmp_path: Path) -> None:
    version = my.datasets.commit("small", make_files(tmp_path / "work", 2000, 2048))
    objects = [p for p in (Path(local_yard.artifacts.root) / "objects").rglob("*") if p.is_file()]  # type: ignore[attr-defined]
    assert len(objects) == 1  # one pack holds the 2,000 files and the manifest
    assert version.stored_bytes < 2000 * 2048 * 1.2
    shutil.rmtree(tmp_path / "work")
    out = my.datasets.checkout("small@1", tmp_path / "out")
    assert len(list(out.rglob("*.bin"))) == 2000


def test_status_of_a_fresh_checkout_reads_nothing(yard: Client, tmp_path: Path) -> None:
    my.datasets.commit("files", make_files(tmp_path / "work", 100))
    out = my.datasets.checkout("files@1", tmp_path / "out")  # files written just now, no ageing
    found = my.datasets.status(out)
    assert found.is_clean
    assert found.hashed == 0


def test_racy_files_are_hashed_whatever_their_stat_says() -> None:
    from modelyard.data.ingest import is_racy

    scan = 1_700_000_000_123_456_789
    assert is_racy(scan - 50_000_000, scan)  # 50 ms before the scan: the same tick may hide a later write
    assert not is_racy(scan - 500_000_000, scan)
    assert is_racy(1_700_000_000_000_000_000 - 1_000_000_000, 1_700_000_000_000_000_000)  # whole-second stamps
    assert not is_racy(1_700_000_000_000_000_000 - 3_000_000_000, 1_700_000_000_000_000_000)
