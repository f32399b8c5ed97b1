"""Version manifests: which files a version holds, stored so that a one-file change rewrites one small leaf.

A manifest is a sorted list of entries ``[path, size, digest, chunked]`` cut into *leaves* at content-defined
boundaries: a leaf ends after an entry whose path hashes below a threshold (about one in 64), so inserting,
removing or changing one file changes one leaf and the root, never the whole list. Leaves and the root are
JSON, each stored as one chunk; the version's digest is the root's. The chunks of a multi-chunk file are listed
in a *chunk list* (32-byte digest + 4-byte length per chunk), also stored as one chunk, whose digest is the
file's digest.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import blake3
import orjson

from modelyard.data.models import FileEntry
from modelyard.errors import IntegrityError
from modelyard.ids import Digest

__all__ = ["FORMAT", "Manifest", "decode_chunk_list", "encode_chunk_list", "read_manifest", "write_manifest"]

FORMAT = "modelyard-manifest/1"
_BOUNDARY_BELOW = 4  # first hash byte below this ends a leaf: ~1 in 64 entries
_MAX_LEAF = 4096  # entries; a run of unlucky paths still makes bounded leaves
_LIST_ITEM = struct.Struct("<32sI")


def encode_chunk_list(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """The stored form of a file's chunk list."""
    return b"".join(_LIST_ITEM.pack(digest, length) for digest, length in chunks)


def decode_chunk_list(data: bytes, what: str) -> list[tuple[bytes, int]]:
    """Parse a chunk list. Raises IntegrityError when its length is not a whole number of items."""
    if len(data) % _LIST_ITEM.size:
        raise IntegrityError(f"{what}: its chunk list is malformed.", hint="Run `modelyard fsck`.")
    return [(bytes(d), n) for d, n in _LIST_ITEM.iter_unpack(data)]


def _is_boundary(path: str) -> bool:
    return blake3.blake3(path.encode()).digest(length=1)[0] < _BOUNDARY_BELOW


@dataclass(frozen=True, slots=True)
class Manifest:
    """A version's files, in path order, and the digest of its root."""

    digest: Digest
    entries: list[FileEntry]

    @property
    def size_bytes(self) -> int:
        """Total bytes of the version's files."""
        return sum(e.size_bytes for e in self.entries)

    def find(self, path: str) -> FileEntry | None:
        """The entry for ``path``, or None."""
        import bisect

        paths = [e.path for e in self.entries]
        index = bisect.bisect_left(paths, path)
        if index < len(paths) and paths[index] == path:
            return self.entries[index]
        return None

    def under(self, prefix: str) -> list[FileEntry]:
        """Entries equal to ``prefix`` or inside the folder ``prefix``."""
        folder = prefix.rstrip("/") + "/"
        return [e for e in self.entries if e.path == prefix or e.path.startswith(folder)]


def _leaves(entries: Sequence[FileEntry]) -> Iterator[list[FileEntry]]:
    leaf: list[FileEntry] = []
    for entry in entries:
        leaf.append(entry)
        if _is_boundary(entry.path) or len(leaf) >= _MAX_LEAF:
            yield leaf
            leaf = []
    if leaf:
        yield leaf


def write_manifest(entries: Sequence[FileEntry], put_blob: Callable[[bytes], bytes]) -> Manifest:
    """Store the leaves and root of a manifest through ``put_blob`` (which returns a chunk digest)."""
    ordered = sorted(entries, key=lambda e: e.path)
    leaves = []
    for leaf in _leaves(ordered):
        body = orjson.dumps([[e.path, e.size_bytes, e.digest.hex, 1 if e.chunked else 0] for e in leaf])
        leaves.append([put_blob(body).hex(), len(leaf), leaf[0].path, leaf[-1].path])
    root = orjson.dumps(
        {"format": FORMAT, "files": len(ordered), "bytes": sum(e.size_bytes for e in ordered), "leaves": leaves}
    )
    return Manifest(digest=Digest.from_bytes(put_blob(root)), entries=list(ordered))


def read_manifest(digest: Digest, read_blobs: Callable[[Sequence[bytes], str], Iterator[bytes]], what: str) -> Manifest:
    """Read a manifest back through ``read_blobs`` (which verifies every chunk)."""
    root_bytes = next(iter(read_blobs([digest.raw], f"{what} manifest")))
    try:
        root = orjson.loads(root_bytes)
        if root.get("format") != FORMAT:
            raise ValueError(f"unknown format {root.get('format')!r}")
        leaf_digests = [bytes.fromhex(leaf[0]) for leaf in root["leaves"]]
        entries: list[FileEntry] = []
        for body in read_blobs(leaf_digests, f"{what} manifest"):
            entries.extend(
                FileEntry(path=p, size_bytes=int(s), digest=Digest(d), chunked=bool(c))
                for p, s, d, c in orjson.loads(body)
            )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise IntegrityError(f"{what}: its manifest is malformed ({exc}).", hint="Run `modelyard fsck`.") from exc
    if len(entries) != root["files"]:
        raise IntegrityError(f"{what}: its manifest lists {len(entries)} files, expected {root['files']}.")
    return Manifest(digest=digest, entries=entries)
