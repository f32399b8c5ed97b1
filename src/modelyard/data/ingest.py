"""Turning a commit's source into stored chunks: walk it, reuse what the stat cache vouches for, cut the rest.

A source is a file, a folder, a pandas or polars DataFrame, or a pyarrow Table (written as one Parquet file,
``data.parquet``, in row groups of ~2 MiB with pyarrow's content-defined page chunking, so appended rows
leave earlier row groups, pages and chunks unchanged). Files are read once: chunk digests of a window of
files are looked up in the chunk index
together, and only chunks the store lacks go into the pack.

The stat cache remembers (size, mtime, ctime, inode) and the digest of each file of a working folder. A file
whose stat is unchanged is not read again, unless it was modified just before the last scan (within 100 ms,
or 2 s where timestamps have whole seconds): a write in the same timestamp tick could be invisible to the
stat (git's "racy clean" rule).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from modelyard.data.chunks import CHUNK_AVG, CHUNK_MAX, CHUNK_MIN, SINGLE_CHUNK_MAX, PackWriter, chunk_digest
from modelyard.data.manifests import encode_chunk_list
from modelyard.data.models import FileEntry, SourceFile, SourceState
from modelyard.errors import InvalidInputError, NotFoundError
from modelyard.ids import Digest
from modelyard.stores.paths import MAX_PATH_BYTES, clean_name, clean_relpath
from modelyard.stores.protocols import ChunkRepository

__all__ = [
    "ChunkSink",
    "LocalFile",
    "Prepared",
    "chunk_files",
    "hash_file",
    "is_racy",
    "is_unchanged",
    "prepare_source",
    "scan_folder",
    "source_file",
]

_RACY_COARSE_NS = 2_000_000_000  # whole-second timestamps (FAT, some network filesystems): a 2 s tick
_RACY_FINE_NS = 100_000_000  # sub-second timestamps: ticks of a few milliseconds, with a wide margin
_WINDOW_CHUNKS = 4096
_WINDOW_BYTES = 32 * 1024 * 1024
_FRAME_FILE = "data.parquet"
# Row groups of ~2 MiB (uncompressed): appended rows leave every earlier row group byte-identical, which
# content-defined chunking then stores once (measured on the demo's monthly flights: 78% saved at 2 MiB,
# 64% at 8 MiB, 25% with one row group; see docs/design.md).
_ROW_GROUP_BYTES = 2 * 1024 * 1024


class LocalFile(NamedTuple):
    """A file to commit: where it is on disk, its path in the version, and its stat.

    A named tuple for the same reason as ``SourceFile``: one per file of a folder walk.
    """

    path: str
    relpath: str
    size_bytes: int
    mtime_ns: int
    ctime_ns: int
    inode: int


@dataclass
class Prepared:
    """A commit's files on disk; ``folder`` is set when they came from a working folder (stat cache applies)."""

    files: list[LocalFile]
    folder: Path | None
    cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup.close()


def _local(path: str, relpath: str, info: os.stat_result) -> LocalFile:
    return LocalFile(path, relpath, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def scan_folder(folder: Path) -> list[LocalFile]:
    """Every regular file under ``folder`` (symbolic links are refused, not followed), by relative path.

    Each name passes the path chokepoint (``clean_name``) once, so a relative path is valid when its names are.
    """
    found: list[LocalFile] = []
    stack = [(os.fspath(folder), "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = list(os.scandir(current))
        except PermissionError as exc:
            raise InvalidInputError(
                f"Cannot read the folder {current!r}: {exc.strerror}.", hint="Check its permissions."
            ) from exc
        for entry in entries:
            name = entry.name if entry.name.isascii() else unicodedata.normalize("NFC", entry.name)  # macOS: NFD
            relpath = f"{prefix}{clean_name(name)}"
            if entry.is_symlink():
                raise InvalidInputError(
                    f"{entry.path!r} is a symbolic link; datasets hold regular files only.",
                    hint="Replace the link with the file it points to, or move it out of the folder.",
                )
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, relpath + "/"))
            elif entry.is_file(follow_symlinks=False):
                if len(relpath) > MAX_PATH_BYTES and len(relpath.encode()) > MAX_PATH_BYTES:
                    clean_relpath(relpath)  # raises, naming the limit
                found.append(_local(entry.path, relpath, entry.stat(follow_symlinks=False)))
            else:
                raise InvalidInputError(
                    f"{entry.path!r} is not a regular file (a device, socket or pipe).",
                    hint="Commit regular files only.",
                )
    found.sort(key=lambda f: f.relpath)
    return found


def _write_frame(source: Any, folder: Path) -> Path:
    """Write a DataFrame or Table as Parquet with content-defined pages; return the file."""
    from modelyard.data.tables import require_arrow

    pa = require_arrow()
    import pyarrow.parquet as pq

    module = type(source).__module__.split(".")[0]
    if isinstance(source, pa.Table):
        table = source
    elif isinstance(source, pa.RecordBatch):
        table = pa.Table.from_batches([source])
    elif module == "pandas":
        table = pa.Table.from_pandas(source)
    elif module == "polars":
        table = source.to_arrow()
    else:
        raise InvalidInputError(
            f"Cannot commit a {type(source).__name__}.",
            hint="Commit a file, a folder, a pandas or polars DataFrame, or a pyarrow Table.",
        )
    target = folder / _FRAME_FILE
    bytes_per_row = table.nbytes / table.num_rows if table.num_rows else 1.0
    rows_per_group = int(min(max(_ROW_GROUP_BYTES / max(bytes_per_row, 1.0), 4096), 1_048_576))
    options: dict[str, Any] = {"compression": "zstd", "row_group_size": rows_per_group}
    if "use_content_defined_chunking" in pq.write_table.__code__.co_varnames:
        options["use_content_defined_chunking"] = True
    pq.write_table(table, target, **options)
    return target


def prepare_source(source: object) -> Prepared:
    """Resolve what ``commit`` was given into files on disk.

    Raises:
        NotFoundError: a path does not exist.
        InvalidInputError: an empty folder, an unreadable or special file, a symbolic link, an unsupported type.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        try:
            info = path.lstat()
        except FileNotFoundError:
            raise NotFoundError(
                f"Cannot commit {str(path)!r}: no such file or folder.", hint="Check the path."
            ) from None
        if stat.S_ISLNK(info.st_mode):
            raise InvalidInputError(
                f"{str(path)!r} is a symbolic link.", hint="Commit the file or folder it points to instead."
            )
        if stat.S_ISDIR(info.st_mode):
            files = scan_folder(path)
            if not files:
                raise InvalidInputError(
                    f"Folder {str(path)!r} holds no files.", hint="Commit a folder with files in it."
                )
            return Prepared(files=files, folder=path.resolve())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"{str(path)!r} is not a regular file.", hint="Commit regular files only.")
        name = clean_relpath(unicodedata.normalize("NFC", path.name))
        return Prepared(files=[_local(os.fspath(path), name, info)], folder=None)
    prepared = Prepared(files=[], folder=None)
    temp = Path(prepared.cleanup.enter_context(tempfile.TemporaryDirectory(prefix="modelyard-commit-")))
    try:
        written = _write_frame(source, temp)
    except BaseException:
        prepared.cleanup.close()
        raise
    prepared.files.append(_local(os.fspath(written), _FRAME_FILE, written.stat()))
    return prepared


def is_unchanged(item: LocalFile, cached: SourceFile, scanned_ns: int) -> bool:
    """Whether the stat cache vouches for a file: same size, mtime, ctime and inode, and not racy."""
    # (size, mtime, ctime, inode) sit at the same positions 1-4 / 2-5 of both tuples: one comparison.
    return cached[1:5] == item[2:6] and not is_racy(item.mtime_ns, scanned_ns)


def is_racy(mtime_ns: int, scanned_ns: int) -> bool:
    """Whether a file was modified so close to a scan that a later write could leave its stat unchanged."""
    window = _RACY_COARSE_NS if mtime_ns % 1_000_000_000 == 0 else _RACY_FINE_NS
    return mtime_ns >= scanned_ns - window


class ChunkSink:
    """Chunks waiting for one lookup in the chunk index; those the store lacks go to the pack writer.

    File chunks and manifest blobs of a commit pass through one sink, so the index is asked once per window
    of ~4,000 chunks, never once per chunk. ``drain`` before finishing the writer.
    """

    def __init__(self, index: ChunkRepository, writer: PackWriter) -> None:
        self._index = index
        self._writer = writer
        self._chunks: list[tuple[bytes, bytes | memoryview]] = []
        self._bytes = 0

    def add_blob(self, data: bytes) -> bytes:
        """Store ``data`` as one chunk (a manifest leaf, node or root); return its digest."""
        digest = chunk_digest(data)
        self.add(digest, data)
        return digest

    def add(self, digest: bytes, data: bytes | memoryview) -> None:
        """Queue one chunk."""
        self._chunks.append((digest, data))
        self._bytes += len(data)
        if len(self._chunks) >= _WINDOW_CHUNKS or self._bytes >= _WINDOW_BYTES:
            self.drain()

    def drain(self) -> None:
        """Look the queued chunks up and hand the missing ones to the writer."""
        if not self._chunks:
            return
        missing = self._index.missing([d for d, _ in self._chunks if d not in self._writer])
        for digest, data in self._chunks:
            if digest in missing:
                self._writer.add(digest, data)  # a no-op for a chunk the writer holds already
        self._chunks, self._bytes = [], 0


def _read_small(path: str, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.read(fd, size + 1)  # one byte more than expected tells a file that grew
        while len(data) <= size and (more := os.read(fd, size + 1 - len(data))):
            data += more
    finally:
        os.close(fd)
    return data


def _chunks(item: LocalFile) -> Iterator[memoryview]:
    """A large file's content-defined chunks, cut from a memory map."""
    from pyfastcdc import FastCDC

    for chunk in FastCDC(CHUNK_AVG, min_size=CHUNK_MIN, max_size=CHUNK_MAX).cut_file(item.path):
        yield chunk.data


def _changed(item: LocalFile, total: int) -> InvalidInputError:
    return InvalidInputError(
        f"{item.path!r} changed size while being read ({item.size_bytes} -> {total} bytes).",
        hint="Try again once nothing is writing to it.",
    )


def _is_small(item: LocalFile) -> bool:
    return 0 < item.size_bytes <= SINGLE_CHUNK_MAX


def hash_file(item: LocalFile, sink: Callable[[bytes, bytes | memoryview], None] | None = None) -> tuple[bytes, bool]:
    """A file's digest and whether it is chunked; ``sink`` receives every chunk (and the chunk list).

    A file up to 64 KiB is one chunk, read in one call; a larger one is cut by FastCDC. Empty and multi-chunk
    files are named by their chunk list.
    """
    try:
        if _is_small(item):
            data = _read_small(item.path, item.size_bytes)
            if len(data) != item.size_bytes:
                raise _changed(item, len(data))
            digest = chunk_digest(data)
            if sink is not None:
                sink(digest, data)
            return digest, False
        chunks: list[tuple[bytes, int]] = []
        total = 0
        for view in () if item.size_bytes == 0 else _chunks(item):
            digest = chunk_digest(view)
            chunks.append((digest, len(view)))
            total += len(view)
            if sink is not None:
                sink(digest, view)
    except PermissionError as exc:
        raise InvalidInputError(f"Cannot read {item.path!r}: {exc.strerror}.", hint="Check its permissions.") from exc
    except (IsADirectoryError, FileNotFoundError) as exc:  # replaced or removed between the scan and the read
        raise InvalidInputError(f"{item.path!r} changed while being committed.", hint="Commit it again.") from exc
    if total != item.size_bytes:
        raise _changed(item, total)
    if len(chunks) == 1:
        return chunks[0][0], False
    listing = encode_chunk_list(chunks)
    file_digest = chunk_digest(listing)
    if sink is not None:
        sink(file_digest, listing)
    return file_digest, True


def source_file(item: LocalFile, digest: bytes, chunked: bool) -> SourceFile:
    """The stat-cache row of a file just hashed."""
    return SourceFile(
        path=item.relpath,
        size_bytes=item.size_bytes,
        mtime_ns=item.mtime_ns,
        ctime_ns=item.ctime_ns,
        inode=item.inode,
        digest=digest,
        chunked=chunked,
    )


def chunk_files(
    files: list[LocalFile],
    sink: ChunkSink,
    cache: SourceState | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[FileEntry], list[SourceFile]]:
    """Chunk the files into ``sink``; return their entries and the stat-cache rows to save.

    ``progress`` is called with (bytes done, bytes in all) after each file.
    """
    entries: list[FileEntry] = []
    fresh: list[SourceFile] = []
    scanned_ns = 0 if cache is None else cache.scanned_ns
    total, done = sum(f.size_bytes for f in files), 0
    for item in files:
        cached = None if cache is None else cache.files.get(item.relpath)
        if cached is not None and is_unchanged(item, cached, scanned_ns):
            digest, chunked = cached.digest, cached.chunked
        else:
            digest, chunked = hash_file(item, sink.add)
            fresh.append(source_file(item, digest, chunked))
        entries.append(
            FileEntry(path=item.relpath, size_bytes=item.size_bytes, digest=Digest.from_bytes(digest), chunked=chunked)
        )
        done += item.size_bytes
        if progress is not None:
            progress(done, total)
    return entries, fresh
