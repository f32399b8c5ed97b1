"""``Models``: registered models, their versions and aliases, and loading any of them by reference.

References: ``churn@production`` (an alias), ``churn/3`` (a number), ``churn/latest`` or ``churn`` (the newest
``ready`` version), ``models:/churn/3`` and ``models:/churn@production`` (MLflow's spelling),
``runs:/<run id>/<name>`` (a model a run logged) and ``blake3:<hex>`` / ``package:blake3:<hex>`` (a package).
"""

from __future__ import annotations

import builtins
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from modelyard._environment import current_user
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.ids import Digest, RunId, check_name
from modelyard.registry.models import (
    HistoryEntry,
    MetricCondition,
    ModelChange,
    ModelInfo,
    ModelLineage,
    ModelVersion,
    NewModelVersion,
    PackageManifest,
    RegisteredModel,
    TrustGrant,
    VersionQuery,
    VersionStatus,
)
from modelyard.registry.packages import Packages, Predictor
from modelyard.stores.paths import contained_paths
from modelyard.stores.protocols import MetadataStore

__all__ = ["Models", "model_name", "parse_filter", "parse_ref"]

_RUN_REF = re.compile(r"runs:/([0-9a-f]{32})/(.+)")
_CONDITION = re.compile(
    r"\s*(metrics|params|tags)\.([A-Za-z0-9_.\-/]+)\s*(=|!=|<=|>=|<|>)\s*('(?:[^']*)'|-?[0-9.eE+\-]+)\s*"
)
_ORDER = re.compile(r"\s*(version|created|metrics\.[A-Za-z0-9_.\-/]+)(?:\s+(asc|desc))?\s*", re.IGNORECASE)
Source = ModelInfo | ModelVersion | str


def model_name(name: str) -> str:
    """A registered model's name, also written ``models:/name``."""
    return check_name(name.removeprefix("models:/") if isinstance(name, str) else name, "Model name")


def parse_ref(ref: str) -> tuple[str, int | str]:
    """Split ``name@alias``, ``name/3``, ``name/latest`` or ``name`` (also with ``models:/``) into its parts."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError(f"Model reference {ref!r} is empty.", hint="Write churn@production or churn/3.")
    text = ref.strip().removeprefix("models:/")
    if "@" in text:
        name, _, alias = text.partition("@")
        return check_name(name, "Model name"), check_name(alias, "Alias")
    name, _, version = text.partition("/")
    check_name(name, "Model name")
    if not version or version == "latest":
        return name, "latest"
    if not version.isdigit() or int(version) < 1:
        raise InvalidInputError(
            f"Model reference {ref!r} names no version.", hint="Write name/3, name/latest or name@alias."
        )
    return name, int(version)


def parse_filter(text: str | None) -> tuple[MetricCondition, ...]:
    """``metrics.auc > 0.8 and tags.team = 'risk'`` as conditions."""
    if not text or not text.strip():
        return ()
    conditions = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CONDITION.fullmatch(part)
        if match is None:
            raise InvalidInputError(
                f"Cannot read the condition {part!r}.",
                hint="Write metrics.KEY > NUMBER, params.KEY = 'text' or tags.KEY = 'text', joined by 'and'.",
            )
        scope, key, op, raw = match.groups()
        quoted = raw.startswith("'")
        if (scope == "metrics" and quoted) or (scope != "metrics" and not quoted):
            raise InvalidInputError(
                f"In {part!r}, {'metrics take numbers' if scope == 'metrics' else scope + ' take quoted text'}.",
                hint="Write metrics.auc > 0.8 or tags.team = 'risk'.",
            )
        value: float | str = raw[1:-1] if quoted else float(raw)
        conditions.append(MetricCondition(scope=scope, key=key, op=op, value=value))  # type: ignore[arg-type]
    return tuple(conditions)


class Models:
    """The registry over one pair of stores (``modelyard.models`` and ``Client.models``).

    Args:
        metadata: the metadata store.
        packages: model packages (logging, loading, trust).
        describe_run: the lineage of a run (code, data, environment), from the tracking side.
    """

    def __init__(
        self, metadata: MetadataStore, packages: Packages, describe_run: Callable[[RunId], ModelLineage]
    ) -> None:
        self._metadata = metadata
        self.packages = packages
        self._describe_run = describe_run

    # -- registering -----------------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        source: Source,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Register ``source`` (a logged model, a ``runs:/`` URI, a version or a package digest) as the next version."""
        name = model_name(name)
        digest, run_id, uri = self._source(source)
        manifest = self.packages.manifest(digest)
        lineage = self._describe_run(run_id) if run_id is not None else ModelLineage()
        return self._metadata.models.add_version(
            NewModelVersion(
                model=name,
                package=digest,
                flavor=manifest.flavor,
                source=uri,
                run_id=run_id,
                lineage=lineage,
                description=description,
                tags={str(k): str(v) for k, v in (tags or {}).items()},
                actor=current_user(),
                created_ms=int(time.time() * 1000),
            )
        )

    def _source(self, source: Source) -> tuple[Digest, RunId | None, str]:
        if isinstance(source, ModelInfo):
            return source.digest, source.run_id, source.uri
        if isinstance(source, ModelVersion):
            return source.package, source.run_id, source.uri
        if not isinstance(source, str):
            raise InvalidInputError(
                f"Cannot register a {type(source).__name__}.",
                hint="Pass what my.log_model returned, a 'runs:/<run id>/<name>' URI or a package digest.",
            )
        run = _RUN_REF.fullmatch(source)
        if run is not None:
            run_id, name = RunId(run.group(1)), run.group(2)
            found = self._metadata.packages.find_for_run(run_id, name)
            if found is None:
                raise NotFoundError(
                    f"Run {run_id} logged no model named {name!r}.",
                    hint="Log one inside the run with my.log_model(model, name=...).",
                )
            return found, run_id, source
        if source.startswith(("blake3:", "package:")):
            digest = Digest.parse(source.removeprefix("package:"))
            return digest, None, f"package:{digest}"
        version = self.get_version(source)
        return version.package, version.run_id, version.uri

    # -- reading ---------------------------------------------------------------------------------------------
    def get(self, name: str) -> RegisteredModel:
        """A registered model with its aliases and tags."""
        return self._metadata.models.get(model_name(name))

    def list(self) -> builtins.list[RegisteredModel]:
        """All registered models, by name."""
        return self._metadata.models.list()

    def get_version(self, ref: str) -> ModelVersion:
        """A version by reference: ``churn@production``, ``churn/3``, ``churn/latest``."""
        name, version = parse_ref(ref)
        return self._metadata.models.get_version(name, version)

    def versions(self, name: str, *, limit: int = 100) -> builtins.list[ModelVersion]:
        """Versions of a model, newest first."""
        self.get(name)
        return self.search(name, limit=limit)

    def search(
        self,
        name: str | None = None,
        *,
        filter: str | None = None,
        alias: str | None = None,
        tags: Mapping[str, str] | None = None,
        status: VersionStatus | str | None = None,
        order_by: str = "version desc",
        limit: int = 100,
    ) -> builtins.list[ModelVersion]:
        """Versions matching every given criterion: ``filter`` is ``metrics.auc > 0.8 and params.depth = '6'``."""
        match = _ORDER.fullmatch(order_by)
        if match is None:
            raise InvalidInputError(
                f"Cannot order versions by {order_by!r}.", hint="Use 'version', 'created' or 'metrics.KEY', + asc/desc."
            )
        if not 1 <= limit <= 10_000:
            raise InvalidInputError(f"limit={limit} is out of range.", hint="Ask for 1 to 10,000 versions.")
        key, direction = match.group(1), (match.group(2) or "desc").lower()
        return self._metadata.models.search(
            VersionQuery(
                name=None if name is None else model_name(name),
                alias=alias,
                status=None if status is None else VersionStatus(status),
                tags={str(k): str(v) for k, v in (tags or {}).items()},
                conditions=parse_filter(filter),
                order_by=key if key.startswith("metrics.") else key.lower(),
                descending=direction == "desc",
                limit=limit,
            )
        )

    def history(self, name: str, *, alias: str | None = None) -> builtins.list[HistoryEntry]:
        """Every recorded change of a model (who, when, from, to, why), oldest first."""
        return self._metadata.aliases.history(model_name(name), alias=alias)

    def package_of(self, ref: Source) -> Digest:
        """The package digest behind a version, a ``runs:/`` model or a digest reference."""
        return self._source(ref)[0]

    def manifest(self, ref: str) -> PackageManifest:
        """The package manifest of a version (or of a ``runs:/`` model or a digest)."""
        return self.packages.manifest(self._source(ref)[0])

    # -- loading ---------------------------------------------------------------------------------------------
    def load(self, ref: Source, *, representation: Literal["onnx"] | None = None, cache: bool = True) -> Predictor:
        """Load a model as a predictor: ``load("churn@production").predict(frame)``.

        Raises:
            UnsafeModelError: the package would run code to load and is not trusted.
            NotFoundError: no such model, version, alias or run model.
        """
        version = None
        if isinstance(ref, ModelVersion):
            version = ref
        elif isinstance(ref, str) and not _RUN_REF.fullmatch(ref) and not ref.startswith(("blake3:", "package:")):
            version = self.get_version(ref)
        digest = version.package if version is not None else self._source(ref)[0]
        return self.packages.load(digest, representation=representation, version=version, cache=cache)

    def download(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """Write a package's files and ``manifest.json`` into a new folder ``dest``; return it."""
        digest = self._source(ref)[0]
        manifest = self.packages.manifest(digest)
        target = Path(dest)
        if target.exists() and any(target.iterdir()):
            raise ConflictError(f"{target} is not empty; nothing was written.", hint="Name a new or empty folder.")
        target.mkdir(parents=True, exist_ok=True)
        names = sorted(manifest.files) + sorted(f for r in manifest.representations for f in r.files)
        specs = {**manifest.files, **{f: s for r in manifest.representations for f, s in r.files.items()}}
        for name, path in zip(names, contained_paths(target, names), strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.packages.read_file(specs[name], name))
        (target / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        return target

    # -- changing --------------------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, *, reason: str | None = None) -> ModelVersion:
        """Point ``alias`` at ``version`` (creating or moving it) and record who moved it, from where, why."""
        name = model_name(name)
        self._metadata.aliases.set(name, check_name(alias, "Alias"), version, actor=current_user(), reason=reason)
        return self._metadata.models.get_version(name, version)

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> HistoryEntry | None:
        """Remove an alias (idempotent); the removal is recorded."""
        return self._metadata.aliases.delete(model_name(name), alias, actor=current_user(), reason=reason)

    def set_tag(self, ref: str, key: str, value: object, *, reason: str | None = None) -> HistoryEntry:
        """Tag a model (``churn``) or a version (``churn/3``)."""
        return self._change(ref, "tag-set", key=check_name(key, "Tag key"), value=str(value), reason=reason)

    def delete_tag(self, ref: str, key: str, *, reason: str | None = None) -> HistoryEntry:
        """Remove a tag of a model or a version."""
        return self._change(ref, "tag-removed", key=key, reason=reason)

    def set_description(self, ref: str, description: str) -> HistoryEntry:
        """Describe a model (``churn``) or a version (``churn/3``)."""
        return self._change(ref, "description", value=description)

    def set_status(self, ref: str, status: VersionStatus | str, *, reason: str | None = None) -> HistoryEntry:
        """Mark a version ``ready`` or ``archived`` (archived versions are skipped by ``latest``)."""
        return self._change(ref, "status", value=VersionStatus(status).value, reason=reason, needs_version=True)

    def _change(
        self,
        ref: str,
        action: Literal["description", "status", "tag-set", "tag-removed"],
        *,
        key: str | None = None,
        value: str | None = None,
        reason: str | None = None,
        needs_version: bool = False,
    ) -> HistoryEntry:
        names_version = "/" in ref.removeprefix("models:/") or "@" in ref
        name, version = parse_ref(ref) if names_version else (model_name(ref), None)
        if isinstance(version, str):
            version = self._metadata.models.get_version(name, version).version
        if needs_version and version is None:
            raise InvalidInputError(f"{ref!r} names no version.", hint=f"Write {ref}/3 or {ref}@alias.")
        change = ModelChange(
            model=name, version=version, action=action, key=key, value=value, actor=current_user(), reason=reason
        )
        return self._metadata.models.change(change)

    def delete_version(self, ref: str, *, reason: str | None = None) -> None:
        """Delete a version. Raises ConflictError while an alias points at it."""
        version = self.get_version(ref)
        self._metadata.models.delete_version(version.name, version.version, actor=current_user(), reason=reason)

    def delete_model(self, name: str, *, confirm: bool = False, reason: str | None = None) -> None:
        """Delete a model with all its versions and aliases; requires ``confirm=True``. The history stays."""
        if not confirm:
            model = self.get(name)
            raise ConflictError(
                f"Deleting model {name!r} removes its {model.version_count} versions and aliases "
                f"{sorted(model.aliases) or '(none)'}; nothing was deleted.",
                hint="Pass confirm=True (CLI: --yes) to delete it.",
            )
        self._metadata.models.delete_model(model_name(name), actor=current_user(), reason=reason)

    def trust(self, ref: str, *, reason: str) -> TrustGrant:
        """Trust one package to load with a code-executing format; bound to its digest, recorded with who and why."""
        if not reason or not reason.strip():
            raise InvalidInputError("A trust grant needs a reason.", hint="Say why this package is safe to run.")
        return self.packages.trust(self._source(ref)[0], actor=current_user(), reason=reason)

    def example(self, ref: str) -> builtins.list[object]:
        """The stored input example of a version (records or nested lists)."""
        return self.packages.example(self._source(ref)[0])
