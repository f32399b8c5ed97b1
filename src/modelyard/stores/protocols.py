"""The two narrow interfaces every backend implements: ``ArtifactStore`` and ``MetadataStore``.

Capability code depends on these protocols only; ``modelyard.client`` turns URIs into backends.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from modelyard.data.models import (
    CheckPolicy,
    Dataset,
    DatasetVersion,
    LineageEntry,
    NewPack,
    NewVersion,
    SourceFile,
    SourceState,
    TagEvent,
)
from modelyard.ids import DatasetVersionId, Digest, RunId
from modelyard.pipelines.models import CacheEntry
from modelyard.registry.models import (
    Event,
    HistoryEntry,
    ModelChange,
    ModelVersion,
    NewModelVersion,
    NewPackage,
    RegisteredModel,
    TrustGrant,
    VersionQuery,
)
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
    "ChunkLocation",
    "ChunkRepository",
    "DatasetRepository",
    "DatasetTagRepository",
    "ExperimentRepository",
    "AliasRepository",
    "EventRepository",
    "LineageRepository",
    "MetadataStore",
    "ModelRepository",
    "PackageRepository",
    "ReferenceRepository",
    "RunRepository",
    "SourceRepository",
    "StepCacheRepository",
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

    def read_range(self, digest: Digest, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` of an object (unverified: callers verify what they read).

        Raises:
            NotFoundError: no object has this digest.
            IntegrityError: the object is shorter than ``offset + length``.
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkLocation:
    """Where a dataset chunk lives: inside which pack object, at which offset, how long."""

    pack: Digest
    offset: int
    length: int


class DatasetRepository(Protocol):
    """Datasets and their immutable, numbered versions."""

    def ensure(self, name: str) -> Dataset:
        """Return the dataset called ``name``, creating it if missing (race-safe)."""
        ...

    def get(self, name: str) -> Dataset:
        """Return a dataset by name. Raises NotFoundError with close matches."""
        ...

    def list(self) -> list[Dataset]:
        """All datasets, by name."""
        ...

    def configure(self, name: str, *, checks: str | None, policy: CheckPolicy) -> Dataset:
        """Attach a data-test suite (its JSON form, or None to detach) and the policy for failures."""
        ...

    def attached_checks(self, name: str) -> str | None:
        """The JSON form of the dataset's attached data-test suite, or None."""
        ...

    def add_version(self, new: NewVersion, packs: Sequence[NewPack]) -> tuple[DatasetVersion, bool]:
        """Record packs and a version in one transaction; return it and whether it is new.

        Numbers are assigned race-free (1, 2, ...). When the newest version already has this digest it is
        returned unchanged (``False``) and nothing is written but the packs.
        """
        ...

    def get_version(self, name: str, ref: int | str) -> DatasetVersion:
        """A version by number, by tag, or ``"latest"``. Raises NotFoundError naming what exists."""
        ...

    def list_versions(self, name: str, *, limit: int | None = None) -> builtins.list[DatasetVersion]:
        """Versions of a dataset, newest first."""
        ...


class DatasetTagRepository(Protocol):
    """Movable names of dataset versions, with an append-only history of every move."""

    def set(self, name: str, tag: str, version: int, *, actor: str | None, reason: str | None) -> TagEvent:
        """Point ``tag`` at ``version`` (creating or moving it) and record the move."""
        ...

    def delete(self, name: str, tag: str, *, actor: str | None, reason: str | None) -> TagEvent | None:
        """Remove a tag (idempotent) and record it; None when it did not exist."""
        ...

    def list(self, name: str) -> dict[str, int]:
        """Every tag of a dataset and the version it names."""
        ...

    def history(self, name: str, tag: str | None = None) -> builtins.list[TagEvent]:
        """Every recorded move of the dataset's tags (or of one tag), oldest first."""
        ...


class ChunkRepository(Protocol):
    """The index of dataset chunks: which pack object holds each one."""

    def missing(self, digests: Sequence[bytes]) -> set[bytes]:
        """Which of these chunk digests are not indexed."""
        ...

    def locate(self, digests: Sequence[bytes]) -> dict[bytes, ChunkLocation]:
        """Where each indexed chunk lives (unknown digests are left out)."""
        ...

    def add_packs(self, packs: Sequence[NewPack]) -> None:
        """Index packs already written to the artifact store (chunks indexed before keep their place)."""
        ...


class LineageRepository(Protocol):
    """Which runs read or produced which dataset versions."""

    def add(self, version_id: DatasetVersionId, run_id: RunId, role: str) -> None:
        """Record that a run read (``input``) or produced (``output``) a version (idempotent)."""
        ...

    def for_version(self, version_id: DatasetVersionId) -> list[LineageEntry]:
        """Runs that touched a version, oldest first."""
        ...

    def for_run(self, run_id: RunId) -> list[LineageEntry]:
        """Versions a run touched, oldest first."""
        ...


class SourceRepository(Protocol):
    """The stat cache of working folders: what each file looked like when it was last hashed."""

    def get(self, host: str, path: str) -> SourceState | None:
        """The cached state of a folder on a host, or None."""
        ...

    def save(self, state: SourceState, changed: Sequence[SourceFile], removed: Sequence[str]) -> None:
        """Record a folder's version and scan time, upsert ``changed`` files and forget ``removed`` ones."""
        ...


class PackageRepository(Protocol):
    """Model packages (their manifests), which run logged which, and explicit trust grants."""

    def add(self, package: NewPackage) -> None:
        """Record a stored package and, when ``run_id`` is set, that the run logged it as ``name`` (idempotent)."""
        ...

    def get(self, digest: Digest) -> str:
        """The manifest JSON of a package. Raises NotFoundError."""
        ...

    def find_for_run(self, run_id: RunId, name: str) -> Digest | None:
        """The package a run logged under ``name``, or None."""
        ...

    def trust(self, grant: TrustGrant) -> None:
        """Record (or replace) the trust grant of one package."""
        ...

    def find_trust(self, digest: Digest) -> TrustGrant | None:
        """The trust grant of a package, or None."""
        ...


class ModelRepository(Protocol):
    """Registered models and their numbered versions; every change appends history and events."""

    def get(self, name: str) -> RegisteredModel:
        """A registered model by name. Raises NotFoundError with close matches."""
        ...

    def list(self) -> builtins.list[RegisteredModel]:
        """All registered models, by name."""
        ...

    def add_version(self, new: NewModelVersion) -> ModelVersion:
        """Register the next version (creating the model if needed); numbers are race-free and never reused."""
        ...

    def get_version(self, name: str, ref: int | str) -> ModelVersion:
        """A version by number, by alias, or ``"latest"``. Raises NotFoundError naming what exists."""
        ...

    def search(self, query: VersionQuery) -> builtins.list[ModelVersion]:
        """Versions matching the query, ordered and limited."""
        ...

    def change(self, change: ModelChange) -> HistoryEntry:
        """Set a description, status or tag of a model or a version, recording it in the history."""
        ...

    def delete_version(self, name: str, version: int, *, actor: str | None, reason: str | None) -> None:
        """Delete a version. Raises ConflictError while an alias points at it; idempotent otherwise."""
        ...

    def delete_model(self, name: str, *, actor: str | None, reason: str | None) -> None:
        """Delete a model with its versions and aliases (the history stays). Idempotent."""
        ...


class AliasRepository(Protocol):
    """Movable names of model versions, and the append-only history of every registry change."""

    def set(self, name: str, alias: str, version: int, *, actor: str | None, reason: str | None) -> HistoryEntry:
        """Point ``alias`` at ``version`` (creating or moving it); record the move and an event."""
        ...

    def delete(self, name: str, alias: str, *, actor: str | None, reason: str | None) -> HistoryEntry | None:
        """Remove an alias (idempotent); None when it did not exist."""
        ...

    def history(self, name: str, *, alias: str | None = None) -> builtins.list[HistoryEntry]:
        """Every recorded change of a model (or every move of one alias), oldest first."""
        ...


class EventRepository(Protocol):
    """The durable, ordered event log that serving and triggers consume."""

    def since(self, cursor: int, *, limit: int, kinds: Sequence[str] = ()) -> builtins.list[Event]:
        """Events with an id above ``cursor``, oldest first (only ``kinds`` when given)."""
        ...


class StepCacheRepository(Protocol):
    """Pipeline step outputs by cache key (the hash of a step's code, params, inputs and environment)."""

    def find(self, key: str) -> CacheEntry | None:
        """The entry for ``key``, or None."""
        ...

    def add(self, entry: CacheEntry, *, replace: bool = False) -> CacheEntry:
        """Store ``entry``; without ``replace`` the first writer of a key wins. Returns the stored entry."""
        ...

    def list(self, *, step: str | None = None, limit: int = 1000) -> builtins.list[CacheEntry]:
        """Entries, newest first (only ``step``'s when given)."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Forget entries (idempotent)."""
        ...


class MetadataStore(Protocol):
    """The metadata store: one small repository per capability."""

    experiments: ExperimentRepository
    runs: RunRepository
    references: ReferenceRepository
    datasets: DatasetRepository
    dataset_tags: DatasetTagRepository
    chunks: ChunkRepository
    lineage: LineageRepository
    sources: SourceRepository
    packages: PackageRepository
    models: ModelRepository
    aliases: AliasRepository
    events: EventRepository
    step_cache: StepCacheRepository

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
