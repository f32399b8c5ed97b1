"""Settings resolution: arguments > environment > modelyard.toml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import resolve_settings
from modelyard.errors import ConfigError


def test_default_home_is_dot_modelyard(tmp_path: Path) -> None:
    settings = resolve_settings(env={}, cwd=tmp_path)
    assert settings.metadata_uri == f"sqlite:///{tmp_path / '.modelyard' / 'modelyard.db'}"
    assert settings.artifact_uri == (tmp_path / ".modelyard" / "blobs").as_uri()
    assert settings.is_embedded


def test_argument_beats_environment_beats_toml(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text('[modelyard]\nuri = "from-toml"\nflush_interval_s = 5\n')
    from_toml = resolve_settings(env={}, cwd=tmp_path)
    assert from_toml.metadata_uri.endswith("from-toml/modelyard.db")
    assert from_toml.flush_interval_s == 5
    from_env = resolve_settings(env={"MODELYARD_URI": str(tmp_path / "env")}, cwd=tmp_path)
    assert from_env.metadata_uri.endswith("env/modelyard.db")
    explicit = resolve_settings(str(tmp_path / "arg"), env={"MODELYARD_URI": "x"}, cwd=tmp_path)
    assert explicit.metadata_uri.endswith("arg/modelyard.db")


def test_sqlite_file_uri_puts_blobs_beside_it(tmp_path: Path) -> None:
    settings = resolve_settings(f"sqlite:///{tmp_path}/x/meta.db", env={}, cwd=tmp_path)
    assert settings.artifact_uri == (tmp_path / "x" / "blobs").as_uri()


def test_postgres_needs_an_artifact_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs an artifact store"):
        resolve_settings("postgresql://u@h/db", env={}, cwd=tmp_path)
    settings = resolve_settings(
        "postgresql://u:secret@h/db", env={"MODELYARD_ARTIFACTS": "s3://bucket/prefix"}, cwd=tmp_path
    )
    assert settings.artifact_uri == "s3://bucket/prefix"
    assert not settings.is_embedded


@pytest.mark.parametrize(
    ("uri", "artifacts", "match"),
    [
        ("mysql://h/db", None, "Unsupported metadata URI scheme 'mysql'"),
        ("http://server:5000", None, "REST client"),
        ("sqlite://", None, "names no file"),
        ("somewhere", "gs://bucket", "Unsupported artifact URI scheme 'gs'"),
    ],
)
def test_bad_uris_say_what_works(tmp_path: Path, uri: str, artifacts: str | None, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        resolve_settings(uri, artifacts=artifacts, env={}, cwd=tmp_path)


def test_bad_values_and_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="flush_interval_s"):
        resolve_settings(env={"MODELYARD_FLUSH_S": "-1"}, cwd=tmp_path)
    (tmp_path / "modelyard.toml").write_text("uri = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve_settings(env={}, cwd=tmp_path)
