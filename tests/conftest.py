"""Shared fixtures: real backends only (SQLite, PostgreSQL, local files, SeaweedFS S3)."""

pytest_plugins = ["tests.fixtures.s3", "tests.fixtures.artifacts", "tests.fixtures.metadata"]
