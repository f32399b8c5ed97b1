"""Working-folder status: what changed since a folder was committed or checked out, without re-hashing.

The stat cache (``store.sources``) remembers each file's size, mtime, ctime, inode and digest as of the last
commit or checkout: it describes exactly the version's files, so when every file matches its entry the
folder is that version and the manifest is not even read. Status walks the folder once (``os.scandir``); a
file whose stat matches is unchanged without being read. A file that changed stat, or was written just before
the last scan (``ingest.is_racy``), is hashed and compared with the version's manifest, so a
touched-but-identical file still reads as unchanged.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.data.ingest import hash_file, is_unchanged, scan_folder, source_file
from modelyard.data.manifests import Manifest
from modelyard.data.models import DatasetVersion, SourceState, WorkStatus
from modelyard.errors import NotFoundError
from modelyard.stores.protocols import MetadataStore

if TYPE_CHECKING:
    from modelyard.data.datasets import Datasets

__all__ = ["folder_status", "remember_checkout"]


def folder_status(datasets: Datasets, metadata: MetadataStore, folder: Path, dataset: str | None) -> WorkStatus:
    """Compare ``folder`` with the version it was last committed as (or ``dataset@latest``)."""
    if not folder.is_dir():
        raise NotFoundError(f"{str(folder)!r} is not a folder.", hint="Pass the folder you committed.")
    root = folder.resolve()
    host = socket.gethostname()
    state = metadata.sources.get(host, str(root))
    files = scan_folder(root)
    name = dataset or (state.dataset if state is not None else None)
    if name is None:
        raise NotFoundError(
            f"Folder {str(root)!r} was never committed or checked out here, so there is nothing to compare with.",
            hint="Name the dataset: `modelyard data status FOLDER --dataset NAME`.",
        )
    if state is not None and state.dataset == name and state.version is not None:
        version = datasets.get(f"{name}@{state.version}")
    else:
        version = datasets.get(f"{name}@latest")
        state = None  # the cache describes another dataset: trust nothing in it
    cached = {} if state is None else state.files
    scanned_ns = 0 if state is None else state.scanned_ns
    if (
        state is not None
        and len(files) == len(cached)
        and all(f.relpath in cached and is_unchanged(f, cached[f.relpath], scanned_ns) for f in files)
    ):
        # The cache was written with the version (commit, checkout, a status that confirmed content) and
        # vouches for every file, so the folder is the version: no need to read the manifest.
        return WorkStatus(
            folder=root, dataset=name, version=version.number, added=[], removed=[], modified=[],
            unchanged=len(files), hashed=0,
        )  # fmt: skip
    manifest = datasets.reader.manifest(version)
    expected = {e.path: e for e in manifest.entries}
    hashed = {
        f.relpath: hash_file(f)
        for f in files
        if f.relpath in expected and (f.relpath not in cached or not is_unchanged(f, cached[f.relpath], scanned_ns))
    }
    added, modified, refresh = [], [], []
    unchanged = 0
    for item in files:
        entry = expected.get(item.relpath)
        if entry is None:
            added.append(item.relpath)
            continue
        if item.relpath in hashed:
            digest, chunked = hashed[item.relpath]
            if digest != entry.digest.raw:
                modified.append(item.relpath)
                continue
            refresh.append(source_file(item, digest, chunked))
        unchanged += 1
    present = {f.relpath for f in files}
    removed = sorted(p for p in expected if p not in present)
    if refresh:  # identical content with a new stat: remember it so the next status does not hash it again
        again = SourceState(host=host, path=str(root), dataset=name, version=version.number, scanned_ns=time.time_ns())
        metadata.sources.save(again, refresh, [])
    return WorkStatus(
        folder=root,
        dataset=name,
        version=version.number,
        added=added,
        removed=removed,
        modified=modified,
        unchanged=unchanged,
        hashed=len(hashed),
    )


def remember_checkout(metadata: MetadataStore, version: DatasetVersion, manifest: Manifest, folder: Path) -> None:
    """Record a fresh checkout's files in the stat cache, so status of the folder reads nothing.

    The files were just written, so their mtimes are close to now: waiting out the racy window (0.1 s) before
    the stat lets the cache vouch for every one of them.
    """
    root = folder.resolve()
    time.sleep(0.11)
    by_path = {f.relpath: f for f in scan_folder(root)}
    rows = [source_file(by_path[e.path], e.digest.raw, e.chunked) for e in manifest.entries if e.path in by_path]
    state = SourceState(
        host=socket.gethostname(),
        path=str(root),
        dataset=version.dataset,
        version=version.number,
        scanned_ns=time.time_ns(),
    )
    previous = metadata.sources.get(state.host, state.path)
    removed = [] if previous is None else [p for p in previous.files if p not in by_path]
    metadata.sources.save(state, rows, removed)
