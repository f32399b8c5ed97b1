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
    "DatasetVersion": "modelyard.data.models",
    "Experiment": "modelyard.tracking.models",
    "ModelVersion": "modelyard.registry.models",
    "PipelineRun": "modelyard.pipelines.models",
    "Predictor": "modelyard.registry.packages",
    "Run": "modelyard.tracking.models",
    "RunPage": "modelyard.tracking.models",
    "RunStatus": "modelyard.tracking.models",
    "active_run": "modelyard._api",
    "autolog": "modelyard.integrations.sklearn",
    "connect": "modelyard._api",
    "datasets": "modelyard._api",
    "download_artifacts": "modelyard._api",
    "end_run": "modelyard._api",
    "events": "modelyard._api",
    "flush": "modelyard._api",
    "get_metric_history": "modelyard._api",
    "get_run": "modelyard._api",
    "list_artifacts": "modelyard._api",
    "list_experiments": "modelyard._api",
    "log_artifact": "modelyard._api",
    "log_input": "modelyard._api",
    "log_metric": "modelyard._api",
    "log_metrics": "modelyard._api",
    "log_model": "modelyard._api",
    "log_param": "modelyard._api",
    "log_params": "modelyard._api",
    "models": "modelyard._api",
    "pipeline": "modelyard._api",
    "register_model": "modelyard._api",
    "search_runs": "modelyard._api",
    "set_alias": "modelyard._api",
    "set_tag": "modelyard._api",
    "set_tags": "modelyard._api",
    "start_run": "modelyard._api",
    "step": "modelyard.pipelines.steps",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:
    from modelyard._api import (
        active_run as active_run,
    )
    from modelyard._api import (
        connect as connect,
    )
    from modelyard._api import (
        datasets as datasets,
    )
    from modelyard._api import (
        download_artifacts as download_artifacts,
    )
    from modelyard._api import (
        end_run as end_run,
    )
    from modelyard._api import (
        events as events,
    )
    from modelyard._api import (
        flush as flush,
    )
    from modelyard._api import (
        get_metric_history as get_metric_history,
    )
    from modelyard._api import (
        get_run as get_run,
    )
    from modelyard._api import (
        list_artifacts as list_artifacts,
    )
    from modelyard._api import (
        list_experiments as list_experiments,
    )
    from modelyard._api import (
        log_artifact as log_artifact,
    )
    from modelyard._api import (
        log_input as log_input,
    )
    from modelyard._api import (
        log_metric as log_metric,
    )
    from modelyard._api import (
        log_metrics as log_metrics,
    )
    from modelyard._api import (
        log_model as log_model,
    )
    from modelyard._api import (
        log_param as log_param,
    )
    from modelyard._api import (
        log_params as log_params,
    )
    from modelyard._api import (
        models as models,
    )
    from modelyard._api import (
        pipeline as pipeline,
    )
    from modelyard._api import (
        register_model as register_model,
    )
    from modelyard._api import (
        search_runs as search_runs,
    )
    from modelyard._api import (
        set_alias as set_alias,
    )
    from modelyard._api import (
        set_tag as set_tag,
    )
    from modelyard._api import (
        set_tags as set_tags,
    )
    from modelyard._api import (
        start_run as start_run,
    )
    from modelyard.client import (
        Client as Client,
    )
    from modelyard.data.models import (
        DatasetVersion as DatasetVersion,
    )
    from modelyard.integrations.sklearn import (
        autolog as autolog,
    )
    from modelyard.pipelines.models import (
        PipelineRun as PipelineRun,
    )
    from modelyard.pipelines.steps import (
        step as step,
    )
    from modelyard.registry.models import (
        ModelVersion as ModelVersion,
    )
    from modelyard.registry.packages import (
        Predictor as Predictor,
    )
    from modelyard.tracking.models import (
        Experiment as Experiment,
    )
    from modelyard.tracking.models import (
        Run as Run,
    )
    from modelyard.tracking.models import (
        RunPage as RunPage,
    )
    from modelyard.tracking.models import (
        RunStatus as RunStatus,
    )
    from modelyard.tracking.runs import (
        ActiveRun as ActiveRun,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
