"""Runs as a pandas DataFrame (pandas is imported only here, only when asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.errors import ConfigError
from modelyard.tracking.models import Run

__all__ = ["runs_to_frame"]


def runs_to_frame(runs: Sequence[Run]) -> Any:
    """One row per run: id, name, status, times, then ``params.*``, ``metrics.*`` (last values), ``tags.*``."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ConfigError(
            "pandas is not installed, so runs cannot be returned as a DataFrame.",
            hint="pip install 'modelyard[pandas]'.",
        ) from exc
    rows: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.id,
            "name": run.name,
            "experiment": run.experiment_name,
            "status": run.status.value,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "parent_id": run.parent_id,
        }
        row.update({f"params.{k}": v for k, v in run.params.items()})
        row.update({f"metrics.{k}": m.last for k, m in run.metrics.items()})
        row.update({f"tags.{k}": v for k, v in run.tags.items()})
        rows.append(row)
    columns = ["run_id", "name", "experiment", "status", "start_time", "end_time", "parent_id"]
    return pd.DataFrame(rows, columns=columns + sorted({k for r in rows for k in r} - set(columns)))
