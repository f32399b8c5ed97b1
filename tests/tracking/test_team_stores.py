"""The team setup: PostgreSQL metadata + S3 artifacts (SeaweedFS on loopback), the same API end to end."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.config import resolve_settings
from modelyard.errors import IntegrityError
from modelyard.stores.maintenance import fsck
from tests.fixtures.s3 import S3Server


@pytest.mark.postgres
@pytest.mark.s3
def test_postgres_and_s3_track_runs_and_files(
    pg_uri_factory: Callable[[], str],
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = resolve_settings(
        pg_uri_factory(), artifacts=f"s3://{s3_bucket}/team", s3_endpoint=s3_server.endpoint_url, env={}
    )
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3_000_000))
    with Client(settings=settings) as client:
        with client.start_run("team", tags={"owner": "ops"}) as run:
            client.log_params({"lr": 0.01})
            client.log_metrics({"auc": 0.8}, step=1)
            client.log_artifact(weights, name="model/weights.bin")
        record = client.get_run(run.id)
        assert record.params == {"lr": "0.01"}
        assert record.metric("auc") == 0.8
        assert client.artifacts.uri(client.list_artifacts(run.id)[0].digest).startswith(f"s3://{s3_bucket}/team/")
        got = client.download_artifacts(run.id, "model", tmp_path / "out")
        assert (got / "weights.bin").read_bytes() == weights.read_bytes()
        assert fsck(client.metadata, client.artifacts).is_clean
        # Corrupt the object behind the store's back: downloads refuse it and fsck names the run.
        (entry,) = client.list_artifacts(run.id)
        key = f"team/objects/{entry.digest.hex[:2]}/{entry.digest.hex[2:]}"
        raw = s3_server.client()
        body = bytearray(raw.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
        body[1000] ^= 0x01
        raw.put_object(Bucket=s3_bucket, Key=key, Body=bytes(body))
        with pytest.raises(IntegrityError, match=entry.digest.hex):
            client.download_artifacts(run.id, "model", tmp_path / "again")
        report = fsck(client.metadata, client.artifacts)
        assert [p.kind for p in report.problems] == ["corrupt"]
        assert report.problems[0].referenced_by == (f"run {run.id} artifact model/weights.bin",)
