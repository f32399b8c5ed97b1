"""``SqlMetadataStore``: the metadata store over SQLite or PostgreSQL (SQLAlchemy Core + Alembic)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.engine import Connection

from modelyard.stores.sql.chunks import SqlChunkRepository
from modelyard.stores.sql.datasets import SqlDatasetRepository, SqlDatasetTagRepository
from modelyard.stores.sql.engine import Database
from modelyard.stores.sql.experiments import SqlExperimentRepository
from modelyard.stores.sql.lineage import SqlLineageRepository, SqlSourceRepository
from modelyard.stores.sql.model_registry import SqlAliasRepository, SqlModelRepository
from modelyard.stores.sql.packages import SqlEventRepository, SqlPackageRepository
from modelyard.stores.sql.references import SqlReferenceRepository
from modelyard.stores.sql.runs import SqlRunRepository
from modelyard.stores.sql.step_cache import SqlStepCacheRepository

__all__ = ["SqlMetadataStore"]


class SqlMetadataStore:
    """One SQL database holding every capability's metadata, one small repository per capability."""

    def __init__(self, uri: str) -> None:
        self.db = Database(uri)
        self.db.ensure_schema()
        self.experiments = SqlExperimentRepository(self.db)
        self.runs = SqlRunRepository(self.db)
        self.references = SqlReferenceRepository(self.db)
        self.datasets = SqlDatasetRepository(self.db)
        self.dataset_tags = SqlDatasetTagRepository(self.db)
        self.chunks = SqlChunkRepository(self.db)
        self.lineage = SqlLineageRepository(self.db)
        self.sources = SqlSourceRepository(self.db)
        self.packages = SqlPackageRepository(self.db)
        self.models = SqlModelRepository(self.db)
        self.aliases = SqlAliasRepository(self.db)
        self.events = SqlEventRepository(self.db)
        self.step_cache = SqlStepCacheRepository(self.db)

    @classmethod
    def from_uri(cls, uri: str) -> SqlMetadataStore:
        """Open (and migrate if needed) the store at ``uri``."""
        return cls(uri)

    @property
    def uri(self) -> str:
        """The URI with the password hidden."""
        return self.db.safe_uri

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction spanning repositories."""
        with self.db.write() as conn:
            yield conn

    def close(self) -> None:
        """Release pooled connections."""
        self.db.dispose()
