"""Committing versions: sources of every kind, numbering, identical content, tags, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.data import VersionStatus
from modelyard.errors import InvalidInputError, NotFoundError
from tests.data.conftest import flights_like, make_files


def test_a_folder_becomes_numbered_versions(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "src", 50, 3000)
    first = my.datasets.commit("raw", folder, message="first")
    assert (first.dataset, first.number, first.file_count, first.size_bytes) == ("raw", 1, 50, 150_000)
    assert first.message == "first"
    assert first.status is VersionStatus.UNCHECKED
    assert first.profile is None
    assert first.stored_bytes >= first.size_bytes  # new data plus its manifest
    (folder / "d000" / "f00007.bin").write_bytes(b"changed")
    second = my.datasets.commit("raw", folder)
    assert second.number == 2
    assert second.stored_bytes < 20_000  # one small file and a leaf of the manifest, not the folder again
    assert [v.number for v in my.datasets.versions("raw")] == [2, 1]
    assert my.datasets.get("raw").number == 2 == my.datasets.get("raw@latest").number
    assert my.datasets.get("raw@1").digest == first.digest
    files = {e.path: e.size_bytes for e in my.datasets.get("raw@2").files()}
    assert len(files) == 50
    assert files["d000/f00007.bin"] == 7


def test_identical_content_returns_the_newest_version(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "src", 5)
    first = my.datasets.commit("same", folder)
    again = my.datasets.commit("same", folder, message="ignored")
    assert again.number == first.number == 1
    assert again.digest == first.digest
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.rglob("*.bin"):
        target = copy / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert my.datasets.commit("same", copy).number == 1  # same content from another folder: same version


def test_reverting_to_older_content_is_a_new_version_sharing_storage(yard: Client, tmp_path: Path) -> None:
    one = tmp_path / "one.bin"
    one.write_bytes(os.urandom(300_000))
    two = tmp_path / "two" / "one.bin"
    two.parent.mkdir()
    two.write_bytes(os.urandom(300_000))
    v1 = my.datasets.commit("flip", one)
    my.datasets.commit("flip", two)
    v3 = my.datasets.commit("flip", one)
    assert v3.number == 3
    assert v3.digest == v1.digest
    assert v3.stored_bytes == 0


@pytest.mark.parametrize("kind", ["pandas", "arrow", "polars"])
def test_tables_are_stored_as_parquet_with_a_profile(yard: Client, kind: str) -> None:
    frame = flights_like(2000)
    source: object = frame
    if kind == "arrow":
        import pyarrow as pa

        source = pa.Table.from_pandas(frame)
    elif kind == "polars":
        import polars

        source = polars.from_pandas(frame)
    version = my.datasets.commit("flights", source)
    assert [f.path for f in version.files()] == ["data.parquet"]
    assert version.profile is not None
    assert version.profile.rows == 2000
    assert version.profile.format == "parquet"
    back = version.to_pandas()
    assert back["flight"].tolist() == frame["flight"].tolist()
    assert back["carrier"].tolist() == frame["carrier"].tolist()


def test_tags_at_commit(yard: Client, tmp_path: Path) -> None:
    version = my.datasets.commit("tagged", make_files(tmp_path / "src", 3), tags=["raw", "jan"])
    assert version.tags == ("jan", "raw")
    assert my.datasets.get("tagged@jan").number == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../etc", r"Dataset name '\.\./etc' is not allowed"),
        ("a/b", r"Dataset name 'a/b' is not allowed"),
        ("with space", "is not allowed"),
        ("x@1", "is not allowed"),
        ("", "is not allowed"),
        ("-dash", "is not allowed"),
        ("a" * 200, "is not allowed"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(
    yard: Client, tmp_path: Path, name: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        my.datasets.commit(name, make_files(tmp_path / "src", 1))
    assert my.datasets.list() == []


def test_bad_tag_names(yard: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="Tag 'latest' is not allowed: it would read as a version"):
        my.datasets.commit("d", make_files(tmp_path / "src", 1), tags=["latest"])
    with pytest.raises(InvalidInputError, match="Tag '7' is not allowed"):
        my.datasets.commit("d", make_files(tmp_path / "src", 1), tags=["7"])


def test_missing_path_empty_folder_and_unsupported_type(yard: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"Cannot commit '.*nowhere': no such file or folder"):
        my.datasets.commit("d", tmp_path / "nowhere")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match=r"Folder '.*empty' holds no files"):
        my.datasets.commit("d", tmp_path / "empty")
    with pytest.raises(InvalidInputError, match=r"Cannot commit a dict\. .*a pandas or polars DataFrame"):
        my.datasets.commit("d", {"a": [1, 2]})
    assert all(d.version_count == 0 for d in my.datasets.list())


def test_links_and_special_files_are_refused(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "src", 2)
    (folder / "link").symlink_to(folder / "d000" / "f00000.bin")
    with pytest.raises(InvalidInputError, match="is a symbolic link; datasets hold regular files only"):
        my.datasets.commit("d", folder)
    (folder / "link").unlink()
    os.mkfifo(folder / "pipe")
    with pytest.raises(InvalidInputError, match="is not a regular file"):
        my.datasets.commit("d", folder)
    with pytest.raises(InvalidInputError, match="is not a regular file"):
        my.datasets.commit("d", folder / "pipe")


_UNREADABLE = """
import os, stat, sys
from pathlib import Path
import modelyard as my
from modelyard.client import Client
from modelyard.data import datasets, ingest, chunks, tables  # imported as root: nobody cannot read them
import pyfastcdc, sqlalchemy.dialects.sqlite
home, folder = Path(sys.argv[1]), sys.argv[2]
Client(home).close()  # schema created as root, then handed to nobody
for path in [home, *home.rglob("*")]:
    path.chmod(0o777 if path.is_dir() else 0o666)
os.setgid(65534)
os.setuid(65534)
client = Client(home)
try:
    client.datasets.commit("d", folder)
except Exception as exc:
    print(type(exc).__name__, exc)
client.close()
"""


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="modelyard-perm-"))  # tmp_path's parents are private to root
    try:
        shared.chmod(0o777)
        home, folder = shared / "home", make_files(shared / "src", 3)
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o644)
        (folder / "d000" / "f00001.bin").chmod(0)
        if os.geteuid() == 0:  # root reads anything: the commit runs as the unprivileged user 'nobody'
            command = [sys.executable, "-c", _UNREADABLE, str(home), str(folder)]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
            assert result.returncode == 0, result.stderr
            assert "InvalidInputError Cannot read" in result.stdout, result.stdout + result.stderr
            assert "f00001.bin" in result.stdout
            assert "Permission denied" in result.stdout
        else:
            with Client(home) as client, pytest.raises(InvalidInputError, match=r"Cannot read .*Permission denied"):
                client.datasets.commit("d", folder)
        with Client(home) as client:
            assert client.datasets.list()[0].version_count == 0
    finally:
        import shutil

        shutil.rmtree(shared, ignore_errors=True)


def test_a_csv_that_is_not_a_table_is_refused_with_the_file_named(yard: Client, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "good.csv").write_text("a,b\n1,2\n3,4\n")
    (folder / "broken.csv").write_text("a,b\n1,2,3\n\x00\x01,zz\n")
    with pytest.raises(InvalidInputError, match=r"Cannot read 'broken\.csv' as csv.*tabular=False"):
        my.datasets.commit("tables", folder)
    assert my.datasets.list()[0].version_count == 0  # nothing half-written
    version = my.datasets.commit("tables", folder, tabular=False)
    assert version.profile is None
    assert version.file_count == 2


def test_csv_folders_are_one_table(yard: Client, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,a\n2,b\n")
    (folder / "b.csv").write_text("x,y,z\n3,c,0.5\n")
    (folder / "notes.txt").write_text("not part of the table")
    version = my.datasets.commit("csvs", folder)
    assert version.profile is not None
    assert version.profile.rows == 3
    assert version.profile.files == ["a.csv", "b.csv"]
    assert version.profile.schema_types == {"x": "int64", "y": "string", "z": "double"}
    table = version.to_arrow()
    assert table.column("z").null_count == 2
