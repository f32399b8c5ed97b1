"""Which stored objects the metadata points at (read by ``fsck`` and ``gc``)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from sqlalchemy import select

from modelyard.errors import InvalidInputError
from modelyard.ids import Digest
from modelyard.stores.sql import schema as t
from modelyard.stores.sql.engine import Database

__all__ = ["SqlReferenceRepository"]


class SqlReferenceRepository:
    """Every digest referenced by any capability's rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list_digests(self) -> Iterator[tuple[Digest, str]]:
        """Yield (digest, who references it) for every referenced object."""
        a, p, m, s = t.run_artifacts.c, t.data_packs.c, t.model_packages.c, t.step_cache.c
        with self._db.read() as conn:
            rows = conn.execute(select(a.digest, a.run_id, a.path).order_by(a.digest)).all()
            packs = conn.execute(select(p.digest).order_by(p.digest)).all()
            models = conn.execute(select(m.digest, m.manifest).order_by(m.digest)).all()
            cached = conn.execute(select(s.key, s.step, s.outputs).order_by(s.key)).all()
        for row in rows:
            yield Digest.parse(row.digest), f"run {row.run_id} artifact {row.path}"
        for pack in packs:
            yield Digest.parse(pack.digest), "dataset pack"
        for package in models:
            yield Digest.parse(package.digest), f"model package {package.digest[7:19]} manifest"
            yield from _package_files(package.digest, package.manifest)
        for entry in cached:
            yield from _cached_outputs(entry.step, entry.outputs)


def _cached_outputs(step: str, outputs: str) -> Iterator[tuple[Digest, str]]:
    """The objects a step-cache entry points at (model outputs point at packages, listed above)."""
    try:
        body = orjson.loads(outputs)
    except orjson.JSONDecodeError:
        return
    for output in body if isinstance(body, list) else []:
        if isinstance(output, dict) and output.get("kind") not in ("model", "dataset"):
            try:
                yield Digest.parse(str(output.get("digest"))), f"step {step} output {output.get('name')}"
            except InvalidInputError:
                continue


def _package_files(digest: str, manifest: str) -> Iterator[tuple[Digest, str]]:
    """The files a package manifest names (read as plain JSON: a damaged manifest still protects its files)."""
    try:
        body = orjson.loads(manifest)
    except orjson.JSONDecodeError:
        return
    groups = [body.get("files") or {}] + [rep.get("files") or {} for rep in body.get("representations") or []]
    for files in groups:
        for name, spec in files.items():
            text = spec.get("digest") if isinstance(spec, dict) else None
            try:
                found = Digest.parse(text) if isinstance(text, str) else None
            except InvalidInputError:
                found = None
            if found is not None:
                yield found, f"model package {digest[7:19]} file {name}"
