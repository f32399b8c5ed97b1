"""The two narrow interfaces every backend implements: ``ArtifactStore`` and ``MetadataStore``.

Capability code depends on these protocols only; ``modelyard.client`` turns URIs into backends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from modelyard.ids import Digest, RunId
from modelyard.tracking.models import (
    ArtifactEntry,
    Experiment,
    LogBatch,
    MetricPoint,
    NewRun,
    Run,
    RunPage,
    RunQuery,
    RunStatus,
)

__all__ = [
    "ArtifactStore",
    "ExperimentRepository",
    "MetadataStore",
    "ReferenceRepository",
    "RunRepository",
    "StoredObject",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredObject:
    """An object in an artifact store: its digest and size."""

    digest: Digest
    size_bytes: int


class ArtifactStore(Protocol):
    """Content-addressed, write-once object storage. Callers never choose where bytes land."""

    def put(self, data: BinaryIO) -> StoredObject:
        """Stream ``data`` in, hash it, and make it durable under its digest (a no-op if already stored)."""
        ...

    def open(self, digest: Digest) -> BinaryIO:
        """Open an object for streaming reads; the reader raises IntegrityError at EOF on a digest mismatch.

        Raises:
            NotFoundError: no object has this digest.
        """
        ...

    def exists(self, digest: Digest) -> bool:
        """Whether an object with this digest is stored."""
        ...

    def uri(self, digest: Digest) -> str:
        """A URI naming the object, for display and lineage."""
        ...

    def size(self, digest: Digest) -> int:
        """The stored size in bytes. Raises NotFoundError."""
        ...

    def delete(self, digest: Digest) -> None:
        """Remove an object (idempotent). Only ``gc`` calls this."""
        ...

    def list_objects(self) -> Iterator[StoredObject]:
        """Every stored object, in no particular order."""
        ...

    def age_s(self, digest: Digest) -> float:
        """Seconds since the object was last written (gc spares young objects). Raises NotFoundError."""
        ...

    def close(self) -> None:
        """Release connections (a no-op for stores that hold none)."""
        ...


class ExperimentRepository(Protocol):
    """Experiments: named groups of runs."""

    def ensure(self, name: str) -> Experiment:
        """Return the experiment called ``name``, creating it if missing (race-safe)."""
        ...

    def get(self, name_or_id: str) -> Experiment:
        """Return an experiment by name or id. Raises NotFoundError with close matches."""
        ...

    def list(self) -> list[Experiment]:
        """All experiments with their run counts, by name."""
        ...


class RunRepository(Protocol):
    """Runs and what they log."""

    def create(self, new: NewRun) -> Run:
        """Insert a RUNNING run."""
        ...

    def get(self, run_id: RunId) -> Run:
        """Return a run with params, tags and metric summaries. Raises NotFoundError."""
        ...

    def write(self, batches: Sequence[LogBatch]) -> None:
        """Write params, tags and metric points of several runs in one transaction.

        Exact duplicate metric points are ignored (retries are safe). Raises ConflictError when a param is
        re-logged with another value or a run has ended.
        """
        ...

    def end(self, run_id: RunId, status: RunStatus, end_ms: int) -> None:
        """Mark a run ended. Ending an ended run with the same status is a no-op; another status conflicts."""
        ...

    def search(self, query: RunQuery) -> RunPage:
        """Runs matching the query, ordered and paged."""
        ...

    def metric_history(self, run_id: RunId, key: str) -> list[MetricPoint]:
        """Every point of one metric, by step then time."""
        ...

    def add_artifacts(self, run_id: RunId, entries: Sequence[ArtifactEntry]) -> None:
        """Record files logged to a run (a re-logged path points at the new content)."""
        ...

    def list_artifacts(self, run_id: RunId, prefix: str = "") -> list[ArtifactEntry]:
        """Files of a run whose path equals ``prefix`` or lies under it (all when empty)."""
        ...


class ReferenceRepository(Protocol):
    """Which object digests the metadata points at (for fsck and gc)."""

    def list_digests(self) -> Iterator[tuple[Digest, str]]:
        """Every referenced digest with a short description of who references it."""
        ...


class MetadataStore(Protocol):
    """The metadata store: one small repository per capability."""

    experiments: ExperimentRepository
    runs: RunRepository
    references: ReferenceRepository

    @property
    def uri(self) -> str:
        """The store's URI with any password hidden."""
        ...

    def transaction(self) -> AbstractContextManager[object]:
        """A unit of work (used by capabilities that write across repositories)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
