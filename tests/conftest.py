"""Shared fixtures: real backends only (SQLite, PostgreSQL, local files, SeaweedFS S3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.config import resolve_settings

pytest_plugins = ["tests.fixtures.s3", "tests.fixtures.artifacts", "tests.fixtures.metadata"]


# -- clients on the embedded default (SQLite + local folder) and on a team store (PostgreSQL + SeaweedFS S3) --
def _client(request: pytest.FixtureRequest, tmp_path: Path, kind: str, label: str) -> Client:
    if kind == "local":
        return Client(settings=resolve_settings(str(tmp_path / label), env={}, flush_interval_s=0.05))
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    uri = request.getfixturevalue("pg_uri_factory")()
    settings = resolve_settings(
        uri, artifacts=f"s3://{bucket}/{label}", s3_endpoint=server.endpoint_url, env={}, flush_interval_s=0.05
    )
    return Client(settings=settings)


@pytest.fixture(params=["local", pytest.param("team", marks=[pytest.mark.postgres, pytest.mark.s3])])
def yard(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    """A client on an empty store: the embedded default, or PostgreSQL + S3."""
    from modelyard import _context

    client = _client(request, tmp_path, request.param, "yard")
    token = _context.current_client.set(client)
    stack = _context.run_stack.set(())
    yield client
    _context.run_stack.reset(stack)
    _context.current_client.reset(token)
    client.close()


@pytest.fixture
def local_yard(tmp_path: Path) -> Iterator[Client]:
    """A client on an empty embedded store only (for tests that tamper with files on disk)."""
    from modelyard import _context

    client = Client(settings=resolve_settings(str(tmp_path / "local-yard"), env={}, flush_interval_s=0.05))
    token = _context.current_client.set(client)
    stack = _context.run_stack.set(())
    yield client
    _context.run_stack.reset(stack)
    _context.current_client.reset(token)
    client.close()


@pytest.fixture
def other_yard(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Client]]:
    """Make more clients on fresh stores of a kind ("local" or "team"); closed after the test."""
    made: list[Client] = []

    def make(kind: str) -> Client:
        client = _client(request, tmp_path, kind, f"other{len(made)}")
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
