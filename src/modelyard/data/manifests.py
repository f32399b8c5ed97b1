"""Version manifests: which files a version holds, stored so that a one-file change rewrites O(log n) bytes.

A manifest is a sorted list of entries ``[path, size, digest, chunked]`` cut into *leaves* at content-defined
boundaries: a leaf ends after an entry whose path hashes below a threshold (about one in 64). Above the
leaves, references ``[digest, entries, first path]`` are cut into *nodes* the same way, level by level, until
a root holds at most ~64 references (a prolly tree). Inserting, removing or changing one file changes one
leaf, one node per level and the root: ~10 KB for 20,000 files, not the whole list. Every leaf, node and
root is JSON stored as one chunk; the version's digest is the root's. The chunks of a multi-chunk file are
listed in a *chunk list* (32-byte digest + 4-byte length per chunk), also one chunk, whose digest is the file's.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import blake3
import orjson

from modelyard.data.models import FileEntry
from modelyard.errors import IntegrityError
from modelyard.ids import Digest

__all__ = ["FORMAT", "Manifest", "decode_chunk_list", "encode_chunk_list", "read_manifest", "write_manifest"]

T = TypeVar("T")

FORMAT = "modelyard-manifest/1"
_BOUNDARY_BELOW = 4  # first hash byte below this ends a leaf: ~1 in 64 entries
_MAX_LEAF = 4096  # entries; a run of unlucky paths still makes bounded leaves
_ROOT_FANOUT = 64  # a root holds at most this many references; above that, another level of nodes
_LIST_ITEM = struct.Struct("<32sI")


def encode_chunk_list(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """The stored form of a file's chunk list."""
    return b"".join(_LIST_ITEM.pack(digest, length) for digest, length in chunks)


def decode_chunk_list(data: bytes, what: str) -> list[tuple[bytes, int]]:
    """Parse a chunk list. Raises IntegrityError when its length is not a whole number of items."""
    if len(data) % _LIST_ITEM.size:
        raise IntegrityError(f"{what}: its chunk list is malformed.", hint="Run `modelyard fsck`.")
    return [(bytes(d), n) for d, n in _LIST_ITEM.iter_unpack(data)]


def _is_boundary(path: str, level: int) -> bool:
    key = path.encode() if level == 0 else f"{level}:{path}".encode()
    return blake3.blake3(key).digest(length=1)[0] < _BOUNDARY_BELOW


@dataclass(frozen=True, slots=True)
class Manifest:
    """A version's files, in path order, the digest of its root, and the digests of its nodes and leaves."""

    digest: Digest
    entries: list[FileEntry]
    blobs: list[bytes]

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


def _cut(items: Sequence[T], first_path: Callable[[T], str], level: int) -> Iterator[list[T]]:
    """Cut a level into runs ending where an item's (first) path hashes below the threshold."""
    run: list[T] = []
    for item in items:
        run.append(item)
        if _is_boundary(first_path(item), level) or len(run) >= _MAX_LEAF:
            yield run
            run = []
    if run:
        yield run


Ref = tuple[str, int, str]  # (hex digest, entries below, first path)


def write_manifest(entries: Sequence[FileEntry], put_blob: Callable[[bytes], bytes]) -> Manifest:
    """Store the leaves, nodes and root of a manifest through ``put_blob`` (which returns a chunk digest)."""
    ordered = sorted(entries, key=lambda e: e.path)
    blobs: list[bytes] = []

    def put(body: bytes) -> str:
        digest = put_blob(body)
        blobs.append(digest)
        return digest.hex()

    refs: list[Ref] = []
    for leaf in _cut(ordered, lambda e: e.path, 0):
        body = orjson.dumps([[e.path, e.size_bytes, e.digest.hex, 1 if e.chunked else 0] for e in leaf])
        refs.append((put(body), len(leaf), leaf[0].path))
    height = 1
    while len(refs) > _ROOT_FANOUT:
        refs = [
            (put(orjson.dumps(node)), sum(r[1] for r in node), node[0][2])
            for node in _cut(refs, lambda r: r[2], height)
        ]
        height += 1
    root = orjson.dumps(
        {
            "format": FORMAT,
            "files": len(ordered),
            "bytes": sum(e.size_bytes for e in ordered),
            "height": height,
            "children": refs,
        }
    )
    return Manifest(digest=Digest.from_bytes(put_blob(root)), entries=list(ordered), blobs=blobs)


def _walk(
    digest: Digest, read_blobs: Callable[[Sequence[bytes], str], Iterator[bytes]], what: str
) -> tuple[dict[str, Any], list[bytes], list[bytes]]:
    """The root, the digests of every node and leaf (level by level), and the leaves' bodies."""
    label = f"{what} manifest"
    try:
        root = orjson.loads(next(iter(read_blobs([digest.raw], label))))
        if root.get("format") != FORMAT:
            raise ValueError(f"unknown format {root.get('format')!r}")
        children = [bytes.fromhex(ref[0]) for ref in root["children"]]
        inside: list[bytes] = []
        for _ in range(int(root["height"]) - 1):
            inside.extend(children)
            children = [bytes.fromhex(ref[0]) for body in read_blobs(children, label) for ref in orjson.loads(body)]
        leaves = list(read_blobs(children, label))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise IntegrityError(f"{what}: its manifest is malformed ({exc}).", hint="Run `modelyard fsck`.") from exc
    return root, [*inside, *children], leaves


def read_manifest(digest: Digest, read_blobs: Callable[[Sequence[bytes], str], Iterator[bytes]], what: str) -> Manifest:
    """Read a manifest back through ``read_blobs`` (which verifies every chunk)."""
    root, blobs, leaves = _walk(digest, read_blobs, what)
    entries: list[FileEntry] = []
    try:
        for body in leaves:
            entries.extend(
                FileEntry(path=p, size_bytes=int(s), digest=Digest(d), chunked=bool(c))
                for p, s, d, c in orjson.loads(body)
            )
    except (ValueError, TypeError) as exc:
        raise IntegrityError(f"{what}: its manifest is malformed ({exc}).", hint="Run `modelyard fsck`.") from exc
    if len(entries) != root["files"]:
        raise IntegrityError(
            f"{what}: its manifest lists {len(entries)} files, expected {root['files']}.", hint="Run `modelyard fsck`."
        )
    return Manifest(digest=digest, entries=entries, blobs=blobs)
