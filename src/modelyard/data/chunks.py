"""Chunks and packs: how dataset bytes are cut, deduplicated, packed into large objects and read back.

A file is cut by FastCDC (content-defined chunking: ~64 KiB on average, 16-256 KiB) so an insertion or an
append changes only the chunks around it; files up to 64 KiB are one chunk. Every chunk is named by its blake3
digest and stored once. New chunks are appended to a *pack*, a large object (~32 MiB) streamed into the
artifact store by a background thread while the next chunks are cut, so 20,000 small files become a handful of
objects and a 1 GiB file is written once. The chunk index (digest -> pack, offset, length) lives in the
metadata store and is written in the same transaction as the version that needs it: a crash before that
commit leaves only unreferenced packs, which ``gc`` removes.

Reads coalesce neighbouring chunks of one pack into one range request and verify every chunk's digest, so a
flipped byte is refused with an error naming the dataset and file.
"""

from __future__ import annotations

import bisect
import io
import queue
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, BinaryIO

import blake3

from modelyard.data.models import NewPack
from modelyard.errors import IntegrityError
from modelyard.ids import Digest
from modelyard.stores.protocols import ArtifactStore, ChunkLocation, ChunkRepository, StoredObject

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "CHUNK_AVG",
    "CHUNK_MAX",
    "CHUNK_MIN",
    "PACK_TARGET",
    "SINGLE_CHUNK_MAX",
    "ChunkReader",
    "ChunkedFile",
    "PackWriter",
    "chunk_digest",
    "read_stream",
]

KiB = 1024
MiB = 1024 * KiB
CHUNK_AVG = 64 * KiB
CHUNK_MIN = 16 * KiB
CHUNK_MAX = 256 * KiB
SINGLE_CHUNK_MAX = 64 * KiB  # files up to this size are one chunk
PACK_TARGET = 32 * MiB
_COALESCE_GAP = 64 * KiB  # read through gaps this small rather than issue another request
_READ_WINDOW = 16 * MiB  # largest single range request
_QUEUE_BYTES = 8 * MiB  # bytes in flight between the chunker and the pack upload
_BLOCK = MiB  # chunks cross to the upload thread in blocks of this size
_IN_FLIGHT = 2  # packs uploading at once
_READ_AHEAD = 2  # read windows fetched ahead of the one being used
_FSCK_HINT = "Run `modelyard fsck` to list damaged objects; restore the pack from a copy or re-commit the data."


def chunk_digest(data: bytes | memoryview) -> bytes:
    """The 32-byte blake3 digest of a chunk."""
    return blake3.blake3(data).digest()


class _QueueStream(io.RawIOBase):
    """The read side of a bounded byte queue: what ``ArtifactStore.put`` consumes while chunks are added."""

    def __init__(self) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes | bytearray | None] = queue.Queue(maxsize=max(2, _QUEUE_BYTES // _BLOCK))
        self._current = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def feed(self, data: bytes | bytearray | None) -> None:
        self._queue.put(data)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target):
            if not self._current:
                if self._done:
                    break
                if filled:  # hand over what is here rather than wait for more
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                else:
                    item = self._queue.get()
                if item is None:
                    self._done = True
                    break
                self._current = memoryview(item)
            take = min(len(self._current), len(target) - filled)
            target[filled : filled + take] = self._current[:take]
            self._current = self._current[take:]
            filled += take
        return filled


class PackWriter:
    """Append new chunks to packs streamed into the artifact store; ``finish`` returns what was written.

    Chunks already in the index must be filtered out by the caller (see ``missing`` on the chunk index); a
    chunk added twice in one writer is stored once. Small chunks are gathered into blocks of ~1 MiB before
    they cross to the upload thread, and up to two packs are in flight, so the fsync of one overlaps the
    cutting and hashing of the next.
    """

    def __init__(self, artifacts: ArtifactStore, *, target_bytes: int = PACK_TARGET) -> None:
        self._artifacts = artifacts
        self._target = target_bytes
        self._pool = ThreadPoolExecutor(max_workers=_IN_FLIGHT, thread_name_prefix="modelyard-pack")
        self._seen: set[bytes] = set()
        self._packs: list[NewPack] = []
        self._closing: list[tuple[Future[StoredObject], list[tuple[bytes, int, int]], int]] = []
        self._open_pack: tuple[_QueueStream, Future[StoredObject]] | None = None
        self._block = bytearray()
        self._chunks: list[tuple[bytes, int, int]] = []
        self._offset = 0

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._seen

    def add(self, digest: bytes, data: bytes | memoryview) -> None:
        """Append one chunk (a no-op when this writer already holds it)."""
        if digest in self._seen:
            return
        if self._open_pack is None:
            self._reap(keep=_IN_FLIGHT - 1)
            stream = _QueueStream()
            self._open_pack = (stream, self._pool.submit(self._artifacts.put, stream))  # type: ignore[arg-type]
            self._chunks, self._offset = [], 0
        stream, upload = self._open_pack
        if upload.done():  # the upload failed early: surface its error now
            upload.result()
        self._block += data
        if len(self._block) >= _BLOCK:
            stream.feed(self._block)  # handed over whole: the upload thread owns it now
            self._block = bytearray()
        self._seen.add(digest)
        self._chunks.append((digest, self._offset, len(data)))
        self._offset += len(data)
        if self._offset >= self._target:
            self._close_pack()

    def finish(self) -> list[NewPack]:
        """Complete every pack (each durable in the store) and return them with their chunks."""
        try:
            self._close_pack()
            self._reap(keep=0)
        finally:
            self._pool.shutdown(wait=True)
        return list(self._packs)

    def abort(self) -> None:
        """Stop writing; packs in flight are completed and left unreferenced (gc removes them)."""
        if self._open_pack is not None:
            self._open_pack[0].feed(None)
            self._open_pack = None
        self._pool.shutdown(wait=True)

    def _close_pack(self) -> None:
        if self._open_pack is None:
            return
        stream, upload = self._open_pack
        self._open_pack = None
        if self._block:
            stream.feed(self._block)
            self._block = bytearray()
        stream.feed(None)
        self._closing.append((upload, self._chunks, self._offset))

    def _reap(self, *, keep: int) -> None:
        """Wait until at most ``keep`` closed packs are still uploading; record the finished ones."""
        while len(self._closing) > keep:
            upload, chunks, size = self._closing.pop(0)
            stored = upload.result()
            if stored.size_bytes != size:
                raise IntegrityError(
                    f"Pack {stored.digest} holds {stored.size_bytes} bytes, expected {size}.",
                    hint="Retry the commit; if it repeats, check the artifact store.",
                )
            self._packs.append(NewPack(digest=stored.digest, size_bytes=stored.size_bytes, chunks=chunks))


def _spans(locations: Sequence[ChunkLocation]) -> Iterator[tuple[Digest, int, int, int, int]]:
    """Group consecutive chunks into range reads: (pack, start, end, first index, last index + 1)."""
    i = 0
    while i < len(locations):
        first = locations[i]
        start, end, j = first.offset, first.offset + first.length, i + 1
        while j < len(locations):
            nxt = locations[j]
            if nxt.pack != first.pack or not (end <= nxt.offset <= end + _COALESCE_GAP):
                break
            if nxt.offset + nxt.length - start > _READ_WINDOW:
                break
            end = nxt.offset + nxt.length
            j += 1
        yield first.pack, start, end, i, j
        i = j


class ChunkReader:
    """Read chunks by digest from their packs, verified, in the order asked."""

    def __init__(self, artifacts: ArtifactStore, index: ChunkRepository) -> None:
        self._artifacts = artifacts
        self._index = index

    def locate(self, digests: Sequence[bytes], what: str) -> list[ChunkLocation]:
        """Where each chunk lives, in order. Raises IntegrityError naming ``what`` when one is not indexed."""
        found = self._index.locate(list(dict.fromkeys(digests)))
        missing = [d for d in digests if d not in found]
        if missing:
            raise IntegrityError(
                f"{what}: {len(missing)} chunk(s) are missing from the store, such as {missing[0].hex()[:16]}.",
                hint="The store lost data it referenced; pull the dataset again or restore the store.",
            )
        return [found[d] for d in digests]

    def read(self, digests: Sequence[bytes], what: str) -> Iterator[bytes]:
        """Yield each chunk's bytes, verified, reading neighbouring chunks in one request."""
        locations = self.locate(digests, what)
        yield from self.read_located(digests, locations, what)

    def read_located(self, digests: Sequence[bytes], locations: Sequence[ChunkLocation], what: str) -> Iterator[bytes]:
        """Like ``read`` for chunks already located."""
        for view in self.read_views(digests, locations, what):
            yield bytes(view)

    def read_views(
        self, digests: Sequence[bytes], locations: Sequence[ChunkLocation], what: str
    ) -> Iterator[memoryview]:
        """Verified chunks as views into each read window (no copy; a view keeps its window alive).

        The next two windows are fetched by a background thread while the current one is verified and used,
        so reading from disk or S3 overlaps the caller's work.
        """
        spans = list(_spans(locations))
        if not spans:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelyard-read") as pool:
            ahead: deque[Future[bytes]] = deque()

            def fetch(index: int) -> None:
                pack, start, end, _, _ = spans[index]
                ahead.append(pool.submit(self._artifacts.read_range, pack, start, end - start))

            for index in range(min(_READ_AHEAD, len(spans))):
                fetch(index)
            for index, (pack, start, _, first, last) in enumerate(spans):
                view = memoryview(ahead.popleft().result())
                if index + _READ_AHEAD < len(spans):
                    fetch(index + _READ_AHEAD)
                for k in range(first, last):
                    loc = locations[k]
                    data = view[loc.offset - start : loc.offset - start + loc.length]
                    if chunk_digest(data) != digests[k]:
                        raise IntegrityError(
                            f"{what}: chunk {digests[k].hex()[:16]} at offset {loc.offset} of pack {pack} is corrupt.",
                            hint=_FSCK_HINT,
                        )
                    yield data


class ChunkedFile(io.RawIOBase):
    """A seekable, read-only file assembled from verified chunks, fetched a window at a time.

    Args:
        reader: reads chunks from the store.
        chunks: the file's chunks in order, as (digest, length).
        what: a description for errors, such as ``"dataset flights@3 file flights.parquet"``.
    """

    def __init__(self, reader: ChunkReader, chunks: Sequence[tuple[bytes, int]], what: str) -> None:
        super().__init__()
        self._reader = reader
        self._digests = [d for d, _ in chunks]
        self._starts: list[int] = []
        position = 0
        for _, length in chunks:
            self._starts.append(position)
            position += length
        self._size = position
        self._what = what
        self._position = 0
        self._locations: list[ChunkLocation] | None = None
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def readable(self) -> bool:
        """Whether reads are allowed (always)."""
        return True

    def seekable(self) -> bool:
        """Whether seeks are allowed (always)."""
        return True

    def tell(self) -> int:
        """The current position."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` (from the start, the current position or the end); return the new position."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        position = base + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Fill ``buffer`` from the current position; 0 at the end of the file."""
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target) and self._position < self._size:
            index = bisect.bisect_right(self._starts, self._position) - 1
            data = self._chunk(index)
            inside = self._position - self._starts[index]
            take = min(len(data) - inside, len(target) - filled)
            target[filled : filled + take] = data[inside : inside + take]
            filled += take
            self._position += take
        return filled

    def readall(self) -> bytes:
        """The rest of the file."""
        parts: list[bytes] = []
        while chunk := self.read(4 * MiB):
            parts.append(chunk)
        return b"".join(parts)

    def _chunk(self, index: int) -> bytes:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        if self._locations is None:
            self._locations = self._reader.locate(self._digests, self._what)
        # Fetch a window: this chunk and the following ones stored next to it, up to ~8 MiB.
        last = index + 1
        while last < len(self._digests) and self._starts[last] - self._starts[index] < 8 * MiB:
            last += 1
        window = range(index, last)
        for k, data in zip(
            window,
            self._reader.read_located(self._digests[index:last], self._locations[index:last], self._what),
            strict=True,
        ):
            self._cache[k] = data
        while len(self._cache) > 256:
            self._cache.popitem(last=False)
        return self._cache[index]


def read_stream(reader: ChunkReader, chunks: Iterable[tuple[bytes, int]], what: str) -> BinaryIO:
    """A seekable buffered reader over a file's chunks."""
    return io.BufferedReader(ChunkedFile(reader, list(chunks), what), buffer_size=MiB)
