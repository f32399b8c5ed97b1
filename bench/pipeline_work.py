"""The workload of the pipeline benchmark: three plain functions, shared by both sides (no modelyard, no DVC).

``prepare -> train -> evaluate`` on a synthetic tabular classification frame:

- ``prepare(rows, seed)``: ``rows`` x 20 float64 features (``f00`` .. ``f19``) and an int8 ``label``, drawn from
  a seeded ``numpy`` PCG64 generator; the label follows a logistic model with a few interactions (so depth
  matters) and noise. The coefficients depend on ``seed`` only, so every ``rows`` shares one concept.
- ``train(frame, max_depth)``: a ``HistGradientBoostingClassifier`` (100 iterations, no early stopping,
  ``random_state=0``: deterministic) on the training rows; about 1 s at 200,000 rows on 2 cores.
- ``evaluate(model, frame, threshold)``: ROC AUC and the accuracy at ``threshold`` on the held-out rows.

``train`` and ``evaluate`` both take the whole frame and pick their rows with ``split`` (every 5th row is held
out), so the artifacts passed between steps are the frame and the model only.

The protocol of the benchmark is here too, so both tools run the same sequence: ``default_params(rows)`` (the
``params.yaml`` of the DVC side), ``schedule(rows)`` (every timed run in order: its phase, the full parameters
and the steps that must run again) and ``LIBRARIES`` (the anchor's venv pins these to the versions of the
project's venv, so both sides compute the same numbers). Importing this module imports only the standard
library; numpy, pandas and scikit-learn are imported by the functions that need them.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas
    from sklearn.ensemble import HistGradientBoostingClassifier

ROWS = 200_000
SEED = 20261101
FEATURES = 20
FEATURE_COLUMNS = [f"f{i:02d}" for i in range(FEATURES)]
LABEL = "label"
HOLDOUT_EVERY = 5  # row i is held out when i % 5 == 0: 20% for evaluate, 80% for train
STAGES = ("prepare", "train", "evaluate")

MAX_DEPTH = 6
THRESHOLD = 0.5
NOOP_RUNS = 5
THRESHOLDS = (0.4, 0.45, 0.55)  # evaluate.threshold, one run each; never a value seen before (no run cache hits)
MAX_DEPTHS = (5, 7, 8)  # train.max_depth, one run each, with evaluate.threshold left at THRESHOLDS[-1]

LIBRARIES = ("numpy", "pandas", "pyarrow", "scipy", "scikit-learn")  # what the three functions compute with


def default_params(rows: int = ROWS) -> dict[str, dict[str, Any]]:
    """The parameters of the first run, by step (DVC's ``params.yaml``)."""
    return {
        "prepare": {"rows": rows, "seed": SEED},
        "train": {"max_depth": MAX_DEPTH},
        "evaluate": {"threshold": THRESHOLD},
    }


@dataclass(frozen=True, slots=True)
class Run:
    """One timed run of the pipeline: which figure it belongs to, its parameters, the steps that must run."""

    phase: str  # "first", "noop", "last_param", "train_param"
    params: dict[str, dict[str, Any]]
    reruns: tuple[str, ...]


def schedule(rows: int = ROWS) -> list[Run]:
    """Every timed run of the benchmark, in order; both tools run exactly this sequence."""
    params = default_params(rows)
    runs = [Run("first", copy.deepcopy(params), STAGES)]
    runs += [Run("noop", copy.deepcopy(params), ()) for _ in range(NOOP_RUNS)]
    for threshold in THRESHOLDS:
        params["evaluate"]["threshold"] = threshold
        runs.append(Run("last_param", copy.deepcopy(params), ("evaluate",)))
    for depth in MAX_DEPTHS:
        params["train"]["max_depth"] = depth
        runs.append(Run("train_param", copy.deepcopy(params), ("train", "evaluate")))
    return runs


def library_versions() -> dict[str, str]:
    """The installed versions of ``LIBRARIES`` (raises ``PackageNotFoundError`` when one is missing)."""
    return {name: importlib.metadata.version(name) for name in LIBRARIES}


def prepare(rows: int = ROWS, seed: int = SEED) -> pandas.DataFrame:
    """A synthetic classification frame: ``rows`` x ``FEATURE_COLUMNS`` (float64) and ``LABEL`` (int8, 0/1)."""
    import numpy as np
    import pandas as pd

    concept = np.random.default_rng([seed, 0])  # the coefficients: the same for every ``rows``
    weights = concept.normal(0.0, 1.0, FEATURES) * (concept.random(FEATURES) < 0.6)
    scales = concept.uniform(0.5, 5.0, FEATURES)
    offsets = concept.normal(0.0, 3.0, FEATURES)

    rng = np.random.default_rng([seed, 1])
    z = rng.standard_normal((rows, FEATURES))
    logit = 0.5 * (z @ weights) + 0.8 * z[:, 0] * z[:, 1] + np.sin(2.0 * z[:, 2]) - 0.5 * np.abs(z[:, 3])
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    x = z * scales + offsets  # what the model sees: features on different scales
    frame = pd.DataFrame(x, columns=FEATURE_COLUMNS)
    frame[LABEL] = label
    return frame


def split(frame: pandas.DataFrame) -> tuple[pandas.DataFrame, pandas.DataFrame]:
    """(training rows, held-out rows): every ``HOLDOUT_EVERY``-th row by position is held out."""
    import numpy as np

    held_out = np.arange(len(frame)) % HOLDOUT_EVERY == 0
    return frame.iloc[~held_out], frame.iloc[held_out]


def train(frame: pandas.DataFrame, max_depth: int = MAX_DEPTH) -> HistGradientBoostingClassifier:
    """Fit the model on the training rows of ``frame`` (deterministic: fixed ``random_state``, no early stop)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rows, _ = split(frame)
    model = HistGradientBoostingClassifier(max_depth=max_depth, max_iter=100, early_stopping=False, random_state=0)
    return model.fit(rows[FEATURE_COLUMNS], rows[LABEL])


def evaluate(
    model: HistGradientBoostingClassifier, frame: pandas.DataFrame, threshold: float = THRESHOLD
) -> dict[str, Any]:
    """Metrics on the held-out rows of ``frame``: ROC AUC, accuracy and positive rate at ``threshold``."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    _, rows = split(frame)
    truth = rows[LABEL].to_numpy()
    score = model.predict_proba(rows[FEATURE_COLUMNS])[:, 1]
    predicted = score >= threshold
    return {
        "auc": float(roc_auc_score(truth, score)),
        "accuracy": float(np.mean(predicted == truth)),
        "positive_rate": float(np.mean(predicted)),
        "threshold": float(threshold),
        "rows": len(rows),
    }


def digest(frame: pandas.DataFrame) -> str:
    """A sha256 of the frame's column names, dtypes and values: both sides must prepare the same bytes."""
    h = hashlib.sha256()
    for name in frame.columns:
        column = frame[name].to_numpy()
        h.update(f"{name}:{column.dtype.str}:{len(column)};".encode())
        h.update(column.tobytes())
    return h.hexdigest()
