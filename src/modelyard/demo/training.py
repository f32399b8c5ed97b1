"""The demo's training pipeline: validate, load, split by month, train, evaluate, check, register, promote.

One pipeline over a version of the ``flights`` dataset (flights joined with hourly weather and planes):
the dataset's data tests run first and stop the run with their report when the data is broken; the months
before ``test_month`` train a gradient-boosting model, ``test_month`` tests it; the post-train checks
compare it with the model behind ``flights-delay@production`` on the same rows; the model is registered,
and the alias moves only when the checks pass. Every step is cached: a re-run on the same data and code
restores the outputs without training again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import modelyard as my
from modelyard.data.models import DatasetVersion
from modelyard.demo.flights import CATEGORICAL, NUMERIC, TARGET
from modelyard.pipelines import builtins as yard
from modelyard.pipelines.gates import NoRegression, SliceCheck, Threshold

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MODEL", "PIPELINE", "train", "training"]

MODEL = "flights-delay"
PIPELINE = "flights-training"


def _features() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    return ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), NUMERIC),
            (
                "cat",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=50, sparse_output=False),
                CATEGORICAL,
            ),
        ]
    )


@my.step
def train(frame: pd.DataFrame, learning_rate: float = 0.1, max_leaf_nodes: int = 31, max_iter: int = 200) -> Any:
    """Fit a gradient-boosting classifier (scikit-learn's histogram boosting) on the weather and plane features."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    booster = HistGradientBoostingClassifier(
        learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes, max_iter=max_iter, random_state=0
    )
    model = Pipeline([("features", _features()), ("model", booster)])
    model.fit(frame.drop(columns=[TARGET]), frame[TARGET])
    return model


@my.pipeline(name=PIPELINE)
def training(
    data: DatasetVersion | str = "flights@q1",
    test_month: int = 4,
    min_auc: float = 0.6,
    alias: str = "production",
) -> None:
    """Train on the months before ``test_month`` of ``data``, test on ``test_month``, promote if it is no worse."""
    checked = yard.validate(data)
    frame = yard.load_dataset(checked)
    train_set, test_set = yard.split(frame, method="time", by="month", cutoff=test_month)
    model = train(train_set)
    yard.evaluate(model, test_set, target=TARGET, slices=["origin"])
    report = yard.check_model(
        model,
        test_set,
        target=TARGET,
        champion=f"{MODEL}@{alias}",
        thresholds=[Threshold(metric="auc", min=min_auc)],
        no_regression=[NoRegression(metric="auc", tolerance=0.002)],
        slices=[SliceCheck(column="origin", metric="auc", min=min_auc - 0.05)],
    )
    version = yard.register(model, name=MODEL)
    yard.promote(version, report, alias=alias)
