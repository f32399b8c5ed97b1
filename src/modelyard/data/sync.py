"""Push and pull: copy a dataset's versions between two pairs of stores, sending only missing chunks.

Histories are linear and numbered, so the receiving side must hold a prefix of the sending side's versions
(same numbers, same digests); a diverged history is refused rather than renumbered. The chunks the new
versions need are read from the source (verified), packed, written to the destination and indexed one pack at
a time, so an interrupted transfer resumes where it stopped; the versions are recorded last, in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from modelyard.data.chunks import PACK_TARGET, PackWriter
from modelyard.data.models import DatasetVersion, NewVersion, SyncReport
from modelyard.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from modelyard.data.datasets import Datasets

__all__ = ["transfer"]

_READ_BATCH = 2048


def _needed(source: Datasets, version: DatasetVersion) -> Iterator[bytes]:
    """Every chunk digest a version needs: manifest root, nodes and leaves, chunk lists, file chunks."""
    reader = source.reader
    manifest = reader.manifest(version)
    yield version.digest.raw
    yield from manifest.blobs
    entries = manifest.entries
    yield from (entry.digest.raw for entry in entries)
    for chunks in reader.chunk_lists(version, [e for e in entries if e.chunked]):
        yield from (digest for digest, _ in chunks)


def _check_prefix(name: str, sending: list[DatasetVersion], receiving: list[DatasetVersion]) -> None:
    by_number = {v.number: v for v in sending}
    for version in receiving:
        mine = by_number.get(version.number)
        if mine is None or mine.digest != version.digest:
            raise ConflictError(
                f"Dataset {name!r} has diverged: version {version.number} differs between the two stores.",
                hint="Histories are linear: copy into a dataset of another name, or remove the diverging versions.",
            )


def _copy_chunks(source: Datasets, target: Datasets, digests: list[bytes], what: str) -> tuple[int, int, int]:
    """Copy chunks, one pack at a time (each indexed as soon as it is written): (chunks, bytes, packs)."""
    sent = size = packs = 0
    writer: PackWriter | None = None
    pending = 0
    try:
        for start in range(0, len(digests), _READ_BATCH):
            batch = digests[start : start + _READ_BATCH]
            for digest, data in zip(batch, source.reader.chunks.read(batch, what), strict=True):
                if writer is None:
                    writer = PackWriter(target.artifacts)
                writer.add(digest, data)
                sent += 1
                size += len(data)
                pending += len(data)
                if pending >= PACK_TARGET:
                    written = writer.finish()
                    target.metadata.chunks.add_packs(written)
                    packs += len(written)
                    writer, pending = None, 0
        if writer is not None:
            written = writer.finish()
            target.metadata.chunks.add_packs(written)
            packs += len(written)
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    return sent, size, packs


def transfer(source: Datasets, target: Datasets, ref: str) -> SyncReport:
    """Copy dataset versions up to ``ref`` (default its latest) from ``source`` to ``target``."""
    from modelyard.data.datasets import parse_ref

    name, _ = parse_ref(ref)
    newest = source.get(ref).number
    sending = sorted((v for v in source.versions(name) if v.number <= newest), key=lambda v: v.number)
    try:
        receiving = target.versions(name)
    except NotFoundError:
        receiving = []
    _check_prefix(name, sending, receiving)
    have = max((v.number for v in receiving), default=0)
    todo = [v for v in sending if v.number > have]
    needed = list(dict.fromkeys(d for v in todo for d in _needed(source, v)))
    missing = target.metadata.chunks.missing(needed)
    ordered = [d for d in needed if d in missing]
    sent, size, packs = _copy_chunks(source, target, ordered, f"dataset {name}")
    dataset = target.metadata.datasets.ensure(name)
    for version in todo:
        recorded, _ = target.metadata.datasets.add_version(
            NewVersion(
                dataset_id=dataset.id,
                digest=version.digest,
                author=version.author,
                message=version.message,
                file_count=version.file_count,
                size_bytes=version.size_bytes,
                stored_bytes=version.stored_bytes,
                status=version.status,
                profile=version.profile,
                checks=version.checks,
                created_ms=int(version.created_at.timestamp() * 1000),
            ),
            [],
        )
        if recorded.number != version.number:
            raise ConflictError(
                f"Dataset {name!r} received version {recorded.number} while copying version {version.number}: "
                "someone committed to it meanwhile.",
                hint="Run the transfer again after checking both histories with `modelyard data log`.",
            )
    copied = {v.number for v in sending}
    existing = target.metadata.dataset_tags.list(name)
    for tag, number in source.metadata.dataset_tags.list(name).items():
        if number in copied and tag not in existing:
            target.metadata.dataset_tags.set(name, tag, number, actor=None, reason="copied by push/pull")
    return SyncReport(
        dataset=name,
        versions=[v.number for v in todo],
        chunks_sent=sent,
        bytes_sent=size,
        chunks_present=len(needed) - len(ordered),
        packs_written=packs,
    )
