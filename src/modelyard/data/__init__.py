"""Datasets: named, immutable, content-addressed versions of files and tables, with data tests and lineage.

Owns: datasets and their numbered versions (``Datasets.commit/get/versions``), movable tags with an audited
history, the chunk store (content-defined chunks packed into large objects, ``chunks.py``), manifests,
table profiles (schema and statistics, ``profiles.py``), data tests (``checks.py``), diffs, push/pull
between stores (``sync.py``) and the working-folder stat cache (``status.py``).

Main types: ``Datasets`` (the service behind ``modelyard.datasets``), ``DatasetVersion`` (a version you can
read: ``files()``, ``open()``, ``to_pandas()``, ``checkout()``), ``DataTests`` and its expectations.

Stores used: ``store.datasets``, ``store.dataset_tags``, ``store.chunks``, ``store.lineage``,
``store.sources`` and the artifact store (packs). pyarrow and DuckDB (the ``data`` extra) are imported only
when a table is read, profiled or tested.
"""

from modelyard.data.checks import Column, Custom, DataTests, Expression, Fresh, RowCount, Unique
from modelyard.data.models import (
    CheckPolicy,
    CheckReport,
    CheckResult,
    ColumnProfile,
    DataDiff,
    Dataset,
    DatasetVersion,
    FileEntry,
    LineageEntry,
    SyncReport,
    TableProfile,
    TagEvent,
    VersionStatus,
    WorkStatus,
)

__all__ = [
    "CheckPolicy",
    "CheckReport",
    "CheckResult",
    "Column",
    "ColumnProfile",
    "Custom",
    "DataDiff",
    "DataTests",
    "Dataset",
    "DatasetVersion",
    "Expression",
    "FileEntry",
    "Fresh",
    "LineageEntry",
    "RowCount",
    "SyncReport",
    "TableProfile",
    "TagEvent",
    "Unique",
    "VersionStatus",
    "WorkStatus",
]
