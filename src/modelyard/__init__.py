"""modelyard: the whole machine-learning loop as one product.

>>> import modelyard as my
>>> with my.start_run(experiment="churn"):            # doctest: +SKIP
...     my.log_params(lr=0.1, depth=6)
...     my.log_metrics({"auc": 0.91})

Names are imported lazily: ``import modelyard`` loads no database driver, dataframe or ML library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "ActiveRun": "modelyard.tracking.runs",
    "Client": "modelyard.client",
    "Experiment": "modelyard.tracking.models",
    "Run": "modelyard.tracking.models",
    "RunPage": "modelyard.tracking.models",
    "RunStatus": "modelyard.tracking.models",
    "active_run": "modelyard._api",
    "autolog": "modelyard.integrations.sklearn",
    "connect": "modelyard._api",
    "download_artifacts": "modelyard._api",
    "end_run": "modelyard._api",
    "flush": "modelyard._api",
    "get_metric_history": "modelyard._api",
    "get_run": "modelyard._api",
    "list_artifacts": "modelyard._api",
    "list_experiments": "modelyard._api",
    "log_artifact": "modelyard._api",
    "log_metric": "modelyard._api",
    "log_metrics": "modelyard._api",
    "log_param": "modelyard._api",
    "log_params": "modelyard._api",
    "search_runs": "modelyard._api",
    "set_tag": "modelyard._api",
    "set_tags": "modelyard._api",
    "start_run": "modelyard._api",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:
    from modelyard._api import (
        active_run,
        connect,
        download_artifacts,
        end_run,
        flush,
        get_metric_history,
        get_run,
        list_artifacts,
        list_experiments,
        log_artifact,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        search_runs,
        set_tag,
        set_tags,
        start_run,
    )
    from modelyard.client import Client
    from modelyard.integrations.sklearn import autolog
    from modelyard.tracking.models import Experiment, Run, RunPage, RunStatus
    from modelyard.tracking.runs import ActiveRun


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
