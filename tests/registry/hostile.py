"""Build hostile model packages the way an attacker who can write the store would (T10).

Real bytes go into a real store: the files with ``client.artifacts.put``, the manifest's canonical JSON
beside them, the package row with ``client.metadata.packages.add``. Nothing here calls a flavor or the
loader guard: that is what the tests exercise. ``load_in_subprocess`` loads and predicts in a fresh
interpreter, so a payload that crashes or hangs the process fails one test instead of the whole session.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import shlex
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pytest

from modelyard import Client
from modelyard.ids import Digest
from modelyard.registry.models import FileSpec, NewPackage, PackageManifest

REPO = pathlib.Path(__file__).resolve().parents[2]
# Every file name a built-in flavor reads: a payload stored under all of them reaches whichever one loads.
MODEL_FILES = ("model.pkl", "model.skops", "model.json", "model.txt", "model.onnx", "model.pt")


# -- payloads ------------------------------------------------------------------------------------------------
class TouchOnUnpickle:
    """Unpickling this calls ``pathlib.Path.touch(sentinel)``: a file appears if anything unpickles it."""

    def __init__(self, sentinel: pathlib.Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.sentinel),))


class SystemOnUnpickle:
    """Unpickling this runs ``os.system("touch <sentinel>")``."""

    def __init__(self, sentinel: pathlib.Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {shlex.quote(str(self.sentinel))}",))


def yaml_payload(sentinel: pathlib.Path) -> bytes:
    """A YAML document that ``yaml.unsafe_load`` would turn into ``os.system("touch <sentinel>")``."""
    return f'!!python/object/apply:os.system ["touch {sentinel}"]\n'.encode()


def object_npy(sentinel: pathlib.Path) -> bytes:
    """An ``np.save``-d object array whose element unpickles into a sentinel touch (needs allow_pickle)."""
    array = np.empty(1, dtype=object)
    array[0] = TouchOnUnpickle(sentinel)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@contextlib.contextmanager
def refused(error: type[BaseException], match: str, *sentinels: pathlib.Path) -> Iterator[None]:
    """``pytest.raises(error, match=match)`` around the block, then: no sentinel exists (checked even if it raised
    something else or nothing, so a payload that ran is always reported)."""
    try:
        with pytest.raises(error, match=match):
            yield
    finally:
        ran = [str(s) for s in sentinels if s.exists()]
        assert not ran, f"the payload ran: {ran} exist"


# -- a store and real models ----------------------------------------------------------------------------------
def open_client(home: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    """``modelyard.Client(home)`` on a fresh embedded store (SQLite + local blobs), ignoring MODELYARD_* settings."""
    for name in ("MODELYARD_URI", "MODELYARD_ARTIFACTS", "MODELYARD_S3_ENDPOINT", "MODELYARD_FLUSH_S"):
        monkeypatch.delenv(name, raising=False)
    return Client(home)


def xgboost_json() -> bytes:
    """A small fitted XGBoost booster (3 features, 2 trees of depth 2) as XGBoost's JSON model."""
    import xgboost as xgb

    features = np.random.RandomState(0).rand(50, 3)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(features, label=features[:, 0]), 2)
    return bytes(booster.save_raw("json"))


def lightgbm_text() -> bytes:
    """A small fitted LightGBM booster (3 features, 2 trees of 4 leaves) as model text."""
    import lightgbm as lgb

    features = np.random.RandomState(0).rand(200, 3)
    booster = lgb.train({"verbose": -1, "num_leaves": 4}, lgb.Dataset(features, features[:, 0]), 2)
    return str(booster.model_to_string()).encode()


# -- storing -------------------------------------------------------------------------------------------------
def put(client: Client, data: bytes) -> FileSpec:
    """Store ``data`` and return the manifest entry naming it."""
    stored = client.artifacts.put(io.BytesIO(data))
    return FileSpec(digest=str(stored.digest), size_bytes=stored.size_bytes)


def manifest(
    client: Client,
    *,
    flavor: str,
    format: str,
    files: dict[str, bytes],
    options: dict[str, Any] | None = None,
    model_class: str = "evil.Model",
) -> PackageManifest:
    """A manifest over ``files``, each stored first."""
    return PackageManifest(
        flavor=flavor,
        format=format,
        model_class=model_class,
        files={name: put(client, data) for name, data in files.items()},
        python_version="3.11.7",
        options=options or {},
    )


def store(client: Client, document: PackageManifest | dict[str, Any]) -> Digest:
    """Store a manifest (or any JSON document posing as one) and record it as a package; return its digest."""
    data = document.model_dump(mode="json") if isinstance(document, PackageManifest) else document
    body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    digest = client.artifacts.put(io.BytesIO(body)).digest
    client.metadata.packages.add(
        NewPackage(
            digest=digest,
            manifest_json=body.decode(),
            flavor=str(data.get("flavor", "python"))[:40],
            size_bytes=len(body),
            created_ms=int(time.time() * 1000),
        )
    )
    return digest


def hostile(
    client: Client,
    *,
    flavor: str,
    format: str,
    files: dict[str, bytes],
    options: dict[str, Any] | None = None,
    name: str = "evil",
) -> Digest:
    """Store a package and register it as the next version of ``name``; return its digest."""
    digest = store(client, manifest(client, flavor=flavor, format=format, files=files, options=options))
    client.register_model(name, str(digest))
    return digest


# -- tampering with the database and the blobs (an attacker with write access to the store) ------------------
def _db(client: Client) -> sqlite3.Connection:
    return sqlite3.connect(client.settings.metadata_uri.removeprefix("sqlite:///"))


def repoint(client: Client, name: str, version: int, digest: Digest) -> None:
    """Point an existing version's row at another package, as a direct database write would."""
    with _db(client) as db:
        db.execute(
            "UPDATE model_versions SET package_digest = ? WHERE number = ? "
            "AND model_id = (SELECT id FROM registered_models WHERE name = ?)",
            (str(digest), version, name),
        )


def rewrite_manifest_row(client: Client, digest: Digest, text: str) -> None:
    """Replace the manifest text kept in ``model_packages`` for ``digest``."""
    with _db(client) as db:
        db.execute("UPDATE model_packages SET manifest = ? WHERE digest = ?", (text, str(digest)))


def manifest_row(client: Client, digest: Digest) -> str:
    """The manifest text kept in ``model_packages``."""
    with _db(client) as db:
        return str(db.execute("SELECT manifest FROM model_packages WHERE digest = ?", (str(digest),)).fetchone()[0])


def overwrite_blob(client: Client, spec: FileSpec, data: bytes) -> None:
    """Replace a stored object's bytes in place (its name, the digest, stays)."""
    digest = Digest.parse(spec.digest)
    path = pathlib.Path(client.settings.artifact_uri.removeprefix("file://")) / "objects" / digest.hex[:2]
    path = path / digest.hex[2:]
    path.chmod(0o644)
    path.write_bytes(data)


# -- skops archives ------------------------------------------------------------------------------------------
@dataclass
class SkopsArchive:
    """A skops file opened for editing: its schema (JSON) and its arrays (loaded without pickle)."""

    schema: dict[str, Any]
    members: dict[str, bytes]

    @classmethod
    def of(cls, data: bytes) -> SkopsArchive:
        """Open skops bytes."""
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        return cls(json.loads(members.pop("schema.json")), members)

    def nodes(self, class_name: str) -> list[dict[str, Any]]:
        """Every schema node of ``class_name``, in document order."""
        return [node for node in _walk(self.schema) if node.get("__class__") == class_name]

    def array(self, node: dict[str, Any]) -> np.ndarray:
        """The array an ``NdArrayNode`` points at."""
        return np.load(io.BytesIO(self.members[node["file"]]), allow_pickle=False)

    def set_array(self, node: dict[str, Any], array: np.ndarray) -> None:
        """Replace the array an ``NdArrayNode`` points at."""
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        self.members[node["file"]] = buffer.getvalue()

    def edit_array(self, node: dict[str, Any], change: Callable[[np.ndarray], None]) -> None:
        """Load, change in place, and store back one array."""
        array = self.array(node).copy()
        change(array)
        self.set_array(node, array)

    def dumps(self) -> bytes:
        """The edited archive as skops bytes."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in self.members.items():
                archive.writestr(name, data)
            archive.writestr("schema.json", json.dumps(self.schema))
        return buffer.getvalue()


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


_fresh_ids = iter(range(1, 10**6))


def json_node(value: object) -> dict[str, Any]:
    """A skops ``JsonNode`` holding ``value``, with an id no other node shares (skops memoizes by id)."""
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": next(_fresh_ids),
    }


# -- loading in a fresh interpreter --------------------------------------------------------------------------
_LOADER = """
import json, sys
import numpy as np
from modelyard import Client
from modelyard.errors import ModelyardError
client = Client(sys.argv[1])
try:
    result = client.models.load(sys.argv[2], cache=False).predict(np.asarray(json.loads(sys.argv[3])))
except ModelyardError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": exc.message}))
except Exception as exc:  # a library error that escaped modelyard: reported, so the test names it
    print(json.dumps({"error": type(exc).__qualname__, "message": str(exc)}))
else:
    print(json.dumps({"predicted": np.asarray(result).tolist()}))
"""


@dataclass(frozen=True)
class Outcome:
    """What a load + predict in a fresh interpreter did."""

    returncode: int | None  # None: killed after the timeout (a hang)
    error: str | None
    message: str
    output: str


def load_in_subprocess(client: Client, ref: str, rows: list[list[float]], *, timeout: float = 120) -> Outcome:
    """Load ``ref`` from ``client``'s store in a new Python process and predict ``rows``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    home = client.settings.metadata_uri.removeprefix("sqlite:///").removesuffix("/modelyard.db")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LOADER, home, ref, json.dumps(rows)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Outcome(None, None, "", f"hung for {timeout} s: {exc.stderr!r}")
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if done.returncode == 0 and lines else {}
    return Outcome(done.returncode, report.get("error"), report.get("message", ""), done.stdout + done.stderr)


def assert_refused(outcome: Outcome, error: str, pattern: str) -> None:
    """The subprocess exited normally and reported ``error`` with a message matching ``pattern``."""
    import re

    assert outcome.returncode == 0, f"the loading process died (returncode {outcome.returncode}): {outcome.output}"
    assert outcome.error == error, f"expected {error}, got {outcome.error}: {outcome.output}"
    assert re.search(pattern, outcome.message), f"{pattern!r} not in {outcome.message!r}"
