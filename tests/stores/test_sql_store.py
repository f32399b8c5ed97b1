"""The SQL metadata store itself: migrations, pragmas, write locking, start-up races, file modes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from modelyard.stores.sql.engine import HEAD_REVISION, Database
from modelyard.stores.sql.store import SqlMetadataStore

PROFILE_EXTENDED = os.environ.get("MODELYARD_TEST_PROFILE") == "extended"


def test_migrated_schema_matches_the_table_definitions(metadata_uri: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from modelyard.stores.sql.schema import metadata

    store = SqlMetadataStore(metadata_uri)
    try:
        with store.db.read() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        store.close()
    assert diff == []
    assert version == [HEAD_REVISION]


def test_a_store_of_the_previous_release_upgrades_and_keeps_its_runs(metadata_uri: str, tmp_path: Path) -> None:
    """Revision 0001 (tracking only) with a run in it, then the current release opens it: 0002 adds datasets."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from modelyard.client import Client
    from modelyard.config import resolve_settings
    from modelyard.stores.sql.migrations import upgrade
    from modelyard.stores.sql.schema import metadata

    old = Database(metadata_uri)
    if old.sqlite_path is not None:
        raw = sqlite3.connect(old.sqlite_path)
        raw.execute("PRAGMA journal_mode = WAL")
        raw.close()
    with old._writer.connect() as conn:
        upgrade(conn, "0001")
        conn.execute(text("INSERT INTO experiments (id, name, created_ms) VALUES ('e1', 'old', 1)"))
        conn.execute(
            text(
                "INSERT INTO runs (id, experiment_id, name, status, parent_id, start_ms, end_ms, context, snapshot) "
                "VALUES ('r1', 'e1', 'kept', 'FINISHED', NULL, 1, 2, '{}', NULL)"
            )
        )
        conn.commit()
    old.dispose()
    settings = resolve_settings(metadata_uri, artifacts=str(tmp_path / "blobs"), env={})
    with Client(settings=settings) as client:
        assert client.get_run("r1").name == "kept"
        assert client.datasets.list() == []
        with client.metadata.db.read() as conn:  # type: ignore[attr-defined]
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_sqlite_pragmas_are_durable_and_patient(tmp_path: Path) -> None:
    store = SqlMetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with store.db.read() as conn:
            values = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    finally:
        store.close()
    assert values == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 30000, "foreign_keys": 1}


def test_write_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = SqlMetadataStore(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        # Nothing written yet, but BEGIN IMMEDIATE already holds the lock: a second writer must wait.
        with store.db.write(), pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        store.close()


_STARTER = """
import sys
from modelyard.stores.sql.store import SqlMetadataStore
store = SqlMetadataStore(sys.argv[1])
store.experiments.ensure("race")
store.close()
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_processes_starting_together_migrate_once(backend: str, tmp_path: Path, pg_uri_factory: object) -> None:
    repetitions = 20 if PROFILE_EXTENDED else 3
    for attempt in range(repetitions):
        sqlite_uri = f"sqlite:///{tmp_path / f'race{attempt}.db'}"
        uri = sqlite_uri if backend == "sqlite" else pg_uri_factory()  # type: ignore[operator]
        procs = [
            subprocess.Popen([sys.executable, "-c", _STARTER, uri], stderr=subprocess.PIPE, text=True) for _ in range(8)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 8, errors
        db = Database(uri)
        with db.read() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD_REVISION]
            assert conn.execute(text("SELECT count(*) FROM experiments")).scalar() == 1
        db.dispose()


def test_nothing_created_is_world_writable(tmp_path: Path) -> None:
    import modelyard as my

    home = tmp_path / "home"
    client = my.Client(home)
    data = tmp_path / "f.txt"
    data.write_text("x")
    with client.start_run("perm"):
        client.log_artifact(data)
    client.close()
    for path in [home, *home.rglob("*")]:
        assert not path.lstat().st_mode & stat.S_IWOTH, path


def test_in_memory_and_unknown_databases_are_refused() -> None:
    from modelyard.errors import ConfigError

    with pytest.raises(ConfigError, match="in-memory"):
        Database("sqlite://")
    with pytest.raises(ConfigError, match="Unsupported database 'mysql'"):
        Database("mysql://localhost/x")
