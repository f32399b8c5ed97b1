"""Streaming blake3 hashing shared by every artifact store: hash on the way in, verify on the way out.

``hash_stream`` copies a stream in fixed-size chunks while hashing it, so memory stays bounded whatever the
object size. ``VerifyingReader`` wraps a stored object's bytes and raises ``IntegrityError`` at end of stream
when they do not hash to the digest they are stored under, so corrupt bytes are never served silently.
"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol

import blake3

from modelyard.errors import IntegrityError
from modelyard.ids import Digest

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["CHUNK_SIZE", "VerifyingReader", "hash_stream", "open_verified"]

CHUNK_SIZE = 1024 * 1024
_FSCK_HINT = "Run `modelyard fsck` to find every damaged object; restore it from a copy or re-log it."


class Readable(Protocol):
    """Anything with ``read(n) -> bytes`` and ``close()``: files, HTTP response bodies."""

    def read(self, size: int, /) -> bytes:
        """Read up to ``size`` bytes; ``b""`` at end of stream."""
        ...

    def close(self) -> None:
        """Release the stream."""
        ...


def _new_hasher() -> blake3.blake3:
    # Multithreaded hashing pays off for chunks of 1 MiB and more (about 2x on 2 cores).
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


def hash_stream(src: IO[bytes], dst: IO[bytes] | None, *, chunk_size: int = CHUNK_SIZE) -> tuple[Digest, int]:
    """Read ``src`` to its end in chunks, hashing it and copying it to ``dst`` when given.

    Args:
        src: the stream to read from its current position.
        dst: where to copy the bytes, or ``None`` to hash only.
        chunk_size: bytes read per step; memory use is about one chunk.

    Returns:
        The blake3 digest and the number of bytes read.

    Added in 0.1.

    Example:
        >>> digest, size = hash_stream(io.BytesIO(b"abc"), None)
        >>> (digest.short, size)
        ('6437b3ac3846', 3)
    """
    hasher = _new_hasher()
    size = 0
    while chunk := src.read(chunk_size):
        hasher.update(chunk)
        if dst is not None:
            dst.write(chunk)
        size += len(chunk)
    return Digest(hasher.hexdigest()), size


class VerifyingReader(io.RawIOBase):
    """A read-only stream over an object's bytes that checks them against their digest at end of stream.

    Reading past the last byte raises ``IntegrityError`` (and keeps raising it) when the bytes hash to
    another digest or their count differs from ``size_bytes``. A caller that stops early gets no check.
    Wrap it in ``io.BufferedReader`` (see :func:`open_verified`) for ``readline`` and small reads.

    Args:
        source: the raw bytes; closed when this reader is closed.
        digest: the digest the object is stored under.
        size_bytes: the expected size, when the store knows it independently of the bytes.
        what: a description for messages, such as ``"run abc artifact model/model.skops"``.

    Added in 0.1.
    """

    def __init__(
        self, source: Readable, digest: Digest, *, size_bytes: int | None = None, what: str | None = None
    ) -> None:
        super().__init__()
        self._source = source
        self._digest = digest
        self._size_bytes = size_bytes
        self._what = what
        self._hasher = _new_hasher()
        self._read_bytes = 0
        self._at_end = False
        self._failure: IntegrityError | None = None

    def readable(self) -> bool:
        """Whether reads are allowed (always)."""
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Fill ``buffer`` with the next bytes; verify the object when the source is exhausted."""
        if self._failure is not None:
            raise IntegrityError(self._failure.message, hint=self._failure.hint)
        view = memoryview(buffer).cast("B")
        if self._at_end or not len(view):
            return 0
        chunk = self._source.read(len(view))
        if not chunk:
            self._finish()
            return 0
        count = len(chunk)
        self._read_bytes += count
        if self._size_bytes is not None and self._read_bytes > self._size_bytes:
            self._fail(f"it holds more than the expected {self._size_bytes} bytes")
        self._hasher.update(chunk)
        view[:count] = chunk
        return count

    def readall(self) -> bytes:
        """Read to the end in large chunks (the default reads 8 KiB at a time)."""
        parts: list[bytes] = []
        while chunk := self.read(CHUNK_SIZE):
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Close the reader and its source."""
        if not self.closed:
            try:
                self._source.close()
            finally:
                super().close()

    def _finish(self) -> None:
        self._at_end = True
        if self._size_bytes is not None and self._read_bytes != self._size_bytes:
            self._fail(f"it holds {self._read_bytes} bytes, expected {self._size_bytes} (truncated)")
        actual = Digest(self._hasher.hexdigest())
        if actual != self._digest:
            self._fail(f"its content hashes to {actual}")

    def _fail(self, reason: str) -> None:
        about = f" ({self._what})" if self._what else ""
        self._failure = IntegrityError(f"Object {self._digest}{about} is corrupt: {reason}.", hint=_FSCK_HINT)
        raise self._failure


def open_verified(
    source: Readable, digest: Digest, *, size_bytes: int | None = None, what: str | None = None
) -> BinaryIO:
    """Return a buffered binary stream over ``source`` that raises ``IntegrityError`` on a digest mismatch."""
    reader = VerifyingReader(source, digest, size_bytes=size_bytes, what=what)
    return io.BufferedReader(reader, buffer_size=CHUNK_SIZE)
