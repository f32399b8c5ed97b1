"""Model evaluation: metrics equal scikit-learn's, slices reuse one set of predictions, JSON roundtrips."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeRegressor

from modelyard.errors import InvalidInputError
from modelyard.pipelines.evaluation import Evaluation, SliceMetrics, evaluate_model

ROWS = 400


def _binary_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=ROWS),
            "b": rng.normal(size=ROWS),
            "city": rng.choice(["paris", "lyon", "nice", "metz"], size=ROWS, p=[0.5, 0.4, 0.07, 0.03]),
        }
    )
    frame["y"] = (frame["a"] - 0.5 * frame["b"] + rng.normal(scale=0.8, size=ROWS) > 0).astype(int)
    return frame


def _city_model() -> object:
    encode = ColumnTransformer([("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough")
    return make_pipeline(encode, LogisticRegression())


def _multiclass_frame(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=ROWS), "b": rng.normal(size=ROWS)})
    score = frame["a"] + 0.3 * rng.normal(size=ROWS)
    frame["kind"] = np.where(score > 0.5, "high", np.where(score < -0.5, "low", "mid"))
    frame["region"] = rng.integers(0, 3, size=ROWS)
    return frame


def _regression_frame(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=ROWS), "b": rng.normal(size=ROWS), "zone": rng.integers(0, 4, ROWS)})
    frame["price"] = 3.0 * frame["a"] - frame["b"] + rng.normal(size=ROWS)
    return frame


def _fit(model: object, frame: pd.DataFrame, target: str) -> object:
    model.fit(frame.drop(columns=[target]), frame[target])  # type: ignore[attr-defined]
    return model


class CountingModel:
    """The user's model, counting how often it is asked for predictions."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.calls: dict[str, int] = {"predict": 0, "predict_proba": 0}
        if hasattr(model, "classes_"):
            self.classes_ = model.classes_

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        self.calls["predict"] += 1
        return self.model.predict(features)  # type: ignore[attr-defined, no-any-return]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        self.calls["predict_proba"] += 1
        return self.model.predict_proba(features)  # type: ignore[attr-defined, no-any-return]


def test_the_module_imports_without_pandas_or_sklearn() -> None:
    code = (
        "import sys, modelyard.pipelines.evaluation; print(sorted({'pandas', 'sklearn', 'numpy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_binary_metrics_match_sklearn() -> None:
    frame = _binary_frame()
    model = _fit(_city_model(), frame, "y")
    evaluation = evaluate_model(model, frame, target="y")
    features, y = frame.drop(columns=["y"]), frame["y"]
    predicted, proba = model.predict(features), model.predict_proba(features)[:, 1]  # type: ignore[attr-defined]
    assert evaluation.task == "classification"
    assert evaluation.rows == ROWS
    assert list(evaluation.metrics) == ["accuracy", "f1", "precision", "recall", "auc", "log_loss"]
    assert evaluation.metrics["accuracy"] == pytest.approx(metrics.accuracy_score(y, predicted))
    assert evaluation.metrics["f1"] == pytest.approx(metrics.f1_score(y, predicted))
    assert evaluation.metrics["precision"] == pytest.approx(metrics.precision_score(y, predicted))
    assert evaluation.metrics["recall"] == pytest.approx(metrics.recall_score(y, predicted))
    assert evaluation.metrics["auc"] == pytest.approx(metrics.roc_auc_score(y, proba))
    assert evaluation.metrics["log_loss"] == pytest.approx(metrics.log_loss(y, proba))
    assert all(isinstance(value, float) for value in evaluation.metrics.values())


def test_the_threshold_decides_binary_labels() -> None:
    frame = _binary_frame()
    model = _fit(_city_model(), frame, "y")
    evaluation = evaluate_model(model, frame, target="y", threshold=0.8)
    proba = model.predict_proba(frame.drop(columns=["y"]))[:, 1]  # type: ignore[attr-defined]
    predicted = (proba >= 0.8).astype(int)
    assert evaluation.metrics["recall"] == pytest.approx(metrics.recall_score(frame["y"], predicted))
    assert evaluation.metrics["precision"] == pytest.approx(metrics.precision_score(frame["y"], predicted))
    assert evaluation.metrics["recall"] < evaluate_model(model, frame, target="y").metrics["recall"]


def test_binary_text_labels_use_the_second_sorted_class_as_positive() -> None:
    frame = _binary_frame().assign(y=lambda f: np.where(f["y"] == 1, "yes", "no"))
    model = _fit(_city_model(), frame, "y")
    evaluation = evaluate_model(model, frame, target="y")
    predicted = model.predict(frame.drop(columns=["y"]))  # type: ignore[attr-defined]
    assert evaluation.task == "classification"
    assert evaluation.metrics["f1"] == pytest.approx(metrics.f1_score(frame["y"], predicted, pos_label="yes"))


def test_multiclass_metrics_match_sklearn() -> None:
    frame = _multiclass_frame()
    model = _fit(LogisticRegression(), frame, "kind")
    evaluation = evaluate_model(model, frame, target="kind")
    features, y = frame.drop(columns=["kind"]), frame["kind"]
    predicted, proba = model.predict(features), model.predict_proba(features)  # type: ignore[attr-defined]
    assert evaluation.task == "classification"
    assert evaluation.metrics["accuracy"] == pytest.approx(metrics.accuracy_score(y, predicted))
    assert evaluation.metrics["f1"] == pytest.approx(metrics.f1_score(y, predicted, average="macro"))
    assert evaluation.metrics["precision"] == pytest.approx(metrics.precision_score(y, predicted, average="macro"))
    assert evaluation.metrics["recall"] == pytest.approx(metrics.recall_score(y, predicted, average="macro"))
    assert evaluation.metrics["auc"] == pytest.approx(metrics.roc_auc_score(y, proba, multi_class="ovr"))
    assert evaluation.metrics["log_loss"] == pytest.approx(metrics.log_loss(y, proba))


def test_a_model_without_probabilities_gets_no_auc_or_log_loss() -> None:
    frame = _multiclass_frame()
    model = _fit(RidgeClassifier(), frame, "kind")
    evaluation = evaluate_model(model, frame, target="kind")
    predicted = model.predict(frame.drop(columns=["kind"]))  # type: ignore[attr-defined]
    assert list(evaluation.metrics) == ["accuracy", "f1", "precision", "recall"]
    assert evaluation.metrics["f1"] == pytest.approx(metrics.f1_score(frame["kind"], predicted, average="macro"))


def test_regression_metrics_match_sklearn() -> None:
    frame = _regression_frame()
    model = _fit(DecisionTreeRegressor(max_depth=4, random_state=0), frame, "price")
    evaluation = evaluate_model(model, frame, target="price")
    y, predicted = frame["price"], model.predict(frame.drop(columns=["price"]))  # type: ignore[attr-defined]
    assert evaluation.task == "regression"
    assert list(evaluation.metrics) == ["rmse", "mae", "r2"]
    assert evaluation.metrics["rmse"] == pytest.approx(math.sqrt(metrics.mean_squared_error(y, predicted)))
    assert evaluation.metrics["mae"] == pytest.approx(metrics.mean_absolute_error(y, predicted))
    assert evaluation.metrics["r2"] == pytest.approx(metrics.r2_score(y, predicted))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (np.arange(40) % 3, "classification"),
        (np.arange(40) % 2 == 0, "classification"),
        (np.where(np.arange(40) % 2 == 0, "a", "b"), "classification"),
        (np.arange(40), "regression"),
        ((np.arange(40) % 2).astype(float), "regression"),
    ],
    ids=["few-integers", "booleans", "text", "many-integers", "floats"],
)
def test_auto_infers_the_task_from_the_target(target: np.ndarray, expected: str) -> None:
    frame = pd.DataFrame({"x": np.arange(40, dtype=float), "t": target})
    model = _fit(LogisticRegression() if expected == "classification" else LinearRegression(), frame, "t")
    assert evaluate_model(model, frame, target="t").task == expected


def test_an_explicit_task_overrides_inference() -> None:
    frame = pd.DataFrame({"x": np.arange(40, dtype=float), "t": np.arange(40) % 3})
    model = _fit(LinearRegression(), frame, "t")
    assert evaluate_model(model, frame, target="t", task="regression").task == "regression"


def test_slices_match_sklearn_on_their_rows_and_small_ones_are_skipped() -> None:
    frame = _binary_frame()
    model = _fit(_city_model(), frame, "y")
    evaluation = evaluate_model(model, frame, target="y", slices=["city"], min_slice_rows=30)
    counts = frame["city"].value_counts()
    kept = sorted(city for city, rows in counts.items() if rows >= 30)
    assert [s.value for s in evaluation.slices] == kept
    assert evaluation.skipped_slices == len(counts) - len(kept)
    assert evaluation.skipped_slices >= 1
    for found in evaluation.slices:
        rows = frame[frame["city"] == found.value]
        predicted = model.predict(rows.drop(columns=["y"]))  # type: ignore[attr-defined]
        assert found.column == "city"
        assert found.rows == len(rows)
        assert found.metrics["f1"] == pytest.approx(metrics.f1_score(rows["y"], predicted))
        assert found.metrics["accuracy"] == pytest.approx(metrics.accuracy_score(rows["y"], predicted))


def test_min_slice_rows_decides_which_slices_are_kept() -> None:
    frame = _binary_frame()
    model = _fit(_city_model(), frame, "y")
    every = evaluate_model(model, frame, target="y", slices=["city"], min_slice_rows=1)
    none = evaluate_model(model, frame, target="y", slices=["city"], min_slice_rows=ROWS + 1)
    assert (len(every.slices), every.skipped_slices) == (4, 0)
    assert (len(none.slices), none.skipped_slices) == (0, 4)


def test_a_slice_with_one_class_has_no_auc() -> None:
    frame = _binary_frame()
    frame["sign"] = np.where(frame["y"] == 1, "pos", "neg")  # each slice holds one class
    model = _fit(_city_model(), frame.drop(columns=["sign"]), "y")
    wrapped = _PassColumns(model, drop=["sign"])
    evaluation = evaluate_model(wrapped, frame, target="y", slices=["sign"])
    assert "auc" in evaluation.metrics
    assert [s.value for s in evaluation.slices] == ["neg", "pos"]
    assert all("auc" not in s.metrics and "accuracy" in s.metrics for s in evaluation.slices)


class _PassColumns:
    """A user's model that ignores some columns of its input."""

    def __init__(self, model: object, drop: list[str]) -> None:
        self.model, self.drop = model, drop
        if hasattr(model, "classes_"):
            self.classes_ = model.classes_

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.model.predict(features.drop(columns=self.drop))  # type: ignore[attr-defined, no-any-return]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(features.drop(columns=self.drop))  # type: ignore[attr-defined, no-any-return]


def test_regression_slices_of_one_row_have_no_r2() -> None:
    frame = _regression_frame().head(40).assign(row=np.arange(40))
    model = _fit(LinearRegression(), frame, "price")
    evaluation = evaluate_model(model, frame, target="price", slices=["row"], min_slice_rows=1)
    assert len(evaluation.slices) == 40
    assert all(list(s.metrics) == ["rmse", "mae"] for s in evaluation.slices)


def test_predictions_are_computed_once_for_all_slices() -> None:
    frame = _multiclass_frame()
    model = CountingModel(_fit(LogisticRegression(), frame, "kind"))
    evaluation = evaluate_model(model, frame, target="kind", slices=["region", "kind"], min_slice_rows=5)
    assert len(evaluation.slices) == 6
    assert model.calls == {"predict": 1, "predict_proba": 1}


def test_binary_predictions_come_from_one_predict_proba_call() -> None:
    frame = _binary_frame()
    model = CountingModel(_fit(_city_model(), frame, "y"))
    evaluate_model(model, frame, target="y", slices=["city"])
    assert model.calls == {"predict": 0, "predict_proba": 1}


def test_regression_predictions_are_computed_once() -> None:
    frame = _regression_frame()
    model = CountingModel(_fit(LinearRegression(), frame, "price"))
    evaluate_model(model, frame, target="price", slices=["zone"])
    assert model.calls["predict"] == 1


def test_json_roundtrips_exactly() -> None:
    frame = _binary_frame()
    evaluation = evaluate_model(_fit(_city_model(), frame, "y"), frame, target="y", slices=["city"])
    data = evaluation.to_json()
    assert Evaluation.from_json(data) == evaluation
    assert Evaluation.from_json(json.loads(json.dumps(data))) == evaluation
    assert isinstance(data["slices"], list)
    assert data["skipped_slices"] == evaluation.skipped_slices


def test_json_of_a_hand_made_evaluation() -> None:
    evaluation = Evaluation(
        task="regression",
        rows=3,
        metrics={"rmse": 0.1 + 0.2, "mae": 1e-17},
        slices=(SliceMetrics(column="zone", value="1", rows=2, metrics={"rmse": 1 / 3}),),
        skipped_slices=1,
    )
    assert Evaluation.from_json(json.loads(json.dumps(evaluation.to_json()))) == evaluation


def test_from_json_refuses_other_data() -> None:
    with pytest.raises(InvalidInputError, match="Not a stored evaluation"):
        Evaluation.from_json({"task": "ranking", "rows": 1, "metrics": {}})


def test_evaluation_errors_say_what_to_do() -> None:
    frame = _regression_frame()
    model = _fit(LinearRegression(), frame, "price")
    with pytest.raises(InvalidInputError, match=r"Target column 'prise' is not in the frame\. Did you mean 'price'"):
        evaluate_model(model, frame, target="prise")
    with pytest.raises(InvalidInputError, match=r"Slice column 'zones' is not in the frame\. Did you mean 'zone'"):
        evaluate_model(model, frame, target="price", slices=["zones"])
    with pytest.raises(InvalidInputError, match="has no rows"):
        evaluate_model(model, frame.head(0), target="price")
    with pytest.raises(InvalidInputError, match=r"Unknown task 'regresion'\. Did you mean 'regression'"):
        evaluate_model(model, frame, target="price", task="regresion")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"threshold must be a probability between 0 and 1, got 1\.5"):
        evaluate_model(model, frame, target="price", threshold=1.5)
    with pytest.raises(InvalidInputError, match="min_slice_rows must be a positive integer, got 0"):
        evaluate_model(model, frame, target="price", min_slice_rows=0)


def test_bad_targets_and_models_are_refused() -> None:
    frame = _regression_frame()
    model = _fit(LinearRegression(), frame, "price")
    with_gap = frame.assign(price=frame["price"].where(frame.index != 3))
    with pytest.raises(InvalidInputError, match="Target 'price' has 1 missing value"):
        evaluate_model(model, with_gap, target="price")
    words = frame.assign(price=np.where(frame["price"] > 0, "up", "down"))
    with pytest.raises(InvalidInputError, match=r"not numeric \(str\), so it cannot be a regression target"):
        evaluate_model(model, words, target="price", task="regression")
    with pytest.raises(InvalidInputError, match=r"The model \(str\) has no predict\(\) method"):
        evaluate_model("not a model", frame, target="price")
    with pytest.raises(InvalidInputError, match=r"returned 2 value\(s\) for 400 row\(s\)"):
        evaluate_model(_Short(), frame, target="price")


class _Short:
    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return np.zeros(2)


def test_slices_of_values_that_cannot_be_sorted_keep_their_order() -> None:
    frame = _regression_frame().head(40).assign(mixed=pd.Series([pd.Timestamp("2024-01-01"), 3] * 20, dtype=object))
    model = _fit(LinearRegression(), frame.drop(columns=["mixed"]), "price")
    evaluation = evaluate_model(
        _PassColumns(model, drop=["mixed"]), frame, target="price", slices=["mixed"], min_slice_rows=10
    )
    assert [(s.value, s.rows) for s in evaluation.slices] == [("2024-01-01 00:00:00", 20), ("3", 20)]


def test_multiclass_auc_of_a_slice_averages_the_classes_present() -> None:
    frame = _multiclass_frame()
    model = _fit(LogisticRegression(), frame, "kind")
    rows = frame[frame["kind"] != "low"]
    evaluation = evaluate_model(model, rows, target="kind")
    proba = model.predict_proba(rows.drop(columns=["kind"]))  # type: ignore[attr-defined]
    classes = list(model.classes_)  # type: ignore[attr-defined]
    expected = np.mean(
        [metrics.roc_auc_score(rows["kind"] == label, proba[:, classes.index(label)]) for label in ("high", "mid")]
    )
    assert evaluation.metrics["auc"] == pytest.approx(expected)
    assert evaluation.metrics["log_loss"] == pytest.approx(metrics.log_loss(rows["kind"], proba, labels=classes))


def test_rows_with_a_class_the_model_never_saw_get_no_log_loss() -> None:
    frame = _multiclass_frame()
    model = _fit(LogisticRegression(), frame, "kind")
    unseen = frame.assign(kind=frame["kind"].where(frame.index % 10 != 0, "other"))
    evaluation = evaluate_model(model, unseen, target="kind")
    assert "log_loss" not in evaluation.metrics
    assert "auc" in evaluation.metrics


class _NoClasses:
    """A user's classifier with predict_proba but no classes_ attribute."""

    def __init__(self, model: object, width: int) -> None:
        self.model, self.width = model, width

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.model.predict(features)  # type: ignore[attr-defined, no-any-return]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        proba = self.model.predict_proba(features)  # type: ignore[attr-defined]
        return proba[:, : self.width]  # type: ignore[no-any-return]


def test_without_classes_the_sorted_target_values_name_the_columns() -> None:
    frame = _binary_frame()
    model = _fit(_city_model(), frame, "y")
    assert evaluate_model(_NoClasses(model, 2), frame, target="y") == evaluate_model(model, frame, target="y")
    with pytest.raises(InvalidInputError, match=r"predict_proba\(\) returned shape \(400, 1\) for 2 classes"):
        evaluate_model(_NoClasses(model, 1), frame, target="y")
