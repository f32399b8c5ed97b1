"""Reading versions: manifests, files as seekable verified streams, tables, checkouts.

Every read goes through the chunk reader, which verifies each chunk's digest, and every path written by a
checkout goes through the path chokepoint (``stores.paths.contained_path``), so a manifest pulled from a
hostile store cannot write outside the target folder. A checkout writes copies, read-only when asked: the
chunks live inside packs, so there is nothing in the store a link could safely point at.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from modelyard.data.checkouts import write_files
from modelyard.data.chunks import ChunkReader, read_stream
from modelyard.data.manifests import Manifest, decode_chunk_list, read_manifest
from modelyard.data.models import CheckReport, DatasetVersion, FileEntry, LineageEntry
from modelyard.data.tables import TableFile, TableSource, table_format
from modelyard.errors import InvalidInputError, NotFoundError, close_matches
from modelyard.ids import Digest
from modelyard.stores.paths import clean_relpath, contained_paths
from modelyard.stores.protocols import ArtifactStore, MetadataStore

__all__ = ["StoreReader"]

_MANIFEST_CACHE = 8


class StoreReader:
    """The ``VersionReader`` every ``DatasetVersion`` carries: reads its files from one pair of stores.

    Args:
        metadata: the metadata store (chunk index, lineage).
        artifacts: the artifact store holding the packs.
        on_read: called with a version each time its content is read (records lineage in an active run).
        validator: runs data tests on a version (supplied by the capability that owns the tests).
    """

    def __init__(
        self,
        metadata: MetadataStore,
        artifacts: ArtifactStore,
        *,
        on_read: Callable[[DatasetVersion], None] | None = None,
        validator: Callable[[DatasetVersion, Any], CheckReport] | None = None,
    ) -> None:
        self._metadata = metadata
        self.chunks = ChunkReader(artifacts, metadata.chunks)
        self._manifests: OrderedDict[Digest, Manifest] = OrderedDict()
        self._on_read = on_read
        self._validator = validator

    # -- manifests and files ---------------------------------------------------------------------------------
    def manifest(self, version: DatasetVersion) -> Manifest:
        """The version's manifest (kept for the last few versions read: they never change)."""
        found = self._manifests.get(version.digest)
        if found is None:
            found = read_manifest(version.digest, self.chunks.read, f"dataset {version.ref}")
            self._manifests[version.digest] = found
            while len(self._manifests) > _MANIFEST_CACHE:
                self._manifests.popitem(last=False)
        else:
            self._manifests.move_to_end(version.digest)
        return found

    def files(self, version: DatasetVersion) -> list[FileEntry]:
        """Every file of the version, by path."""
        return list(self.manifest(version).entries)

    def entry(self, version: DatasetVersion, path: str) -> FileEntry:
        """The entry of one file. Raises NotFoundError with close paths."""
        wanted = clean_relpath(path)
        manifest = self.manifest(version)
        found = manifest.find(wanted)
        if found is None:
            paths = [e.path for e in manifest.entries]
            raise NotFoundError(
                f"Version {version.ref} has no file {wanted!r}.{close_matches(wanted, paths[:5000])}",
                hint=f"List its files with `modelyard data show {version.ref} --files`.",
            )
        return found

    def chunk_list(self, version: DatasetVersion, entry: FileEntry) -> list[tuple[bytes, int]]:
        """The file's chunks as (digest, length)."""
        return self.chunk_lists(version, [entry])[0]

    def chunk_lists(self, version: DatasetVersion, entries: Sequence[FileEntry]) -> list[list[tuple[bytes, int]]]:
        """The chunks of many files, their chunk lists read in one coalesced pass."""
        lists = [e.digest.raw for e in entries if e.chunked]
        bodies = iter(self.chunks.read(lists, f"dataset {version.ref} chunk lists")) if lists else iter(())
        out: list[list[tuple[bytes, int]]] = []
        for entry in entries:
            if entry.chunked:
                out.append(decode_chunk_list(next(bodies), f"dataset {version.ref} file {entry.path!r}"))
            else:
                out.append([(entry.digest.raw, entry.size_bytes)])
        return out

    def open(self, version: DatasetVersion, path: str) -> BinaryIO:
        """A seekable reader over one file; every chunk is verified as it is read."""
        entry = self.entry(version, path)
        self._read(version)
        return self._open_entry(version, entry)

    def _open_entry(self, version: DatasetVersion, entry: FileEntry) -> BinaryIO:
        what = f"dataset {version.ref} file {entry.path!r}"
        return read_stream(self.chunks, self.chunk_list(version, entry), what)

    # -- checkout --------------------------------------------------------------------------------------------
    def checkout(
        self,
        version: DatasetVersion,
        dest: Path,
        *,
        overwrite: bool,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """Write every file of the version under ``dest``, each one verified, then renamed into place."""
        dest = Path(dest)
        if dest.exists() and not dest.is_dir():
            raise InvalidInputError(f"{str(dest)!r} exists and is not a folder.", hint="Check out into a folder.")
        if dest.is_dir() and any(dest.iterdir()) and not overwrite:
            raise InvalidInputError(
                f"Folder {str(dest)!r} is not empty; checking out {version.ref} would mix two versions.",
                hint="Choose an empty folder, or pass overwrite=True (CLI: --force) to replace files.",
            )
        entries = self.manifest(version).entries
        targets = contained_paths(dest, [e.path for e in entries])  # every path checked before any write
        self._read(version)
        dest.mkdir(parents=True, exist_ok=True)
        write_files(
            self.chunks, entries, self.chunk_lists(version, entries), targets, f"dataset {version.ref}", progress
        )
        return dest

    # -- tables ----------------------------------------------------------------------------------------------
    def table(self, version: DatasetVersion) -> TableSource:
        """The version's Parquet (or CSV) files as one table."""
        manifest = self.manifest(version)
        found = table_format([e.path for e in manifest.entries])
        if found is None:
            raise InvalidInputError(
                f"Version {version.ref} holds no Parquet or CSV files, so it has no table.",
                hint="Read its files with .open(path) or .checkout(folder).",
            )
        format, paths = found
        entries = {e.path: e for e in manifest.entries}
        return TableSource([TableFile(p, self._opener(version, entries[p])) for p in paths], format)

    def _opener(self, version: DatasetVersion, entry: FileEntry) -> Callable[[], BinaryIO]:
        return lambda: self._open_entry(version, entry)

    def to_arrow(self, version: DatasetVersion, columns: Sequence[str] | None) -> Any:
        """The version's table as a pyarrow Table (only ``columns`` when given)."""
        source = self.table(version)
        self._read(version)
        return source.to_arrow(None if columns is None else list(columns))

    def validate(self, version: DatasetVersion, tests: Any) -> CheckReport:
        """Run data tests on the version's table."""
        if self._validator is None:  # pragma: no cover - the capability always supplies one
            raise NotFoundError("No data-test runner is configured.", hint="Get versions through a client.")
        return self._validator(version, tests)

    def runs(self, version: DatasetVersion) -> list[LineageEntry]:
        """Runs that read or produced the version."""
        return self._metadata.lineage.for_version(version.id)

    def _read(self, version: DatasetVersion) -> None:
        if self._on_read is not None:
            self._on_read(version)
