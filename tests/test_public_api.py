"""The public surface: a pinned __all__, a light import, every name resolvable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import modelyard

EXPECTED_ALL = [
    "ActiveRun", "Client", "DatasetVersion", "Experiment", "ModelVersion", "PipelineRun", "Predictor", "Run", "RunPage",
    "RunStatus", "__version__",
    "active_run", "autolog", "connect", "datasets", "download_artifacts", "end_run", "events", "flush",
    "get_metric_history", "get_run", "list_artifacts", "list_experiments", "log_artifact", "log_input",
    "log_metric", "log_metrics", "log_model", "log_param",
    "log_params", "models", "pipeline", "register_model", "search_runs", "set_alias", "set_tag", "set_tags",
    "start_run", "step",
]  # fmt: skip


def test_all_is_pinned_sorted_and_resolvable() -> None:
    assert modelyard.__all__ == EXPECTED_ALL
    assert sorted(modelyard.__all__) == modelyard.__all__
    for name in modelyard.__all__:
        assert getattr(modelyard, name) is not None


def test_import_is_light_and_fast() -> None:
    code = (
        "import json, sys, time; t = time.perf_counter(); import modelyard; dt = time.perf_counter() - t; "
        "print(json.dumps({'s': dt, 'mods': sorted(sys.modules)}))"
    )
    best = None
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
        best = result if best is None or result["s"] < best["s"] else best
    assert best is not None
    heavy = {
        "sqlalchemy",
        "pandas",
        "boto3",
        "sklearn",
        "numpy",
        "alembic",
        "pydantic",
        "rich",
        "click",
        "httpx",
    }
    assert not heavy & {m.partition(".")[0] for m in best["mods"]}
    assert best["s"] < 0.2


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        modelyard.nope  # noqa: B018
