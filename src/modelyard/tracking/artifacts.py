"""Files logged to runs: stored content-addressed in the artifact store, listed by path in the metadata.

Every path a user gives (the name inside the run) and every path written on download goes through
``stores.paths``, the one containment chokepoint. The user never chooses where bytes land in the store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unicodedata
from pathlib import Path

from modelyard.errors import InvalidInputError, NotFoundError
from modelyard.ids import RunId
from modelyard.stores.paths import clean_relpath, contained_path
from modelyard.stores.protocols import ArtifactStore, MetadataStore
from modelyard.tracking.models import ArtifactEntry

__all__ = ["RunArtifacts"]


def _files_under(folder: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(current) / name
            if path.is_file():
                # NFC: macOS file systems hand out decomposed accents, which the path chokepoint refuses.
                found.append((path, unicodedata.normalize("NFC", path.relative_to(folder).as_posix())))
    return found


class RunArtifacts:
    """Log, list and download the files of runs."""

    def __init__(self, store: MetadataStore, artifacts: ArtifactStore) -> None:
        self._store = store
        self._artifacts = artifacts

    def log(self, run_id: RunId, local_path: str | os.PathLike[str], name: str | None) -> list[ArtifactEntry]:
        """Store a file (as ``name`` or its file name) or a folder (under ``name`` or its folder name)."""
        source = Path(local_path)
        if not source.exists():
            raise NotFoundError(f"Cannot log artifact {str(source)!r}: no such file or folder.", hint="Check the path.")
        target = clean_relpath(name if name is not None else unicodedata.normalize("NFC", source.resolve().name))
        if source.is_dir():
            files = [(path, f"{target}/{clean_relpath(rel)}") for path, rel in _files_under(source)]
            if not files:
                raise InvalidInputError(
                    f"Folder {str(source)!r} holds no files.", hint="Log a folder with files in it."
                )
        elif source.is_file():
            files = [(source, target)]
        else:
            raise InvalidInputError(f"{str(source)!r} is neither a file nor a folder.", hint="Log regular files.")
        entries: list[ArtifactEntry] = []
        for path, rel in files:
            try:
                with path.open("rb") as handle:
                    stored = self._artifacts.put(handle)
            except PermissionError as exc:
                raise InvalidInputError(
                    f"Cannot read {str(path)!r}: {exc.strerror}.", hint="Check its permissions."
                ) from exc
            entries.append(ArtifactEntry(path=rel, digest=stored.digest, size_bytes=stored.size_bytes))
        self._store.runs.add_artifacts(run_id, entries)
        return entries

    def list(self, run_id: RunId, prefix: str = "") -> list[ArtifactEntry]:
        """Files of a run at or under ``prefix``."""
        self._store.runs.get(run_id)
        return self._store.runs.list_artifacts(run_id, clean_relpath(prefix) if prefix else "")

    def download(self, run_id: RunId, path: str, dest: str | os.PathLike[str]) -> Path:
        """Write the run's files at or under ``path`` into ``dest`` (as ``dest/<path>``), verifying digests."""
        entries = self.list(run_id, path)
        if not entries:
            existing = [e.path for e in self._store.runs.list_artifacts(run_id)]
            raise NotFoundError(
                f"Run {run_id} has no artifact at {path!r} (it has {len(existing)} files).",
                hint=f"List them with `modelyard runs show {run_id}`.",
            )
        root = Path(dest)
        root.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            self._download_one(entry, contained_path(root, entry.path), run_id)
        return contained_path(root, clean_relpath(path)) if path else root

    def _download_one(self, entry: ArtifactEntry, target: Path, run_id: RunId) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".modelyard-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, self._artifacts.open(entry.digest) as source:
                shutil.copyfileobj(source, out, 1024 * 1024)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
