"""The contract every ArtifactStore passes, on each backend (local folder, SeaweedFS S3); bit rot (T22)."""

from __future__ import annotations

import errno
import io
import os
import random
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

import blake3
import pytest

from modelyard.errors import ConfigError, IntegrityError, NotFoundError, StoreUnavailableError
from modelyard.ids import Digest
from modelyard.stores.hashing import VerifyingReader, hash_stream, open_verified
from modelyard.stores.local.artifacts import LocalArtifactStore
from modelyard.stores.protocols import ArtifactStore
from modelyard.stores.s3.artifacts import MULTIPART_THRESHOLD, S3ArtifactStore
from tests.fixtures.s3 import S3Server

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MiB = 1024 * 1024
UNKNOWN = Digest("0" * 64)


class PatternStream(io.RawIOBase):
    """``size`` deterministic pseudo-random bytes, produced on demand (never held in memory at once)."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__()
        self._left = size
        self._rng = random.Random(seed)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # typeshed's buffer type
        count = min(len(buffer), self._left, 256 * 1024)
        buffer[:count] = self._rng.randbytes(count)
        self._left -= count
        return count


def pattern_digest(size: int, seed: int) -> Digest:
    hasher = blake3.blake3()
    with io.BufferedReader(PatternStream(size, seed)) as stream:
        while chunk := stream.read(MiB):
            hasher.update(chunk)
    return Digest(hasher.hexdigest())


def read_all(store: ArtifactStore, digest: Digest, *, chunk: int = MiB) -> tuple[int, Digest]:
    """Stream an object back in chunks; return its size and the digest of what was read."""
    hasher = blake3.blake3()
    size = 0
    with store.open(digest) as reader:
        while data := reader.read(chunk):
            hasher.update(data)
            size += len(data)
    return size, Digest(hasher.hexdigest())


Rewrite = Callable[[Digest, Callable[[bytes], bytes]], None]


@pytest.fixture
def rewrite(artifact_store: ArtifactStore, request: pytest.FixtureRequest) -> Rewrite:
    """Replace a stored object's bytes behind the store's back (bit rot, truncation, a bad disk or tenant)."""
    if isinstance(artifact_store, LocalArtifactStore):

        def local(digest: Digest, change: Callable[[bytes], bytes]) -> None:
            path = Path(urlsplit(artifact_store.uri(digest)).path)
            data = path.read_bytes()
            path.chmod(0o644)
            path.write_bytes(change(data))
            path.chmod(0o444)

        return local
    client: S3Client = request.getfixturevalue("s3_client")

    def remote(digest: Digest, change: Callable[[bytes], bytes]) -> None:
        parts = urlsplit(artifact_store.uri(digest))
        bucket, key = parts.netloc, parts.path.lstrip("/")
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        client.put_object(Bucket=bucket, Key=key, Body=change(data))

    return remote


def drain(reader: BinaryIO) -> None:
    while reader.read(64 * 1024):
        pass


def flip(offset: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        raw = bytearray(data)
        raw[offset % len(raw)] ^= 0x01
        return bytes(raw)

    return change


# -- put / open --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 1000, MiB + 7])
def test_round_trip(artifact_store: ArtifactStore, size: int) -> None:
    data = os.urandom(size)
    stored = artifact_store.put(io.BytesIO(data))
    assert stored.digest == Digest(blake3.blake3(data).hexdigest())
    assert stored.size_bytes == size
    with artifact_store.open(stored.digest) as reader:
        assert reader.read() == data
    with artifact_store.open(stored.digest) as reader:
        assert b"".join(iter(lambda: reader.read(333), b"")) == data
    assert artifact_store.exists(stored.digest)
    assert artifact_store.size(stored.digest) == size


def test_20_mb_streams_both_ways(artifact_store: ArtifactStore) -> None:
    size = 20 * MiB + 3
    with io.BufferedReader(PatternStream(size, seed=7)) as source:
        stored = artifact_store.put(source)
    assert stored.digest == pattern_digest(size, seed=7)
    assert stored.size_bytes == size
    assert read_all(artifact_store, stored.digest) == (size, stored.digest)


def test_reader_supports_readinto_and_small_reads(artifact_store: ArtifactStore) -> None:
    data = os.urandom(10_000)
    stored = artifact_store.put(io.BytesIO(data))
    with artifact_store.open(stored.digest) as reader:
        buffer = bytearray(4096)
        assert reader.readinto(buffer) == 4096
        assert bytes(buffer) == data[:4096]
        assert reader.read(10) == data[4096:4106]
        assert reader.read() == data[4106:]
        assert reader.read() == b""
    assert reader.closed


def test_same_content_is_stored_once(artifact_store: ArtifactStore) -> None:
    first = artifact_store.put(io.BytesIO(b"same bytes"))
    second = artifact_store.put(io.BytesIO(b"same bytes"))
    assert first == second
    assert [o.digest for o in artifact_store.list_objects()] == [first.digest]


def test_exists_size_uri_age_and_delete(artifact_store: ArtifactStore) -> None:
    stored = artifact_store.put(io.BytesIO(b"x" * 123))
    digest = stored.digest
    assert artifact_store.exists(digest)
    assert artifact_store.size(digest) == 123
    assert 0 <= artifact_store.age_s(digest) < 120
    uri = artifact_store.uri(digest)
    assert uri.startswith(("file:///", "s3://"))
    assert uri.endswith(f"/objects/{digest.hex[:2]}/{digest.hex[2:]}")
    artifact_store.delete(digest)
    assert not artifact_store.exists(digest)
    artifact_store.delete(digest)  # idempotent
    with pytest.raises(NotFoundError, match=digest.hex):
        artifact_store.open(digest)
    assert list(artifact_store.list_objects()) == []


def test_list_objects(artifact_store: ArtifactStore) -> None:
    assert list(artifact_store.list_objects()) == []
    blobs = [os.urandom(n) for n in (0, 1, 10, 1000, 5000)]
    stored = {artifact_store.put(io.BytesIO(b)) for b in blobs}
    assert set(artifact_store.list_objects()) == stored
    assert {o.size_bytes for o in stored} == {0, 1, 10, 1000, 5000}


@pytest.mark.parametrize("call", ["open", "size", "age_s", "read_range"])
def test_unknown_digest_is_not_found(artifact_store: ArtifactStore, call: str) -> None:
    assert not artifact_store.exists(UNKNOWN)
    args = (0, 1) if call == "read_range" else ()
    with pytest.raises(NotFoundError, match=f"Object blake3:{UNKNOWN.hex} is not in the artifact store"):
        getattr(artifact_store, call)(UNKNOWN, *args)
    artifact_store.delete(UNKNOWN)


def test_read_range_returns_exactly_the_bytes_asked(artifact_store: ArtifactStore) -> None:
    data = os.urandom(2 * MiB + 17)
    digest = artifact_store.put(io.BytesIO(data)).digest
    for offset, length in [(0, 1), (0, len(data)), (MiB - 3, 10), (len(data) - 5, 5), (12345, 0)]:
        assert artifact_store.read_range(digest, offset, length) == data[offset : offset + length]


@pytest.mark.parametrize(("offset", "length"), [(10, 1), (5, 6), (100, 50)])
def test_read_range_past_the_end_is_an_integrity_error(artifact_store: ArtifactStore, offset: int, length: int) -> None:
    digest = artifact_store.put(io.BytesIO(b"0123456789")).digest
    with pytest.raises(IntegrityError, match=f"Object {digest} .* is shorter than expected"):
        artifact_store.read_range(digest, offset, length)


# -- integrity ---------------------------------------------------------------------------------------------
def test_a_flipped_byte_is_refused(artifact_store: ArtifactStore, rewrite: Rewrite) -> None:
    data = os.urandom(3 * MiB)
    stored = artifact_store.put(io.BytesIO(data))
    rewrite(stored.digest, flip(2 * MiB + 5))
    expected = rf"Object {stored.digest} is corrupt: its content hashes to blake3:[0-9a-f]{{64}}\."
    with artifact_store.open(stored.digest) as reader, pytest.raises(IntegrityError, match=expected) as info:
        reader.read()
    assert info.value.hint is not None
    assert "modelyard fsck" in info.value.hint
    with artifact_store.open(stored.digest) as reader:
        with pytest.raises(IntegrityError, match=stored.digest.hex):
            drain(reader)
        with pytest.raises(IntegrityError, match=stored.digest.hex):  # and it stays refused
            reader.read(1)


@pytest.mark.parametrize("keep", [0, 1, 4095])
def test_truncation_is_refused(artifact_store: ArtifactStore, rewrite: Rewrite, keep: int) -> None:
    stored = artifact_store.put(io.BytesIO(os.urandom(8192)))
    rewrite(stored.digest, lambda data: data[:keep])
    with artifact_store.open(stored.digest) as reader, pytest.raises(IntegrityError, match=stored.digest.hex):
        reader.read()


def test_appended_bytes_are_refused(artifact_store: ArtifactStore, rewrite: Rewrite) -> None:
    stored = artifact_store.put(io.BytesIO(b"payload"))
    rewrite(stored.digest, lambda data: data + b"!")
    with artifact_store.open(stored.digest) as reader, pytest.raises(IntegrityError, match=stored.digest.hex):
        reader.read()


def test_bit_rot_is_always_refused(artifact_store: ArtifactStore, rewrite: Rewrite) -> None:
    """T22: one flipped byte in each of 100 objects (20 on S3) -> every read refused."""
    count = 100 if isinstance(artifact_store, LocalArtifactStore) else 20
    rng = random.Random(22)
    stored = [artifact_store.put(io.BytesIO(rng.randbytes(rng.randint(1, 70_000)))) for _ in range(count)]
    for item in stored:
        rewrite(item.digest, flip(rng.randrange(item.size_bytes)))
    refused: list[str] = []
    for item in stored:
        with artifact_store.open(item.digest) as reader:
            try:
                drain(reader)
            except IntegrityError as exc:
                refused.append(exc.message)
    assert len(refused) == count
    assert all(item.digest.hex in message for item, message in zip(stored, refused, strict=True))


def test_a_good_put_repairs_an_object_of_the_wrong_size(artifact_store: ArtifactStore, rewrite: Rewrite) -> None:
    data = os.urandom(5000)
    stored = artifact_store.put(io.BytesIO(data))
    rewrite(stored.digest, lambda raw: raw[:100])
    assert artifact_store.put(io.BytesIO(data)) == stored
    with artifact_store.open(stored.digest) as reader:
        assert reader.read() == data


# -- the verifying reader every backend returns -------------------------------------------------------------
def test_hash_stream_without_a_copy() -> None:
    data = os.urandom(3 * MiB + 1)
    assert hash_stream(io.BytesIO(data), None, chunk_size=MiB) == (
        Digest(blake3.blake3(data).hexdigest()),
        len(data),
    )


@pytest.mark.parametrize(
    ("actual", "size_bytes", "message"),
    [
        (b"abc", 2, "it holds more than the expected 2 bytes"),
        (b"abc", 4, r"it holds 3 bytes, expected 4 \(truncated\)"),
        (b"abd", 3, "its content hashes to blake3:"),
    ],
)
def test_verifying_reader_checks_size_and_digest(actual: bytes, size_bytes: int, message: str) -> None:
    digest = Digest(blake3.blake3(b"abc").hexdigest())
    what = "run 1234 artifact model/model.skops"
    with (
        open_verified(io.BytesIO(actual), digest, size_bytes=size_bytes, what=what) as reader,
        pytest.raises(IntegrityError, match=rf"Object {digest} \({what}\) is corrupt: {message}"),
    ):
        drain(reader)


def test_verifying_reader_edges() -> None:
    digest = Digest(blake3.blake3(b"abc").hexdigest())
    source = io.BytesIO(b"abc")
    reader = VerifyingReader(source, digest, size_bytes=3)
    assert reader.readable()
    assert reader.readinto(bytearray()) == 0
    assert reader.readall() == b"abc"
    assert reader.read(5) == b""  # verified; end of stream stays end of stream
    reader.close()
    reader.close()
    assert source.closed


# -- backend specifics (beyond the contract) ---------------------------------------------------------------
def _modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mode & 0o777 for p in [root, *root.rglob("*")]}


def test_local_objects_are_read_only_and_nothing_is_world_writable(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the most permissive umask: modes must still be safe
    try:
        store = LocalArtifactStore(tmp_path / "new" / "parent" / "blobs")
        stored = store.put(io.BytesIO(b"secret weights"))
    finally:
        os.umask(old_umask)
    modes = _modes(tmp_path / "new")
    assert all(mode & 0o002 == 0 for mode in modes.values()), modes
    assert modes[f"parent/blobs/objects/{stored.digest.hex[:2]}/{stored.digest.hex[2:]}"] == 0o444
    assert modes["parent/blobs/objects"] == 0o755
    assert list((tmp_path / "new" / "parent" / "blobs" / "tmp").iterdir()) == []


def test_local_fault_points_fire_in_order(tmp_path: Path) -> None:
    seen: list[str] = []
    store = LocalArtifactStore(tmp_path, fault=seen.append)
    store.put(io.BytesIO(b"a"))
    assert seen == ["after-temp-write", "after-fsync", "after-rename", "before-dir-fsync"]
    seen.clear()
    store.put(io.BytesIO(b"a"))  # already stored: nothing is renamed
    assert seen == ["after-temp-write", "after-fsync"]


class Crash(Exception):
    pass


@pytest.mark.parametrize("point", ["after-temp-write", "after-fsync", "after-rename", "before-dir-fsync"])
def test_local_failed_put_leaves_no_temp_and_no_partial_object(tmp_path: Path, point: str) -> None:
    def fault(name: str) -> None:
        if name == point:
            raise Crash(name)

    store = LocalArtifactStore(tmp_path, fault=fault)
    data = os.urandom(100_000)
    with pytest.raises(Crash, match=point):
        store.put(io.BytesIO(data))
    assert list((tmp_path / "tmp").iterdir()) == []
    objects = list(store.list_objects())
    if point in ("after-rename", "before-dir-fsync"):  # the rename happened: the object is complete
        assert [o.size_bytes for o in objects] == [len(data)]
        assert read_all(store, objects[0].digest) == (len(data), objects[0].digest)
    else:
        assert objects == []


def test_local_re_put_refreshes_the_age(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    stored = store.put(io.BytesIO(b"old"))
    path = Path(urlsplit(store.uri(stored.digest)).path)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    assert store.age_s(stored.digest) > 3600
    store.put(io.BytesIO(b"old"))
    assert store.age_s(stored.digest) < 60


def test_local_clean_temp_removes_only_stale_files(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    assert store.clean_temp() == 0  # no tmp folder yet
    store.put(io.BytesIO(b"x"))
    stale, fresh = tmp_path / "tmp" / "put-stale.part", tmp_path / "tmp" / "put-fresh.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"in progress")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    assert store.clean_temp() == 1
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == ["put-fresh.part"]
    assert store.clean_temp(max_age_s=0) == 1


def test_local_list_skips_strays_and_missing_root(tmp_path: Path) -> None:
    assert list(LocalArtifactStore(tmp_path / "missing").list_objects()) == []
    store = LocalArtifactStore(tmp_path)
    stored = store.put(io.BytesIO(b"real"))
    (tmp_path / "objects" / "zz").mkdir()
    (tmp_path / "objects" / "zz" / ("a" * 62)).write_bytes(b"stray")
    (tmp_path / "objects" / stored.digest.hex[:2] / "short").write_bytes(b"stray")
    (tmp_path / "objects" / "README").write_text("stray")
    assert list(store.list_objects()) == [stored]


class FailingSource(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # typeshed's buffer type
        raise OSError(errno.EIO, "Input/output error")


def test_local_source_read_errors_are_not_blamed_on_the_store(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    with pytest.raises(OSError, match="Input/output error") as info:
        store.put(FailingSource())  # type: ignore[arg-type]
    assert not isinstance(info.value, StoreUnavailableError)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_local_unwritable_root_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = LocalArtifactStore(blocker / "blobs")
    with pytest.raises(StoreUnavailableError, match=r"Cannot write to the artifact store at .*a-file/blobs"):
        store.put(io.BytesIO(b"x"))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:///srv/yard/blobs", "/srv/yard/blobs"),
        ("file://localhost/srv/yard/blobs", "/srv/yard/blobs"),
        ("file:///srv/my%20yard/donn%C3%A9es", "/srv/my yard/données"),
        ("/srv/yard/blobs", "/srv/yard/blobs"),
    ],
)
def test_local_from_uri(uri: str, expected: str) -> None:
    store = LocalArtifactStore.from_uri(uri)
    assert store.root == Path(expected)
    assert repr(store) == f"LocalArtifactStore({expected!r})"


def test_local_from_uri_round_trips_its_own_uris(tmp_path: Path) -> None:
    root = tmp_path / "a b" / "été"
    assert LocalArtifactStore.from_uri(root.as_uri()).root == root


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("file://otherhost/x", "names the host 'otherhost'"),
        ("http://host/x", "not a local artifact store URI"),
    ],
)
def test_local_from_uri_refuses(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LocalArtifactStore.from_uri(uri)


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://my-bucket", "my-bucket", ""),
        ("s3://my-bucket/", "my-bucket", ""),
        ("s3://my.bucket/team/yard/", "my.bucket", "team/yard"),
        ("S3://abc/x", "abc", "x"),
    ],
)
def test_s3_from_uri(uri: str, bucket: str, prefix: str) -> None:
    store = S3ArtifactStore.from_uri(uri, endpoint_url="http://127.0.0.1:9")
    try:
        assert (store.bucket, store.prefix) == (bucket, prefix)
        assert store.uri(UNKNOWN) == f"s3://{bucket}/{prefix + '/' if prefix else ''}objects/00/{'0' * 62}"
        assert "http://127.0.0.1:9" in repr(store)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://ab/x", "'ab' is not a valid S3 bucket name"),
        ("s3://My-Bucket", "'My-Bucket' is not a valid S3 bucket name"),
        ("s3://a..b", "'a..b' is not a valid S3 bucket name"),
        ("s3:///x", "'' is not a valid S3 bucket name"),
        ("s3://-bucket", "is not a valid S3 bucket name"),
        ("s3://bucket/../x", "S3 key prefix '/../x' is not usable"),
        ("s3://bucket/a:b", "S3 key prefix '/a:b' is not usable"),
        ("s3://key:secret@bucket/x", "is not an S3 artifact store URI"),
        ("s3://bucket/x?versionId=1", "is not an S3 artifact store URI"),
        ("file:///x", "is not an S3 artifact store URI"),
    ],
)
def test_s3_from_uri_refuses(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        S3ArtifactStore.from_uri(uri)


@pytest.mark.s3
def test_s3_missing_bucket_is_reported(s3_server: S3Server, s3_client: S3Client) -> None:
    store = S3ArtifactStore("no-such-bucket-here", client=s3_client)
    where = re.escape(f"bucket 'no-such-bucket-here' at {s3_server.endpoint_url}")
    with pytest.raises(StoreUnavailableError, match=f"{where} does not exist") as info:
        store.put(io.BytesIO(b"x"))
    assert "aws s3 mb s3://no-such-bucket-here" in str(info.value)
    with pytest.raises(StoreUnavailableError, match=f"{where} does not exist"):
        store.open(UNKNOWN)
    with pytest.raises(StoreUnavailableError, match=f"{where} does not exist"):
        list(store.list_objects())


@pytest.mark.s3
def test_s3_wrong_credentials_are_reported(s3_server: S3Server, s3_bucket: str) -> None:
    bad = S3Server(
        endpoint_url=s3_server.endpoint_url,
        access_key=s3_server.access_key,
        secret_key="wrong",
        log_path=s3_server.log_path,
    ).client(max_attempts=1)
    try:
        store = S3ArtifactStore(s3_bucket, client=bad)
        with pytest.raises(StoreUnavailableError, match=f"Access to bucket '{s3_bucket}' .* was denied") as info:
            store.open(UNKNOWN)
        assert "AWS_ACCESS_KEY_ID" in str(info.value)
        with pytest.raises(StoreUnavailableError, match="was denied"):
            store.exists(UNKNOWN)
    finally:
        bad.close()


def test_s3_unreachable_endpoint_is_reported(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    client = S3Server(endpoint_url=endpoint, access_key="a", secret_key="b", log_path=tmp_path).client(
        max_attempts=1, timeout_s=2
    )
    try:
        store = S3ArtifactStore("some-bucket", client=client)
        with pytest.raises(StoreUnavailableError, match=f"Cannot reach bucket 'some-bucket' at {endpoint}"):
            store.put(io.BytesIO(b"x"))
        with pytest.raises(StoreUnavailableError, match="MODELYARD_S3_ENDPOINT"):
            store.exists(UNKNOWN)
    finally:
        client.close()


@pytest.mark.s3
def test_s3_prefixes_keep_stores_apart(s3_client: S3Client, s3_bucket: str) -> None:
    one = S3ArtifactStore(s3_bucket, "one", client=s3_client)
    two = S3ArtifactStore(s3_bucket, "/two/deep/", client=s3_client)
    bare = S3ArtifactStore(s3_bucket, client=s3_client)
    stored = one.put(io.BytesIO(b"only in one"))
    assert two.prefix == "two/deep"
    assert not two.exists(stored.digest)
    assert list(two.list_objects()) == []
    assert list(bare.list_objects()) == []  # "one/objects/..." is not under "objects/"
    s3_client.put_object(Bucket=s3_bucket, Key="one/objects/zz/not-a-digest", Body=b"stray")
    assert list(one.list_objects()) == [stored]
    s3_client.delete_object(Bucket=s3_bucket, Key="one/objects/zz/not-a-digest")
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == [f"one/objects/{stored.digest.hex[:2]}/{stored.digest.hex[2:]}"]


@pytest.mark.s3
def test_s3_multipart_upload_round_trips(s3_client: S3Client, s3_bucket: str) -> None:
    size = MULTIPART_THRESHOLD + 5 * MiB
    store = S3ArtifactStore(s3_bucket, client=s3_client)
    with io.BufferedReader(PatternStream(size, seed=3)) as source:
        stored = store.put(source)
    assert (stored.size_bytes, stored.digest) == (size, pattern_digest(size, seed=3))
    assert read_all(store, stored.digest) == (size, stored.digest)
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


@pytest.mark.s3
def test_s3_re_put_refreshes_an_old_object(s3_client: S3Client, s3_bucket: str) -> None:
    store = S3ArtifactStore(s3_bucket, client=s3_client, refresh_after_s=0.5)
    stored = store.put(io.BytesIO(b"keep me"))
    time.sleep(1.6)  # LastModified has one-second resolution
    before = store.age_s(stored.digest)
    assert before >= 1
    store.put(io.BytesIO(b"keep me"))
    assert store.age_s(stored.digest) < before
    with store.open(stored.digest) as reader:
        assert reader.read() == b"keep me"
