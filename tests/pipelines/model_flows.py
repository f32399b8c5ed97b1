"""A real training pipeline over a dataset version, with the built-in steps (module level: workers import it).

Not a test module. The data: two numeric features and a label that depends on the first; ``drift`` flips
the relation so a model trained on it is worse than one trained on clean data.
"""

from __future__ import annotations

from typing import Any

import modelyard as my
from modelyard.data.models import DatasetVersion
from modelyard.pipelines import builtins as yard
from modelyard.pipelines.gates import NoRegression, Threshold


def frame(rows: int = 600, *, seed: int = 0, noise: float = 0.0) -> Any:
    """A table with ``month`` 1-4, features ``a`` and ``b``, label ``y`` (``noise``: share of flipped labels)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = rng.normal(size=rows)
    b = rng.normal(size=rows)
    y = (a + 0.2 * b > 0).astype("int64")
    flip = rng.random(rows) < noise
    y[flip] = 1 - y[flip]
    return pd.DataFrame({"month": np.repeat([1, 2, 3, 4], rows // 4), "a": a, "b": b, "y": y})


@my.step
def fit(train: Any, c: float = 1.0) -> Any:
    """A logistic regression on the features."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c).fit(train.drop(columns=["y"]), train["y"])


@my.pipeline
def gated(data: DatasetVersion | str = "table@latest", c: float = 1.0, min_auc: float = 0.6) -> None:
    checked = yard.validate(data)
    table = yard.load_dataset(checked)
    train_set, test_set = yard.split(table, method="time", by="month", cutoff=4)
    model = fit(train_set, c=c)
    yard.evaluate(model, test_set, target="y")
    report = yard.check_model(
        model, test_set, target="y", champion="clf@production", thresholds=[Threshold(metric="auc", min=min_auc)],
        no_regression=[NoRegression(metric="auc", tolerance=0.0)],
    )  # fmt: skip
    version = yard.register(model, name="clf")
    yard.promote(version, report, alias="production")
