"""Model registry and packaging: safe, content-addressed model packages; versions, aliases and their history.

Owns: model packages (``packages.py``: a flavor's files, signature, input example and requirements under a
manifest whose digest names the package), the flavors (``flavors/``: scikit-learn, XGBoost, LightGBM, ONNX,
PyTorch, pickled Python objects), the one loader guard (``loading.py``), signatures (``signatures.py``),
registered models with race-free version numbers, aliases, tags and an append-only history
(``versions.py``), and the event log (``events.py``).

Main types: ``versions.Models`` (the service behind ``modelyard.models``), ``packages.Predictor`` (a loaded
model: ``predict``, ``predict_proba``), ``ModelInfo`` (what ``log_model`` returns), ``ModelVersion``,
``Signature``. This module exports the records only: the stores import them, and the services import stores.

Stores used: ``store.packages``, ``store.models``, ``store.aliases``, ``store.events`` and the artifact store
(package files). ML libraries are imported only by the flavor that needs them, when it saves or loads.
"""

from modelyard.registry.models import (
    ColumnSpec,
    Event,
    HistoryEntry,
    ModelInfo,
    ModelLineage,
    ModelVersion,
    PackageManifest,
    RegisteredModel,
    Signature,
    TensorSpec,
    TrustGrant,
    VersionStatus,
)

__all__ = [
    "ColumnSpec",
    "Event",
    "HistoryEntry",
    "ModelInfo",
    "ModelLineage",
    "ModelVersion",
    "PackageManifest",
    "RegisteredModel",
    "Signature",
    "TensorSpec",
    "TrustGrant",
    "VersionStatus",
]
