"""``S3ArtifactStore``: content-addressed objects in an S3 bucket (AWS, SeaweedFS, MinIO, Ceph...).

Keys are ``<prefix>/objects/<2 hex>/<62 hex>``. A put spools the stream to a local temporary file while
hashing it (the key depends on the digest, and memory stays bounded), skips the upload when the key already
holds an object of that size, and otherwise uploads with boto3's managed transfer (multipart above 64 MiB,
so a partial upload is never visible under the key), then checks the stored length. Reads stream the body
through a verifying reader. ``boto3`` (the ``s3`` extra) is imported only when a store is created.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

from modelyard.errors import (
    ConfigError,
    IntegrityError,
    ModelyardError,
    NotFoundError,
    StoreError,
    StoreUnavailableError,
    UnsafePathError,
)
from modelyard.ids import Digest
from modelyard.stores.hashing import hash_stream, open_verified
from modelyard.stores.paths import clean_relpath
from modelyard.stores.protocols import StoredObject

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

__all__ = ["S3ArtifactStore"]

_MiB = 1024 * 1024
MULTIPART_THRESHOLD = 64 * _MiB
_PART_SIZE = 16 * _MiB
_MAX_COPY_BYTES = 5 * 1024 * _MiB  # CopyObject's limit
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")
_HEX = re.compile(r"[0-9a-f]{2}/[0-9a-f]{62}")
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"})


def _check_bucket(bucket: str) -> None:
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ConfigError(
            f"{bucket!r} is not a valid S3 bucket name.",
            hint="Bucket names have 3-63 lowercase letters, digits, '.', '-' or '_', starting and ending "
            "with a letter or digit, as in s3://my-bucket/prefix.",
        )


def _clean_prefix(prefix: str) -> str:
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    try:
        return clean_relpath(stripped)
    except UnsafePathError as exc:
        raise ConfigError(f"S3 key prefix {prefix!r} is not usable: {exc.message}", hint=exc.hint) from exc


class _Body:
    """An S3 response body whose network failures surface as modelyard errors."""

    def __init__(self, body: StreamingBody, store: S3ArtifactStore, key: str) -> None:
        self._body = body
        self._store = store
        self._key = key

    def read(self, size: int, /) -> bytes:
        with self._store._translated(f"read {self._key}"):
            return self._body.read(size)

    def close(self) -> None:
        self._body.close()


class S3ArtifactStore:
    """Write-once, content-addressed objects in an S3 bucket.

    Args:
        bucket: the bucket name; it must exist.
        prefix: a key prefix shared by every object, such as ``"team/yard"``.
        endpoint_url: an S3-compatible endpoint such as ``http://127.0.0.1:8333`` (AWS when ``None``).
        client: a ready boto3 S3 client; by default one is made from the environment's credentials.
        refresh_after_s: when a put finds its object already stored and older than this, it rewrites the
            object's timestamp so that a concurrent ``gc`` (which spares young objects) cannot delete it.

    Added in 0.1.

    Example:
        >>> store = S3ArtifactStore.from_uri("s3://my-bucket/yard")  # doctest: +SKIP
        >>> stored = store.put(io.BytesIO(b"hello"))  # doctest: +SKIP
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: S3Client | None = None,
        refresh_after_s: float = 600.0,
    ) -> None:
        _check_bucket(bucket)
        self.bucket = bucket
        self.prefix = _clean_prefix(prefix)
        self._owns_client = client is None
        self._client: S3Client = client if client is not None else _make_client(endpoint_url)
        self._objects = f"{self.prefix}/objects/" if self.prefix else "objects/"
        self._refresh_after_s = refresh_after_s

    @classmethod
    def from_uri(cls, uri: str, *, endpoint_url: str | None = None) -> S3ArtifactStore:
        """Open the store named by ``s3://bucket/prefix``.

        Raises:
            ConfigError: the URI is not ``s3://``, or the bucket name or prefix is invalid.
        """
        parts = urlsplit(uri)
        if parts.scheme.lower() != "s3" or parts.query or parts.fragment or "@" in parts.netloc:
            raise ConfigError(
                f"{uri!r} is not an S3 artifact store URI.", hint="Use s3://bucket or s3://bucket/prefix."
            )
        return cls(parts.netloc, parts.path, endpoint_url=endpoint_url)

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self._location()!r}, endpoint_url={self._endpoint!r})"

    def close(self) -> None:
        """Release the HTTP connections of a client this store created."""
        if self._owns_client:
            self._client.close()

    def put(self, data: BinaryIO) -> StoredObject:
        """Stream ``data`` into the bucket under its digest (a no-op if an object of that size is there).

        Raises:
            StoreUnavailableError: the bucket is missing, access is denied or the endpoint is unreachable.
            IntegrityError: the stored object's length differs from what was sent.
        """
        with tempfile.TemporaryFile(prefix="modelyard-s3-") as spool:
            digest, size = hash_stream(data, spool)
            key = self._key(digest)
            head = self._head(key)
            if head is not None and head["ContentLength"] == size:
                self._refresh(key, head, spool)
                return StoredObject(digest=digest, size_bytes=size)
            self._upload(spool, key)
        head = self._head(key)
        stored = None if head is None else head["ContentLength"]
        if stored != size:
            raise IntegrityError(
                f"Uploading {digest} to s3://{self.bucket}/{key} left {stored} bytes there, expected {size}.",
                hint="Retry; if it happens again, check the S3 service's logs and free space.",
            )
        return StoredObject(digest=digest, size_bytes=size)

    def open(self, digest: Digest) -> BinaryIO:
        """Stream an object; reading to the end raises IntegrityError on corruption or truncation.

        Raises:
            NotFoundError: no object has this digest.
        """
        key = self._key(digest)
        with self._translated(f"read {key}", digest=digest):
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        body = _Body(response["Body"], self, key)
        return open_verified(body, digest, size_bytes=response["ContentLength"])

    def read_range(self, digest: Digest, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` with one ranged GET (callers verify the bytes they read).

        Raises:
            NotFoundError: no object has this digest.
            IntegrityError: the object ends before ``offset + length``.
        """
        if length <= 0:
            return b""
        from botocore.exceptions import ClientError

        key = self._key(digest)
        try:
            with self._translated(f"read {key}", digest=digest):
                response = self._client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
                )
                data = response["Body"].read()
        except StoreError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == "InvalidRange"):
                raise
            data = b""
        if len(data) != length:
            raise IntegrityError(
                f"Object {digest} in {self._location()} is shorter than expected: reading {length} bytes at "
                f"offset {offset} returned {len(data)}.",
                hint="Run `modelyard fsck` to find every damaged object; restore it from a copy.",
            )
        return data

    def exists(self, digest: Digest) -> bool:
        """Whether an object with this digest is stored."""
        return self._head(self._key(digest)) is not None

    def uri(self, digest: Digest) -> str:
        """The object's ``s3://bucket/key`` URI."""
        return f"s3://{self.bucket}/{self._key(digest)}"

    def size(self, digest: Digest) -> int:
        """The stored size in bytes. Raises NotFoundError."""
        return self._head_or_raise(digest)["ContentLength"]

    def age_s(self, digest: Digest) -> float:
        """Seconds since the object was last written or re-put. Raises NotFoundError."""
        modified = self._head_or_raise(digest)["LastModified"]
        return max(0.0, (datetime.now(UTC) - modified).total_seconds())

    def delete(self, digest: Digest) -> None:
        """Remove an object; deleting a missing object is a no-op."""
        key = self._key(digest)
        with self._translated(f"delete {key}"):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def list_objects(self) -> Iterator[StoredObject]:
        """Every stored object, page by page; keys under the prefix that are not digests are skipped."""
        paginator = self._client.get_paginator("list_objects_v2")
        with self._translated(f"list {self._objects}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._objects):
                for item in page.get("Contents", []):
                    rest = item["Key"][len(self._objects) :]
                    if _HEX.fullmatch(rest):
                        yield StoredObject(digest=Digest(rest.replace("/", "")), size_bytes=item["Size"])

    # -- internals -------------------------------------------------------------------------------------------
    def _key(self, digest: Digest) -> str:
        return f"{self._objects}{digest.hex[:2]}/{digest.hex[2:]}"

    def _upload(self, spool: BinaryIO, key: str) -> None:
        from boto3.s3.transfer import TransferConfig

        spool.seek(0)
        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=_PART_SIZE, max_concurrency=4
        )
        with self._translated(f"upload {key}"):
            self._client.upload_fileobj(spool, self.bucket, key, Config=config)

    def _refresh(self, key: str, head: HeadObjectOutputTypeDef, spool: BinaryIO) -> None:
        """Reset an old object's LastModified so a concurrent gc's grace period covers this put."""
        age = (datetime.now(UTC) - head["LastModified"]).total_seconds()
        if age < self._refresh_after_s:
            return
        if head["ContentLength"] > _MAX_COPY_BYTES:
            self._upload(spool, key)
            return
        with self._translated(f"refresh {key}"):
            self._client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
            )

    def _head(self, key: str) -> HeadObjectOutputTypeDef | None:
        from botocore.exceptions import ClientError

        with self._translated(f"look up {key}"):
            try:
                return self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _MISSING_KEY_CODES:
                    return None
                raise

    def _head_or_raise(self, digest: Digest) -> HeadObjectOutputTypeDef:
        head = self._head(self._key(digest))
        if head is None:
            raise self._missing(digest)
        return head

    def _missing(self, digest: Digest) -> NotFoundError:
        return NotFoundError(
            f"Object {digest} is not in the artifact store at {self._location()}.",
            hint="Check the artifact store URI and endpoint; `modelyard fsck` lists every missing object.",
        )

    @property
    def _endpoint(self) -> str:
        return str(self._client.meta.endpoint_url)

    def _location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @contextmanager
    def _translated(self, action: str, *, digest: Digest | None = None) -> Iterator[None]:
        """Turn boto3 failures into modelyard errors that name the bucket, the endpoint and a next step."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            if digest is not None and code in _MISSING_KEY_CODES:
                raise self._missing(digest) from exc
            raise self._error(exc, action) from exc

    def _error(self, exc: Exception, action: str) -> ModelyardError:
        from botocore.exceptions import ClientError, NoCredentialsError

        where = f"bucket {self.bucket!r} at {self._endpoint}"
        cause = exc.__cause__ if isinstance(exc.__cause__, ClientError) else exc
        if isinstance(cause, ClientError):
            code = str(cause.response.get("Error", {}).get("Code", ""))
            detail = cause.response.get("Error", {}).get("Message", "")
            status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code == "NoSuchBucket":
                return StoreUnavailableError(
                    f"The artifact store's {where} does not exist (while trying to {action}).",
                    hint=f"Create it (for example `aws s3 mb s3://{self.bucket}`) or fix the artifact URI.",
                )
            if code in _DENIED_CODES:
                return StoreUnavailableError(
                    f"Access to {where} was denied ({code}) while trying to {action}.",
                    hint="Check the AWS credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and the bucket policy.",
                )
            error_class = StoreUnavailableError if status >= 500 or code == "SlowDown" else StoreError
            return error_class(
                f"S3 refused to {action} in {where}: {code} {detail}".rstrip() + ".",
                hint="Retry later; if it persists, check the S3 service's logs.",
            )
        if isinstance(exc, NoCredentialsError):
            return StoreUnavailableError(
                f"No AWS credentials were found for {where}.",
                hint="Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE.",
            )
        return StoreUnavailableError(
            f"Cannot reach {where} to {action}: {exc}.",
            hint="Check the endpoint URL (MODELYARD_S3_ENDPOINT), that the service is up, and the network.",
        )


def _make_client(endpoint_url: str | None) -> S3Client:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise ConfigError(
            "The S3 artifact store needs boto3, which is not installed.",
            hint="Install the extra: pip install 'modelyard[s3]'.",
        ) from exc
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=120)
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)
