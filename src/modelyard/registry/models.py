"""Records of the registry: packages, manifests, signatures, models, versions, history and events.

The history is the audited record of every change; events are what serving and triggers consume.

What is stored as JSON (a package manifest, a signature, a version's lineage) is a frozen pydantic model
that refuses unknown fields; what stays in the process is a frozen dataclass.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelyard.ids import Digest, RunId

__all__ = [
    "ColumnSpec",
    "Event",
    "FileSpec",
    "HistoryEntry",
    "MetricCondition",
    "ModelChange",
    "ModelInfo",
    "ModelLineage",
    "ModelVersion",
    "NewModelVersion",
    "NewPackage",
    "PackageManifest",
    "RegisteredModel",
    "Representation",
    "Signature",
    "TensorSpec",
    "TrustGrant",
    "VersionQuery",
    "VersionStatus",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class VersionStatus(enum.StrEnum):
    """A model version is ``ready`` to use or ``archived`` (kept, but not offered by default)."""

    READY = "ready"
    ARCHIVED = "archived"


class ColumnSpec(BaseModel):
    """One named input or output column: its logical type and whether it may hold nulls."""

    model_config = _FROZEN
    name: str = Field(min_length=1, max_length=250)
    type: Literal["bool", "integer", "float", "string", "datetime", "category", "binary"]
    nullable: bool = False


class TensorSpec(BaseModel):
    """An unnamed array input or output: dtype and shape (``-1`` for any length, usually the batch)."""

    model_config = _FROZEN
    dtype: str = Field(pattern=r"^(bool|u?int(8|16|32|64)|float(16|32|64))$")
    shape: tuple[int, ...]


class Signature(BaseModel):
    """What a model takes and returns: named columns (tables) or one tensor (arrays)."""

    model_config = _FROZEN
    inputs: tuple[ColumnSpec, ...] | TensorSpec
    outputs: tuple[ColumnSpec, ...] | TensorSpec | None = None

    @property
    def input_names(self) -> tuple[str, ...]:
        """Column names of a table signature (empty for a tensor signature)."""
        return () if isinstance(self.inputs, TensorSpec) else tuple(c.name for c in self.inputs)


class FileSpec(BaseModel):
    """One file of a package: its stored digest and size (the path is the key in ``files``)."""

    model_config = _FROZEN
    digest: str = Field(pattern=r"^blake3:[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)


class Representation(BaseModel):
    """A second form of the same model (ONNX for fast serving), with its parity check on the input example."""

    model_config = _FROZEN
    flavor: str
    format: str
    files: dict[str, FileSpec]
    max_abs_difference: float | None = None
    tolerance: float | None = None


class PackageManifest(BaseModel):
    """The manifest of a model package. Its canonical JSON bytes are stored; their digest is the package's.

    Nothing in a manifest names code to import: ``flavor`` and ``format`` select a registered loader, which
    decides what the files may be, and ``options`` holds data only (the loader validates it).
    """

    model_config = _FROZEN
    manifest_format: Literal[1] = 1
    flavor: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    format: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    model_class: str = Field(max_length=500)
    methods: tuple[Literal["predict", "predict_proba"], ...] = ("predict",)
    files: dict[str, FileSpec]
    signature: Signature | None = None
    input_example: str | None = None
    requirements: tuple[str, ...] = ()
    python_version: str
    environment_digest: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    representations: tuple[Representation, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """A model logged to a run: where it is (``uri``), what it is (``digest``, ``flavor``) and its signature."""

    run_id: RunId | None
    name: str
    digest: Digest
    flavor: str
    format: str
    model_class: str
    signature: Signature | None
    requirements: tuple[str, ...]
    size_bytes: int
    representations: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        """``runs:/<run id>/<name>`` for a run's model, else ``package:blake3:<hex>``."""
        return f"runs:/{self.run_id}/{self.name}" if self.run_id else f"package:{self.digest}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLineage:
    """Where a model version came from: the run, its code, its data and its environment."""

    run_id: RunId | None = None
    experiment: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    environment_digest: str | None = None
    datasets: tuple[str, ...] = ()  # "flights@3" references the run read
    pipeline_run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored with the version."""
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "environment_digest": self.environment_digest,
            "datasets": list(self.datasets),
            "pipeline_run_id": self.pipeline_run_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelLineage:
        """Parse the stored JSON form."""
        return cls(
            run_id=None if data.get("run_id") is None else RunId(str(data["run_id"])),
            experiment=data.get("experiment"),
            git_commit=data.get("git_commit"),
            git_dirty=data.get("git_dirty"),
            environment_digest=data.get("environment_digest"),
            datasets=tuple(data.get("datasets") or ()),
            pipeline_run_id=data.get("pipeline_run_id"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredModel:
    """A named model with its versions' count, aliases and tags."""

    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    version_count: int
    latest_version: int | None
    aliases: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewModelVersion:
    """What registering a version writes (the number is assigned by the store)."""

    model: str
    package: Digest
    flavor: str
    source: str
    run_id: RunId | None
    lineage: ModelLineage
    description: str | None
    tags: dict[str, str]
    actor: str | None
    created_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """One immutable version of a registered model, with what its source run measured."""

    name: str
    version: int
    package: Digest
    flavor: str
    source: str
    status: VersionStatus
    description: str | None
    created_at: datetime
    actor: str | None
    run_id: RunId | None
    lineage: ModelLineage
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``."""
        return f"models:/{self.name}/{self.version}"

    @property
    def ref(self) -> str:
        """``<name>/<version>``: the reference ``models.load`` and the CLI take."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One recorded change of a registered model: an alias move, a new version, a status or tag change.

    ``action`` is one of ``version-created``, ``version-deleted``, ``alias-set``, ``alias-removed``,
    ``status``, ``description``, ``tag-set``, ``tag-removed`` (``key`` names the tag), ``model-deleted``.
    """

    id: int
    model: str
    action: str
    alias: str | None
    key: str | None
    version: int | None
    from_value: str | None
    to_value: str | None
    actor: str | None
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A durable, ordered event (``model-version-created``, ``alias-moved`` ...); ``id`` is the cursor."""

    id: int
    kind: str
    subject: str
    payload: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustGrant:
    """An explicit opt-in to load one package with a code-executing format (pickle), bound to its digest."""

    package: Digest
    format: str
    actor: str | None
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NewPackage:
    """A stored package to record: its manifest, and the run that logged it (if any)."""

    digest: Digest
    manifest_json: str
    flavor: str
    size_bytes: int
    created_ms: int
    run_id: RunId | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelChange:
    """A change to a model (``version`` None) or a version: a description, a status, a tag set or removed."""

    model: str
    version: int | None
    action: Literal["description", "status", "tag-set", "tag-removed"]
    key: str | None = None
    value: str | None = None
    actor: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricCondition:
    """``metrics.<key> <op> <value>`` (or ``params.``/``tags.`` with a string value) in a version search."""

    scope: Literal["metrics", "params", "tags"]
    key: str
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: float | str


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionQuery:
    """A search over model versions; ``order_by`` is ``version``, ``created`` or ``metrics.<key>``."""

    name: str | None = None
    alias: str | None = None
    status: VersionStatus | None = None
    tags: dict[str, str] = field(default_factory=dict)
    conditions: tuple[MetricCondition, ...] = ()
    order_by: str = "version"
    descending: bool = True
    limit: int = 100
