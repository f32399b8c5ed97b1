"""Writing a version's files into a folder: one pass over the packs, however many files.

Every chunk of every file is located in one batched lookup; files are then written in the order their
bytes sit in the packs, so reading is a few large sequential range requests (a 20,000-file version in one
pack is a handful of 16 MiB reads) and each chunk is verified before it is written. Each file is written to a
temporary name beside its target and renamed into place when complete, so an interrupted checkout leaves
whole files only. All target paths pass the batch path chokepoint before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from modelyard.data.chunks import ChunkReader
from modelyard.data.models import FileEntry
from modelyard.errors import IntegrityError
from modelyard.stores.protocols import ChunkLocation

__all__ = ["write_files"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _temp_name(target: Path) -> str:
    return os.path.join(os.path.dirname(target), f".{target.name}.modelyard-{os.getpid()}.part")


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def write_files(
    reader: ChunkReader,
    entries: Sequence[FileEntry],
    chunk_lists: Sequence[list[tuple[bytes, int]]],
    targets: Sequence[Path],
    what: str,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write each entry's verified bytes to its target (parents created), in pack order."""
    digests = [d for chunks in chunk_lists for d, _ in chunks]
    located = reader.locate(digests, what)
    per_file: list[list[ChunkLocation]] = []
    position = 0
    for chunks in chunk_lists:
        per_file.append(located[position : position + len(chunks)])
        position += len(chunks)
    order = sorted(
        range(len(entries)),
        key=lambda i: (per_file[i][0].pack.hex, per_file[i][0].offset) if per_file[i] else ("", -1),
    )
    for folder in sorted({os.path.dirname(t) for t in targets}):
        os.makedirs(folder, exist_ok=True)
    total = sum(e.size_bytes for e in entries)
    done = 0
    flat_digests = [d for i in order for d, _ in chunk_lists[i]]
    flat_locations = [loc for i in order for loc in per_file[i]]
    stream = reader.read_views(flat_digests, flat_locations, what)
    for i in order:
        target, temp = targets[i], _temp_name(targets[i])
        fd = os.open(temp, _FLAGS, 0o666)
        try:
            try:
                for _ in chunk_lists[i]:
                    _write_all(fd, next(stream))
            except IntegrityError as exc:  # name the file: the stream only knows the version
                message = exc.message.replace(f"{what}:", f"{what} file {entries[i].path!r}:", 1)
                raise IntegrityError(message, hint=exc.hint) from exc
            finally:
                os.close(fd)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        done += entries[i].size_bytes
        if progress is not None:
            progress(done, total)
