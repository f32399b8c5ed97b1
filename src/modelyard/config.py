"""Settings, resolved once: explicit arguments > environment variables > ``modelyard.toml`` > defaults.

This is the only module that reads environment variables. Everything else receives a ``Settings``.

========================  ==================================================================
``MODELYARD_URI``         metadata store: a folder, ``sqlite:///file.db`` or ``postgresql://...``
``MODELYARD_ARTIFACTS``   artifact store: a folder, ``file:///folder`` or ``s3://bucket/prefix``
``MODELYARD_S3_ENDPOINT`` endpoint URL of an S3-compatible store (MinIO, SeaweedFS, Ceph)
``MODELYARD_FLUSH_S``     seconds between background flushes of logged values (default 1)
========================  ==================================================================
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelyard.errors import ConfigError

__all__ = ["DEFAULT_HOME", "Settings", "resolve_settings"]

DEFAULT_HOME = ".modelyard"
DB_FILENAME = "modelyard.db"
BLOBS_DIRNAME = "blobs"

_ENV = {
    "uri": "MODELYARD_URI",
    "artifacts": "MODELYARD_ARTIFACTS",
    "s3_endpoint": "MODELYARD_S3_ENDPOINT",
    "flush_interval_s": "MODELYARD_FLUSH_S",
}


class Settings(BaseModel):
    """Where metadata and artifacts live, and how logging is flushed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metadata_uri: str = Field(description="SQLAlchemy-style URI of the metadata store")
    artifact_uri: str = Field(description="file:// or s3:// URI of the artifact store")
    s3_endpoint: str | None = None
    flush_interval_s: float = Field(default=1.0, gt=0, le=3600)
    flush_max_points: int = Field(default=20_000, gt=0)

    @property
    def is_embedded(self) -> bool:
        """Whether the metadata store is a local SQLite file."""
        return self.metadata_uri.startswith("sqlite:")


def _read_toml(start: Path) -> dict[str, object]:
    path = start / "modelyard.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.", hint="Fix the file or remove it.") from exc
    section = data.get("modelyard", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [modelyard] must be a table.", hint="Write keys such as uri = '...'.")
    return dict(section)


def _home_uris(folder: Path) -> tuple[str, str]:
    folder = folder.expanduser().absolute()
    return f"sqlite:///{folder / DB_FILENAME}", (folder / BLOBS_DIRNAME).as_uri()


def _metadata_and_default_artifacts(uri: str) -> tuple[str, str | None]:
    """Turn a user URI into (metadata URI, artifact URI implied by it or None)."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:2] == ":"):
        folder = Path(urlsplit(uri).path if scheme == "file" else uri)
        return _home_uris(folder)
    if scheme == "sqlite":
        path = uri.split("///", 1)[-1] if "///" in uri else ""
        if not path:
            raise ConfigError(f"SQLite URI {uri!r} names no file.", hint="Use sqlite:////absolute/path/modelyard.db.")
        db = Path(path).expanduser().absolute()
        return f"sqlite:///{db}", (db.parent / BLOBS_DIRNAME).as_uri()
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        return uri, None
    if scheme in ("http", "https"):
        raise ConfigError(
            f"{uri!r} names a modelyard server; the REST client is not available in this version.",
            hint="Connect to the server's database and artifact store directly (postgresql:// and s3://).",
        )
    raise ConfigError(
        f"Unsupported metadata URI scheme {scheme!r} in {uri!r}.",
        hint="Use a folder path, sqlite:///path.db or postgresql://user@host/db.",
    )


def _normalise_artifacts(uri: str) -> str:
    scheme = urlsplit(uri).scheme.lower()
    if scheme in ("s3", "file"):
        return uri
    if scheme == "" or (len(scheme) == 1 and uri[1:2] == ":"):
        return Path(uri).expanduser().absolute().as_uri()
    raise ConfigError(
        f"Unsupported artifact URI scheme {scheme!r} in {uri!r}.",
        hint="Use a folder path, file:///folder or s3://bucket/prefix.",
    )


def resolve_settings(
    uri: str | None = None,
    *,
    artifacts: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    **overrides: object,
) -> Settings:
    """Resolve settings from arguments, then the environment, then ``modelyard.toml``, then defaults.

    Args:
        uri: metadata store URI or a folder (the embedded default keeps ``modelyard.db`` and ``blobs/`` in it).
        artifacts: artifact store URI; defaults to ``blobs/`` beside a SQLite file. Required for PostgreSQL.
        env: environment to read (defaults to ``os.environ``).
        cwd: folder holding ``modelyard.toml`` and the default home (defaults to the working directory).
        **overrides: other Settings fields, such as ``flush_interval_s``.

    Returns:
        The resolved, validated settings.

    Raises:
        ConfigError: a URI or value is invalid, or PostgreSQL is used without an artifact store.
    """
    environ = os.environ if env is None else env
    base = Path.cwd() if cwd is None else cwd
    toml = _read_toml(base)

    def pick(name: str, given: object) -> object:
        if given is not None:
            return given
        if environ.get(_ENV.get(name, "")):
            return environ[_ENV[name]]
        return toml.get(name)

    chosen_uri = pick("uri", uri)
    implied: str | None
    if chosen_uri is None:
        metadata_uri, implied = _home_uris(base / DEFAULT_HOME)
    else:
        metadata_uri, implied = _metadata_and_default_artifacts(str(chosen_uri))
    chosen_artifacts = pick("artifacts", artifacts)
    if chosen_artifacts is None and implied is None:
        raise ConfigError(
            f"Metadata store {metadata_uri.split('@')[-1]!r} needs an artifact store.",
            hint="Pass artifacts='s3://bucket/prefix' (or a shared folder) or set MODELYARD_ARTIFACTS.",
        )
    fields: dict[str, object] = {
        "metadata_uri": metadata_uri,
        "artifact_uri": _normalise_artifacts(str(chosen_artifacts)) if chosen_artifacts else implied,
    }
    for name in ("s3_endpoint", "flush_interval_s"):
        value = pick(name, overrides.pop(name, None))
        if value is not None:
            fields[name] = value
    fields.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(
            f"Invalid modelyard settings: {problems}.", hint="Check arguments, env and modelyard.toml."
        ) from exc
