"""``fsck`` and ``gc``: verify what the metadata references, and remove what nothing references.

fsck re-hashes every referenced object (or a random sample) and reports missing and corrupt ones with who
references them. gc deletes objects no metadata row points at, sparing objects younger than a grace period
so a write whose metadata row is not committed yet is never collected; it is a dry run unless asked.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from modelyard.errors import IntegrityError, InvalidInputError, NotFoundError
from modelyard.ids import Digest
from modelyard.stores.protocols import ArtifactStore, MetadataStore, StoredObject

__all__ = ["FsckReport", "GcReport", "Problem", "fsck", "gc"]

_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """A referenced object that is missing or corrupt, and who references it."""

    digest: Digest
    kind: str  # "missing" | "corrupt"
    referenced_by: tuple[str, ...]
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FsckReport:
    """What fsck checked and found."""

    referenced: int
    checked: int
    bytes_checked: int
    problems: list[Problem] = field(default_factory=list)
    sampled: bool = False

    @property
    def is_clean(self) -> bool:
        """Whether every checked object exists and verifies."""
        return not self.problems


@dataclass(frozen=True, slots=True, kw_only=True)
class GcReport:
    """What gc found unreferenced, kept (too young) and deleted."""

    unreferenced: list[StoredObject]
    kept_young: int
    deleted: int
    dry_run: bool

    @property
    def reclaimable_bytes(self) -> int:
        """Bytes held by unreferenced objects old enough to delete."""
        return sum(o.size_bytes for o in self.unreferenced)


def _verify(artifacts: ArtifactStore, digest: Digest) -> tuple[int, str | None]:
    size = 0
    try:
        with artifacts.open(digest) as reader:
            while chunk := reader.read(_READ_CHUNK):
                size += len(chunk)
    except NotFoundError:
        return 0, "missing"
    except IntegrityError as exc:
        return size, f"corrupt: {exc.message}"
    return size, None


def fsck(
    metadata: MetadataStore, artifacts: ArtifactStore, *, sample: float | None = None, seed: int | None = None
) -> FsckReport:
    """Verify referenced objects: all of them, or a random ``sample`` fraction (0 < sample <= 1)."""
    if sample is not None and not 0 < sample <= 1:
        raise InvalidInputError(f"Sample {sample!r} is not a fraction in (0, 1].", hint="Pass e.g. 0.1 for 10%.")
    owners: dict[Digest, list[str]] = defaultdict(list)
    for digest, who in metadata.references.list_digests():
        owners[digest].append(who)
    digests = sorted(owners, key=lambda d: d.hex)
    if sample is not None and sample < 1:
        count = max(1, round(len(digests) * sample)) if digests else 0
        digests = sorted(random.Random(seed).sample(digests, count), key=lambda d: d.hex)
    problems: list[Problem] = []
    total = 0
    for digest in digests:
        size, problem = _verify(artifacts, digest)
        total += size
        if problem is not None:
            kind, _, detail = problem.partition(": ")
            problems.append(Problem(digest=digest, kind=kind, referenced_by=tuple(owners[digest]), detail=detail))
    return FsckReport(
        referenced=len(owners),
        checked=len(digests),
        bytes_checked=total,
        problems=problems,
        sampled=sample is not None and sample < 1,
    )


def gc(metadata: MetadataStore, artifacts: ArtifactStore, *, dry_run: bool = True, grace_s: float = 3600.0) -> GcReport:
    """Find (and unless ``dry_run``, delete) objects no metadata references and older than ``grace_s``."""
    if grace_s < 0:
        raise InvalidInputError(f"Grace period {grace_s} s is negative.", hint="Pass 0 or more seconds.")
    referenced = {digest for digest, _ in metadata.references.list_digests()}
    unreferenced: list[StoredObject] = []
    young = 0
    for stored in artifacts.list_objects():
        if stored.digest in referenced:
            continue
        try:
            age = artifacts.age_s(stored.digest)
        except NotFoundError:
            continue
        if age < grace_s:
            young += 1
            continue
        unreferenced.append(stored)
    deleted = 0
    if not dry_run:
        live = {digest for digest, _ in metadata.references.list_digests()}  # re-read: spare late references
        for stored in unreferenced:
            if stored.digest not in live:
                artifacts.delete(stored.digest)
                deleted += 1
    return GcReport(unreferenced=unreferenced, kept_young=young, deleted=deleted, dry_run=dry_run)
