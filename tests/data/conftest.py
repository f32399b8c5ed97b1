"""Fixtures of the data tests: a client on the embedded default (SQLite + local folder) and on a team store
(PostgreSQL + SeaweedFS S3), and small generators of files and tables."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.client import Client
from modelyard.config import resolve_settings


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


def make_files(root: Path, count: int, size: int = 2048, *, seed: int = 0, old: bool = True) -> Path:
    """``count`` files of random bytes under ``root`` in subfolders of 100; mtimes an hour back when ``old``."""
    import random

    rng = random.Random(seed)
    for i in range(count):
        path = root / f"d{i // 100:03d}" / f"f{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    if old:
        age(root)
    return root


def age(root: Path, seconds: float = 3600) -> None:
    """Move every file's mtime back, as files on a real disk are (the stat cache distrusts fresh writes)."""
    import time

    when = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (when, when))


def flights_like(rows: int, *, seed: int = 0, start: int = 0) -> Any:
    """A small pandas frame shaped like flights: numbers with nulls, categories, a timestamp, a key."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    delay = rng.normal(10, 30, rows)
    delay[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "flight": np.arange(start, start + rows),
            "carrier": rng.choice(["AA", "B6", "DL", "UA"], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "dep_delay": delay,
            "distance": rng.integers(80, 5000, rows),
            "time_hour": pd.Timestamp("2013-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 8760, rows), "h"),
            "cancelled": rng.random(rows) < 0.02,
        }
    )
