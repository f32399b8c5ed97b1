"""``Datasets``: the data capability's service: commit, read, tag, test, diff, sync and status of datasets.

A commit resolves its source to files on disk, profiles and tests the table in one pass (a refused commit
writes nothing), chunks the files into packs (only chunks the store lacks), writes the manifest, and records
the version, the packs' index and the number in one transaction. ``Client.datasets`` is an instance; the
functional API is ``modelyard.datasets``.
"""

from __future__ import annotations

import builtins
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from modelyard._environment import current_user
from modelyard.data import diffs, status, sync
from modelyard.data.checks import DataTests, TestsPart
from modelyard.data.chunks import PackWriter
from modelyard.data.ingest import ChunkSink, Prepared, chunk_files, prepare_source
from modelyard.data.manifests import write_manifest
from modelyard.data.models import (
    CheckPolicy,
    CheckReport,
    DataDiff,
    Dataset,
    DatasetVersion,
    LineageEntry,
    NewVersion,
    SourceState,
    SyncReport,
    TableProfile,
    TagEvent,
    VersionStatus,
    WorkStatus,
)
from modelyard.data.profiles import ProfilePart
from modelyard.data.reading import StoreReader
from modelyard.data.tables import ScanPart, TableFile, TableSource, scan_parts, table_format
from modelyard.errors import DataTestsFailedError, InvalidInputError
from modelyard.ids import NAME_PATTERN, RunId, check_name
from modelyard.stores.protocols import ArtifactStore, MetadataStore

__all__ = ["Datasets", "parse_ref"]


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``name@version`` (number, tag or ``latest``; default ``latest``) into its parts."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInputError(f"Dataset reference {ref!r} is empty.", hint="Write name@version, e.g. flights@3.")
    name, _, version = ref.partition("@")
    check_name(name, "Dataset name")
    version = version or "latest"
    if not (version.isdigit() or NAME_PATTERN.fullmatch(version)):
        raise InvalidInputError(
            f"Dataset reference {ref!r} names no version.", hint="Write name@3, name@latest or name@<tag>."
        )
    return name, version


def _opener(path: str) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")


class Datasets:
    """Datasets and their versions over one pair of stores.

    Args:
        metadata: the metadata store.
        artifacts: the artifact store (packs).
        on_use: called with (version, role) when a version is read (``"input"``) or committed (``"output"``),
            so the client can record lineage for its active run.
    """

    def __init__(
        self,
        metadata: MetadataStore,
        artifacts: ArtifactStore,
        *,
        on_use: Callable[[DatasetVersion, str], None] | None = None,
    ) -> None:
        self._metadata = metadata
        self._artifacts = artifacts
        self._on_use = on_use
        self.reader = StoreReader(
            metadata,
            artifacts,
            on_read=lambda version: self._use(version, "input"),
            validator=lambda version, tests: self._validate(version, tests),
        )

    # -- committing ------------------------------------------------------------------------------------------
    def commit(
        self,
        name: str,
        source: object,
        *,
        message: str | None = None,
        tags: Sequence[str] = (),
        tests: DataTests | None = None,
        tabular: bool | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> DatasetVersion:
        """Store ``source`` as the next version of dataset ``name`` (see ``modelyard.datasets.commit``)."""
        check_name(name)
        for tag in tags:
            check_name(tag, "Tag")
        with prepare_source(source) as prepared:
            dataset = self._metadata.datasets.ensure(name)
            suite = tests or self._attached(name)
            profile, report = self._profile(prepared, suite, tabular)
            status_ = (
                VersionStatus.UNCHECKED
                if report is None
                else (VersionStatus.PASSED if report.passed else VersionStatus.FAILED)
            )
            if report is not None and not report.passed and dataset.check_policy is CheckPolicy.REFUSE:
                raise DataTestsFailedError(
                    f"Dataset {name!r}: the new data fails its data tests, so no version was committed.\n"
                    + report.summary(),
                    report=report,
                    hint="Fix the data, or set the policy to 'mark' to keep failing versions marked as failed "
                    f"(`modelyard data tests {name} --policy mark`).",
                )
            version = self._store(dataset, prepared, profile, report, status_, message, progress)
        for tag in tags:
            self.tag(version.ref, tag, reason="tagged at commit")
        if tags:
            version = self.get(version.ref)
        self._use(version, "output")
        return version

    def _attached(self, name: str) -> DataTests | None:
        text = self._metadata.datasets.attached_checks(name)
        return None if text is None else DataTests.from_json(text)

    def _profile(
        self, prepared: Prepared, suite: DataTests | None, tabular: bool | None
    ) -> tuple[TableProfile | None, CheckReport | None]:
        if tabular is False:
            if suite is not None:
                raise InvalidInputError(
                    "Data tests need the table, but the commit was asked to skip it (tabular=False).",
                    hint="Drop tabular=False, or run the commit without tests.",
                )
            return None, None
        by_path = {f.relpath: f for f in prepared.files}
        found = table_format(list(by_path))
        if found is None:
            if tabular or suite is not None:
                raise InvalidInputError(
                    "The commit holds no Parquet or CSV file, so there is no table to profile or test.",
                    hint="Commit .parquet or .csv files, or commit without tests and tabular=True.",
                )
            return None, None
        format, paths = found
        source = TableSource([TableFile(p, _opener(by_path[p].path)) for p in paths], format)
        profile_part = ProfilePart(source)
        parts: list[ScanPart] = [profile_part]
        tests_part = None if suite is None else TestsPart(suite, source)
        if tests_part is not None:
            parts.append(tests_part)
        scan_parts(source, parts)
        return profile_part.profile, None if tests_part is None else tests_part.report()

    def _store(
        self,
        dataset: Dataset,
        prepared: Prepared,
        profile: TableProfile | None,
        report: CheckReport | None,
        status_: VersionStatus,
        message: str | None,
        progress: Callable[[int, int], None] | None,
    ) -> DatasetVersion:
        host = socket.gethostname()
        folder_key = None if prepared.folder is None else str(prepared.folder)
        cache = None if folder_key is None else self._metadata.sources.get(host, folder_key)
        scanned_ns = time.time_ns()
        writer = PackWriter(self._artifacts)
        try:
            sink = ChunkSink(self._metadata.chunks, writer)
            entries, fresh = chunk_files(prepared.files, sink, cache, progress)
            manifest = write_manifest(entries, sink.add_blob)
            sink.drain()
            packs = writer.finish()
        except BaseException:
            writer.abort()
            raise
        version, _created = self._metadata.datasets.add_version(
            NewVersion(
                dataset_id=dataset.id,
                digest=manifest.digest,
                author=current_user(),
                message=message,
                file_count=len(entries),
                size_bytes=manifest.size_bytes,
                stored_bytes=sum(p.size_bytes for p in packs),
                status=status_,
                profile=profile,
                checks=report,
                created_ms=int(time.time() * 1000),
            ),
            packs,
        )
        if folder_key is not None:
            current = {f.relpath for f in prepared.files}
            removed = [] if cache is None else [p for p in cache.files if p not in current]
            state = SourceState(
                host=host, path=folder_key, dataset=dataset.name, version=version.number, scanned_ns=scanned_ns
            )
            self._metadata.sources.save(state, fresh, removed)
        return self._bind(version)

    # -- reading ---------------------------------------------------------------------------------------------
    def get(self, ref: str) -> DatasetVersion:
        """The version ``ref`` names: ``name@3``, ``name@latest`` (or just ``name``), ``name@<tag>``."""
        name, version = parse_ref(ref)
        return self._bind(self._metadata.datasets.get_version(name, version))

    def list(self) -> list[Dataset]:
        """All datasets, by name."""
        return self._metadata.datasets.list()

    def get_dataset(self, name: str) -> Dataset:
        """One dataset. Raises NotFoundError with close names."""
        return self._metadata.datasets.get(check_name(name))

    def versions(self, name: str, *, limit: int | None = None) -> builtins.list[DatasetVersion]:
        """Versions of a dataset, newest first."""
        return [self._bind(v) for v in self._metadata.datasets.list_versions(check_name(name), limit=limit)]

    def _bind(self, version: DatasetVersion) -> DatasetVersion:
        from dataclasses import replace

        return replace(version, reader=self.reader)

    # -- tags ------------------------------------------------------------------------------------------------
    def tag(self, ref: str, tag: str, *, reason: str | None = None) -> TagEvent:
        """Point ``tag`` at the version ``ref`` names (moving it if it exists); the move is recorded."""
        version = self.get(ref)
        return self._metadata.dataset_tags.set(
            version.dataset, check_name(tag, "Tag"), version.number, actor=current_user(), reason=reason
        )

    def untag(self, name: str, tag: str, *, reason: str | None = None) -> TagEvent | None:
        """Remove a tag (idempotent); the removal is recorded."""
        return self._metadata.dataset_tags.delete(check_name(name), tag, actor=current_user(), reason=reason)

    def tag_history(self, name: str, tag: str | None = None) -> builtins.list[TagEvent]:
        """Every recorded move of a dataset's tags (or of one tag), oldest first."""
        return self._metadata.dataset_tags.history(check_name(name), tag)

    # -- data tests ------------------------------------------------------------------------------------------
    def attach_tests(
        self, name: str, tests: DataTests | None, *, policy: CheckPolicy | str = CheckPolicy.REFUSE
    ) -> Dataset:
        """Attach a data-test suite to run on every commit of ``name`` (None detaches), with the failure policy."""
        try:
            chosen = CheckPolicy(policy)
        except ValueError:
            raise InvalidInputError(
                f"Policy {policy!r} is not 'refuse' or 'mark'.", hint="Pass policy='refuse'."
            ) from None
        self._metadata.datasets.ensure(check_name(name))
        return self._metadata.datasets.configure(name, checks=None if tests is None else tests.to_json(), policy=chosen)

    def validate(self, ref: str, tests: DataTests | None = None) -> CheckReport:
        """Run ``tests`` (default: the attached suite) on a stored version's table."""
        return self._validate(self.get(ref), tests)

    def _validate(self, version: DatasetVersion, tests: DataTests | None) -> CheckReport:
        suite = tests or self._attached(version.dataset)
        if suite is None:
            raise InvalidInputError(
                f"Dataset {version.dataset!r} has no data tests attached and none were given.",
                hint="Pass tests=DataTests([...]) or attach a suite with my.datasets.attach_tests(name, tests).",
            )
        return suite.run(self.reader.table(version))

    # -- comparing, lineage, folders, other stores ---------------------------------------------------------
    def diff(self, a: str, b: str) -> DataDiff:
        """What changed from version ``a`` to version ``b`` (files, schema, row counts, statistics)."""
        first, second = self.get(a), self.get(b)
        return diffs.diff(first, self.reader.manifest(first), second, self.reader.manifest(second))

    def record_use(self, version: DatasetVersion, run_id: RunId, role: str) -> None:
        """Record that a run read (``input``) or produced (``output``) a version."""
        if role not in ("input", "output"):
            raise InvalidInputError(f"Role {role!r} is not 'input' or 'output'.", hint="Pass role='input'.")
        self._metadata.lineage.add(version.id, run_id, role)

    def inputs_of(self, run_id: str) -> builtins.list[LineageEntry]:
        """Dataset versions a run read or produced."""
        return self._metadata.lineage.for_run(RunId(run_id))

    def status(self, folder: str | os.PathLike[str], *, dataset: str | None = None) -> WorkStatus:
        """How ``folder`` differs from the version it was last committed as or checked out from."""
        return status.folder_status(self, self._metadata, Path(folder), dataset)

    def checkout(
        self,
        ref: str,
        dest: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """Write a version's files into ``dest`` and remember them, so ``status`` of that folder is instant."""
        version = self.get(ref)
        target = self.reader.checkout(version, Path(dest), overwrite=overwrite, progress=progress)
        status.remember_checkout(self._metadata, version, self.reader.manifest(version), target)
        return target

    def push(self, ref: str, remote: Any) -> SyncReport:
        """Copy a dataset's versions up to ``ref`` to another client's stores (only missing chunks travel)."""
        return sync.transfer(self, remote.datasets, ref)

    def pull(self, ref: str, remote: Any) -> SyncReport:
        """Copy a dataset's versions up to ``ref`` from another client's stores into these."""
        return sync.transfer(remote.datasets, self, ref)

    def _use(self, version: DatasetVersion, role: str) -> None:
        if self._on_use is not None:
            self._on_use(version, role)

    @property
    def metadata(self) -> MetadataStore:
        """The metadata store (for the sync and status helpers)."""
        return self._metadata

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store (for the sync helper)."""
        return self._artifacts
