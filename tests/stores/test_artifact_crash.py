"""kill -9 during artifact writes (RELIABILITY T5): acknowledged objects survive, nothing partial is visible.

Each trial runs a child Python process that writes objects in a loop and prints each digest once ``put``
returned. The child dies by SIGKILL, either from the parent at a random moment or by itself at a named fault
point inside ``put``. Afterwards every object under ``objects/`` must hash to its name, every acknowledged
digest must be there, and temporary files must never show up as objects. Trial seeds are the trial number:
rerun one with ``-k 'trial-17'``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest

from modelyard.ids import Digest
from modelyard.stores.local.artifacts import LocalArtifactStore
from modelyard.stores.s3.artifacts import MULTIPART_THRESHOLD, S3ArtifactStore

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

    from tests.fixtures.s3 import S3Server

pytestmark = pytest.mark.slow

PROFILE = os.environ.get("MODELYARD_TEST_PROFILE", "ci")
SCALE = 10 if PROFILE == "extended" else 1
LOCAL_TRIALS = 50 * SCALE
S3_TRIALS = 10 * SCALE
FAULT_POINTS = ["after-temp-write", "after-fsync", "after-rename", "before-dir-fsync"]
MiB = 1024 * 1024

LOCAL_CHILD = """
import io, json, os, random, signal, sys
from modelyard.stores.local.artifacts import LocalArtifactStore

config = json.loads(sys.argv[1])
rng = random.Random(config["seed"])
point, skip = config["point"], config["skip"]

def fault(name):
    global skip
    if name == point:
        if skip == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        skip -= 1

store = LocalArtifactStore(config["root"], fault=fault)
print("ready", flush=True)
while True:
    big = rng.random() < 0.1
    size = rng.randint(2 * 2**20, 6 * 2**20) if big else rng.randint(0, 64 * 1024)
    stored = store.put(io.BytesIO(rng.randbytes(size)))
    print(stored.digest.hex, flush=True)
"""

S3_CHILD = """
import io, json, os, sys
import blake3, boto3
from modelyard.stores.s3.artifacts import S3ArtifactStore

config = json.loads(sys.argv[1])
client = boto3.client("s3", endpoint_url=config["endpoint"], aws_access_key_id=config["key"],
                      aws_secret_access_key=config["secret"], region_name="us-east-1")
store = S3ArtifactStore(config["bucket"], "crash", client=client)
for _ in range(3):
    print("done", store.put(io.BytesIO(os.urandom(1000))).digest.hex, flush=True)
data = os.urandom(config["size"])
print("begin", blake3.blake3(data).hexdigest(), flush=True)
print("done", store.put(io.BytesIO(data)).digest.hex, flush=True)
"""


def _child(script: str, config: dict[str, object]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes], *, kill: bool) -> list[str]:
    """SIGKILL the child (or wait for it to kill itself); return its complete stdout lines."""
    if kill:
        process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err.decode(errors="replace")[-3000:]
    return out.decode().split("\n")[:-1]  # the last piece may be cut mid-line


def _hash_file(path: Path) -> str:
    hasher = blake3.blake3()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            hasher.update(chunk)
    return str(hasher.hexdigest())


def _temp_files(root: Path) -> list[Path]:
    """Files in the store's tmp/ (which does not exist if the child died before its first put)."""
    tmp = root / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def _check_local_store(root: Path, acknowledged: list[str]) -> None:
    objects = root / "objects"
    found: set[str] = set()
    for path in objects.rglob("*"):
        rel = path.relative_to(objects).parts
        if path.is_dir() and len(rel) == 1 and len(rel[0]) == 2:
            continue
        assert path.is_file(), f"unexpected entry {path}"
        assert not path.is_symlink(), f"unexpected link {path}"
        assert [len(part) for part in rel] == [2, 62], f"a non-object is visible: {path}"
        assert _hash_file(path) == rel[0] + rel[1], f"{path} does not hash to its name"
        assert path.stat().st_mode & 0o777 == 0o444
        found.add(rel[0] + rel[1])
    missing = set(acknowledged) - found
    assert not missing, f"acknowledged objects lost: {sorted(missing)}"
    store = LocalArtifactStore(root)  # "restart"
    assert {o.digest.hex for o in store.list_objects()} == found
    store.clean_temp(max_age_s=0)
    assert _temp_files(root) == []
    for hex_digest in acknowledged[-3:]:
        with store.open(Digest(hex_digest)) as reader:
            while reader.read(MiB):
                pass


@pytest.mark.parametrize("trial", range(LOCAL_TRIALS), ids=lambda n: f"trial-{n}")
def test_local_put_survives_kill_9(trial: int, tmp_path: Path) -> None:
    rng = random.Random(trial)
    by_fault = trial % 2 == 1
    point = rng.choice(FAULT_POINTS) if by_fault else None
    root = tmp_path / "store"
    process = _child(LOCAL_CHILD, {"root": str(root), "seed": trial, "point": point, "skip": rng.randint(0, 6)})
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    if not by_fault:
        time.sleep(rng.uniform(0.0, 0.5))
    lines = _finish(process, kill=not by_fault)
    acknowledged = [line for line in lines if len(line) == 64]
    if point in ("after-temp-write", "after-fsync"):
        assert len(_temp_files(root)) == 1  # the interrupted put left exactly its temp file
    _check_local_store(root, acknowledged)


def _upload_in_progress(client: S3Client, bucket: str, key: str) -> bool:
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    return any(upload["Key"] == key for upload in uploads)


def _wait_for_upload(client: S3Client, bucket: str, key: str, process: subprocess.Popen[bytes]) -> bool:
    """Wait until the child's multipart upload of ``key`` is under way; False if it never showed up."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if _upload_in_progress(client, bucket, key):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.s3
@pytest.mark.parametrize("trial", range(S3_TRIALS), ids=lambda n: f"trial-{n}")
def test_s3_put_killed_mid_upload_leaves_nothing_partial(
    trial: int, s3_server: S3Server, s3_client: S3Client, s3_bucket: str
) -> None:
    rng = random.Random(trial)
    size = MULTIPART_THRESHOLD + rng.randint(16, 48) * MiB
    config = {
        "endpoint": s3_server.endpoint_url,
        "key": s3_server.access_key,
        "secret": s3_server.secret_key,
        "bucket": s3_bucket,
        "size": size,
    }
    process = _child(S3_CHILD, config)
    assert process.stdout is not None
    acknowledged: list[str] = []
    while (line := process.stdout.readline().decode()).startswith("done"):
        acknowledged.append(line.split()[1])
    assert line.startswith("begin"), process.communicate()[1].decode(errors="replace")[-3000:]
    big = Digest(line.split()[1])
    store = S3ArtifactStore(s3_bucket, "crash", client=s3_client)
    key = store.uri(big).removeprefix(f"s3://{s3_bucket}/")
    assert _wait_for_upload(s3_client, s3_bucket, key, process), "the multipart upload never started"
    time.sleep(rng.uniform(0.0, 0.3))
    process.send_signal(signal.SIGSTOP)  # freeze it, then look: is the upload still incomplete?
    mid_upload = _upload_in_progress(s3_client, s3_bucket, key)
    lines = _finish(process, kill=True)
    acknowledged += [line.split()[1] for line in lines if line.startswith("done")]
    assert len(acknowledged) >= 3
    if mid_upload:
        assert not store.exists(big), "a partial multipart upload is visible under its key"
    elif store.exists(big):  # it completed just before the freeze
        assert store.size(big) == size
    listed = {o.digest for o in store.list_objects()}
    assert {Digest(h) for h in acknowledged} <= listed
    for digest in listed:
        with store.open(digest) as reader:
            while reader.read(MiB):
                pass
