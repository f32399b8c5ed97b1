"""Diffing two versions: files added, removed and changed (by digest), schema and statistics changes."""

from __future__ import annotations

from modelyard.data.manifests import Manifest
from modelyard.data.models import ColumnChange, ColumnProfile, DataDiff, DatasetVersion, FileChange

__all__ = ["diff"]

_COMPARED = ("count", "null_count", "min", "max", "mean", "std", "distinct")
_RELATIVE = 1e-9  # floats equal to this relative precision are the same statistic


def _differs(before: object, after: object) -> bool:
    if isinstance(before, float) and isinstance(after, float):
        scale = max(abs(before), abs(after), 1.0)
        return abs(before - after) > _RELATIVE * scale
    return before != after


def _column_changes(before: ColumnProfile, after: ColumnProfile) -> list[ColumnChange]:
    changes = [
        ColumnChange(column=before.name, statistic=name, before=getattr(before, name), after=getattr(after, name))
        for name in _COMPARED
        if _differs(getattr(before, name), getattr(after, name))
    ]
    if before.top != after.top and before.top is not None and after.top is not None:
        top_before = [value for value, _ in before.top[:5]]
        top_after = [value for value, _ in after.top[:5]]
        if top_before != top_after:
            changes.append(ColumnChange(column=before.name, statistic="top", before=top_before, after=top_after))
    return changes


def diff(a: DatasetVersion, manifest_a: Manifest, b: DatasetVersion, manifest_b: Manifest) -> DataDiff:
    """What changed from ``a`` to ``b``."""
    before = {e.path: e for e in manifest_a.entries}
    after = {e.path: e for e in manifest_b.entries}
    added = [after[p] for p in sorted(after.keys() - before.keys())]
    removed = [before[p] for p in sorted(before.keys() - after.keys())]
    changed = [
        FileChange(path=p, before=before[p], after=after[p])
        for p in sorted(before.keys() & after.keys())
        if before[p].digest != after[p].digest
    ]
    unchanged = len(before.keys() & after.keys()) - len(changed)
    result = DataDiff(a=a.ref, b=b.ref, added=added, removed=removed, changed=changed, unchanged=unchanged)
    if a.profile is None or b.profile is None:
        return result
    types_a, types_b = a.profile.schema_types, b.profile.schema_types
    statistics: list[ColumnChange] = []
    columns_b = {c.name: c for c in b.profile.columns}
    for column in a.profile.columns:
        if column.name in columns_b:
            statistics.extend(_column_changes(column, columns_b[column.name]))
    return DataDiff(
        a=a.ref,
        b=b.ref,
        added=added,
        removed=removed,
        changed=changed,
        unchanged=unchanged,
        rows_before=a.profile.rows,
        rows_after=b.profile.rows,
        columns_added={n: t for n, t in types_b.items() if n not in types_a},
        columns_removed={n: t for n, t in types_a.items() if n not in types_b},
        types_changed={n: (types_a[n], types_b[n]) for n in types_a if n in types_b and types_a[n] != types_b[n]},
        statistics=statistics,
    )
