"""``LocalArtifactStore``: content-addressed objects in a folder, crash-safe and verified on every read.

Layout under the root::

    objects/<2 hex>/<62 hex>    finished objects, read-only (0o444), named by their blake3 digest
    tmp/                        uploads in progress (same filesystem, so the final rename is atomic)

A put streams into a temporary file while hashing, fsyncs it, renames it onto its digest path and fsyncs the
folder, so after a crash an object is either complete under its name or absent; at worst a stale temporary
file is left in ``tmp/``, which :meth:`LocalArtifactStore.clean_temp` removes. Object paths are derived from
digests only, never from user text.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from modelyard.errors import ConfigError, IntegrityError, NotFoundError, StoreUnavailableError
from modelyard.ids import Digest
from modelyard.stores.hashing import hash_stream, open_verified
from modelyard.stores.protocols import StoredObject

__all__ = ["LocalArtifactStore"]

_DIR_MODE = 0o755
_OBJECT_MODE = 0o444
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR})
_HEX = frozenset("0123456789abcdef")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dir(path: Path) -> bool:
    """Create ``path`` and missing parents, none world-writable; return whether ``path`` itself was new."""
    if path.is_dir():
        return False
    if not path.parent.is_dir():
        _make_dir(path.parent)
    try:
        path.mkdir(mode=_DIR_MODE)
    except FileExistsError:
        return False
    return True


def _short(digest: Digest, offset: int, length: int, got: int, where: object) -> IntegrityError:
    return IntegrityError(
        f"Object {digest} in {where} is shorter than expected: reading {length} bytes at offset {offset} "
        f"returned {got}.",
        hint="Run `modelyard fsck` to find every damaged object; restore it from a copy.",
    )


class LocalArtifactStore:
    """Write-once, content-addressed objects under a local (or mounted) folder.

    Args:
        root: the store folder; created on the first put.
        fault: test hook called with a fault-point name at each step of a put (``"after-temp-write"``,
            ``"after-fsync"``, ``"after-rename"``, ``"before-dir-fsync"``); crash tests die there.

    Added in 0.1.

    Example:
        >>> import io, tempfile
        >>> store = LocalArtifactStore(tempfile.mkdtemp())
        >>> stored = store.put(io.BytesIO(b"hello"))
        >>> with store.open(stored.digest) as reader:
        ...     reader.read()
        b'hello'
    """

    def __init__(self, root: str | os.PathLike[str], *, fault: Callable[[str], None] | None = None) -> None:
        self.root = Path(os.path.abspath(root))
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"
        self._fault_hook = fault

    @classmethod
    def from_uri(cls, uri: str) -> LocalArtifactStore:
        """Open the store named by ``file:///absolute/folder`` or a plain folder path.

        Raises:
            ConfigError: the URI has another scheme or names a remote host.
        """
        parts = urlsplit(uri)
        if parts.scheme.lower() == "file":
            if parts.netloc not in ("", "localhost"):
                raise ConfigError(
                    f"Artifact URI {uri!r} names the host {parts.netloc!r}; file URIs must be local.",
                    hint="Use file:///absolute/folder, or mount the share and give its local path.",
                )
            return cls(Path(unquote(parts.path)))
        if parts.scheme and len(parts.scheme) > 1:
            raise ConfigError(
                f"{uri!r} is not a local artifact store URI.",
                hint="Use a folder path or file:///absolute/folder.",
            )
        return cls(Path(uri).expanduser())

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    def put(self, data: BinaryIO) -> StoredObject:
        """Stream ``data`` into the store and make it durable under its digest (a no-op if already stored).

        Raises:
            StoreUnavailableError: the folder is full, read-only, a file, or not writable by this user.
        """
        try:
            return self._put(data)
        except OSError as exc:
            if exc.errno not in _WRITE_ERRNOS:
                raise
            raise StoreUnavailableError(
                f"Cannot write to the artifact store at {self.root}: {exc.strerror}.",
                hint="Free disk space, fix the folder's permissions or choose another folder; then retry.",
            ) from exc

    def _put(self, data: BinaryIO) -> StoredObject:
        if _make_dir(self._objects):
            _fsync_dir(self.root)
        _make_dir(self._tmp)
        with tempfile.NamedTemporaryFile(dir=self._tmp, prefix="put-", suffix=".part", delete=False) as temp:
            temp_path = Path(temp.name)
            try:
                digest, size = hash_stream(data, temp)
                temp.flush()
                self._fault("after-temp-write")
                os.fsync(temp.fileno())
                self._fault("after-fsync")
            except BaseException:
                temp.close()
                temp_path.unlink(missing_ok=True)
                raise
        try:
            return self._commit(temp_path, digest, size)
        finally:
            temp_path.unlink(missing_ok=True)

    def _commit(self, temp_path: Path, digest: Digest, size: int) -> StoredObject:
        final = self._path(digest)
        try:
            existing = final.stat()
        except FileNotFoundError:
            existing = None
        if existing is not None and existing.st_size == size:
            # Refresh the age so a concurrent gc's grace period protects the object we just acknowledged.
            # Best effort: in a folder shared by several users only the object's owner may do it.
            with contextlib.suppress(PermissionError):
                os.utime(final)
            return StoredObject(digest=digest, size_bytes=size)
        os.chmod(temp_path, _OBJECT_MODE)
        created_shard = _make_dir(final.parent)
        os.replace(temp_path, final)
        self._fault("after-rename")
        self._fault("before-dir-fsync")
        _fsync_dir(final.parent)
        if created_shard:
            _fsync_dir(self._objects)
        return StoredObject(digest=digest, size_bytes=size)

    def open(self, digest: Digest) -> BinaryIO:
        """Open an object for streaming reads; reading to the end raises IntegrityError on corruption.

        Raises:
            NotFoundError: no object has this digest.
        """
        try:
            handle = self._path(digest).open("rb", buffering=0)
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc
        return open_verified(handle, digest)

    def read_range(self, digest: Digest, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` of an object (callers verify the bytes they read).

        Raises:
            NotFoundError: no object has this digest.
            IntegrityError: the object ends before ``offset + length``.
        """
        try:
            fd = os.open(self._path(digest), os.O_RDONLY)
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc
        try:
            data = os.pread(fd, length, offset)
            while len(data) < length:  # pread may return less on some filesystems; an empty read is EOF
                more = os.pread(fd, length - len(data), offset + len(data))
                if not more:
                    break
                data += more
        finally:
            os.close(fd)
        if len(data) != length:
            raise _short(digest, offset, length, len(data), self.root)
        return data

    def exists(self, digest: Digest) -> bool:
        """Whether an object with this digest is stored."""
        return self._path(digest).is_file()

    def uri(self, digest: Digest) -> str:
        """The object's ``file://`` URI."""
        return self._path(digest).as_uri()

    def size(self, digest: Digest) -> int:
        """The stored size in bytes. Raises NotFoundError."""
        return self._stat(digest).st_size

    def age_s(self, digest: Digest) -> float:
        """Seconds since the object was last written or re-put. Raises NotFoundError."""
        return max(0.0, time.time() - self._stat(digest).st_mtime)

    def delete(self, digest: Digest) -> None:
        """Remove an object; deleting a missing object is a no-op."""
        self._path(digest).unlink(missing_ok=True)

    def list_objects(self) -> Iterator[StoredObject]:
        """Every stored object, shard by shard; stray files that are not digests are skipped."""
        try:
            shards = sorted(entry.name for entry in os.scandir(self._objects) if entry.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return
        for shard in shards:
            if len(shard) != 2 or not _HEX.issuperset(shard):
                continue
            with os.scandir(self._objects / shard) as entries:
                found = [
                    (e.name, e.stat(follow_symlinks=False).st_size) for e in entries if e.is_file(follow_symlinks=False)
                ]
            for name, size in found:
                if len(name) == 62 and _HEX.issuperset(name):
                    yield StoredObject(digest=Digest(shard + name), size_bytes=size)

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own files."""

    def clean_temp(self, *, max_age_s: float = 3600.0) -> int:
        """Remove temporary files older than ``max_age_s`` left by interrupted puts; return how many."""
        removed = 0
        cutoff = time.time() - max_age_s
        try:
            entries = list(os.scandir(self._tmp))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # another cleaner got there first
        return removed

    def _path(self, digest: Digest) -> Path:
        return self._objects / digest.hex[:2] / digest.hex[2:]

    def _stat(self, digest: Digest) -> os.stat_result:
        try:
            return self._path(digest).stat()
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc

    def _missing(self, digest: Digest) -> NotFoundError:
        return NotFoundError(
            f"Object {digest} is not in the artifact store at {self.root}.",
            hint="Check the artifact store URI; `modelyard fsck` lists every missing object.",
        )

    def _fault(self, point: str) -> None:
        if self._fault_hook is not None:
            self._fault_hook(point)
