"""Model evaluation on a DataFrame: overall and per-slice metrics (the core of the built-in evaluate step).

>>> from modelyard.pipelines.evaluation import evaluate_model
>>> evaluation = evaluate_model(model, test, target="delayed", slices=["carrier"])
>>> evaluation.metrics["auc"], [(s.value, s.metrics["f1"]) for s in evaluation.slices]

The model is any fitted object with a scikit-learn-like ``predict`` (and, for classifiers, optionally
``predict_proba`` and ``classes_``). It is asked for its predictions once per evaluation; the metrics of every
slice are computed from those same predictions. An ``Evaluation`` is an in-process record; ``to_json`` and
``from_json`` turn it into the plain dictionary stored as a run's JSON artifact and back, exactly.

pandas, NumPy and scikit-learn are imported when an evaluation runs, never when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from modelyard.errors import InvalidInputError, close_matches
from modelyard.pipelines.models import JsonRecord

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "REGRESSION_METRICS",
    "Evaluation",
    "SliceMetrics",
    "Task",
    "evaluate_model",
]

Task = Literal["classification", "regression"]
CLASSIFICATION_METRICS: tuple[str, ...] = ("accuracy", "f1", "precision", "recall", "auc", "log_loss")
REGRESSION_METRICS: tuple[str, ...] = ("rmse", "mae", "r2")
LOWER_IS_BETTER: frozenset[str] = frozenset({"rmse", "mae", "log_loss"})
_TASKS = ("auto", "classification", "regression")
_MAX_CLASSES = 20  # an integer target with more distinct values than this is taken for a regression target


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceMetrics:
    """The metrics of the rows that share one value of a slice column.

    Attributes:
        column: the slice column.
        value: the value, as text (``str(value)``; a missing value reads ``nan``).
        rows: how many rows have it.
        metrics: metric name -> value, the same names as the overall metrics (some may be missing, e.g.
            ``auc`` when the slice holds a single class).
    """

    column: str
    value: str
    rows: int
    metrics: dict[str, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation(JsonRecord):
    """The result of ``evaluate_model``: the task, the overall metrics and the metrics of each slice.

    Attributes:
        task: ``"classification"`` or ``"regression"`` (never ``"auto"``: the inferred task is recorded).
        rows: how many rows were evaluated.
        metrics: metric name -> value over all rows.
        slices: one entry per (slice column, value) with at least ``min_slice_rows`` rows, in the order of the
            slice columns, then of the sorted values.
        skipped_slices: how many (slice column, value) pairs had fewer rows and were left out.
    """

    task: Task
    rows: int
    metrics: dict[str, float]
    slices: tuple[SliceMetrics, ...] = ()
    skipped_slices: int = 0
    record_name: ClassVar[str] = "evaluation"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Predictions:
    """The model's answers for a set of rows, kept so each slice reuses them."""

    task: Task
    y_true: npt.NDArray[Any]
    predicted: npt.NDArray[Any]  # class labels (classification) or values (regression)
    proba: npt.NDArray[Any] | None = None  # one column per class, in the order of ``classes``
    classes: npt.NDArray[Any] | None = None

    def take(self, positions: npt.NDArray[Any]) -> _Predictions:
        proba = None if self.proba is None else self.proba[positions]
        return _Predictions(
            task=self.task,
            y_true=self.y_true[positions],
            predicted=self.predicted[positions],
            proba=proba,
            classes=self.classes,
        )


def evaluate_model(
    model: object,
    frame: pd.DataFrame,
    *,
    target: str,
    task: Literal["auto", "classification", "regression"] = "auto",
    slices: Sequence[str] = (),
    threshold: float = 0.5,
    min_slice_rows: int = 30,
) -> Evaluation:
    """Evaluate a fitted model on the rows of ``frame``, overall and per slice.

    The model sees ``frame.drop(columns=[target])``. ``task="auto"`` takes a target of booleans, text or
    categories, or of integers with at most 20 distinct values, for classification; any other numeric target
    (floats included, even when they hold whole numbers) is a regression target.

    Classification metrics: ``accuracy``, ``f1``, ``precision``, ``recall`` (binary: of the positive class,
    the second of the sorted classes, such as 1 or True; multiclass: macro averages over the classes present
    in the rows or the predictions), and with ``predict_proba``: ``auc`` (binary: ROC AUC of the positive
    class; multiclass: one-vs-rest macro average over the classes present; left out when the rows hold one
    class) and ``log_loss`` (left out when the rows hold a class the model does not know). A binary model
    with ``predict_proba`` predicts the positive class when its probability is at least ``threshold``;
    otherwise the labels come from ``predict``. Regression metrics: ``rmse``, ``mae`` and ``r2`` (``r2``
    needs two rows).

    Args:
        model: a fitted model with ``predict`` (and optionally ``predict_proba`` and ``classes_``).
        frame: the rows to evaluate on, target column included.
        target: the target column.
        task: ``"classification"``, ``"regression"`` or ``"auto"`` (inferred from the target, see above).
        slices: columns whose distinct values each get their own metrics (a single name is one column).
        threshold: the positive-class probability from which a binary classifier predicts the positive class.
        min_slice_rows: slices with fewer rows are skipped (and counted in ``skipped_slices``).

    Returns:
        The task, the overall metrics and the metrics per slice.

    Raises:
        InvalidInputError: an empty frame, ``target`` or a slice column not in it, a target with missing values,
            a non-numeric regression target, a bad ``threshold`` or ``min_slice_rows``, or a model whose
            predictions do not fit the rows.

    Example:
        >>> evaluation = evaluate_model(model, test, target="price", slices=["city"], min_slice_rows=50)
        >>> evaluation.task, round(evaluation.metrics["rmse"], 2), evaluation.skipped_slices
        ('regression', 12.34, 3)

    Added in 0.2.
    """
    slice_columns = _check_arguments(frame, target=target, task=task, slices=slices)
    _check_numbers(threshold=threshold, min_slice_rows=min_slice_rows)
    resolved = _resolve_task(frame[target], task, target)
    predictions = _predict(model, frame, target=target, task=resolved, threshold=threshold)
    found, skipped = _slice_metrics(frame, slice_columns, predictions, min_slice_rows)
    return Evaluation(
        task=resolved, rows=len(frame), metrics=_metrics(predictions), slices=found, skipped_slices=skipped
    )


def _check_arguments(frame: pd.DataFrame, *, target: str, task: str, slices: Sequence[str]) -> tuple[str, ...]:
    if task not in _TASKS:
        raise InvalidInputError(
            f"Unknown task {task!r}.{close_matches(task, _TASKS)}",
            hint="Use task='classification', 'regression' or 'auto'.",
        )
    if len(frame) == 0:
        raise InvalidInputError("The frame to evaluate on has no rows.", hint="Pass the test rows of a split.")
    names = [str(column) for column in frame.columns]
    slice_columns = tuple(dict.fromkeys([slices] if isinstance(slices, str) else slices))
    for column in (target, *slice_columns):
        if column not in frame.columns:
            role = "Target" if column == target else "Slice"
            raise InvalidInputError(
                f"{role} column {column!r} is not in the frame.{close_matches(column, names)}",
                hint=f"Pass one of the frame's columns (it has {len(names)}).",
            )
    return slice_columns


def _check_numbers(*, threshold: float, min_slice_rows: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise InvalidInputError(
            f"threshold must be a probability between 0 and 1, got {threshold!r}.",
            hint="Pass the positive-class probability to predict from, such as threshold=0.5.",
        )
    if isinstance(min_slice_rows, bool) or not isinstance(min_slice_rows, int) or min_slice_rows < 1:
        raise InvalidInputError(
            f"min_slice_rows must be a positive integer, got {min_slice_rows!r}.",
            hint="Pass the smallest number of rows a slice needs, such as min_slice_rows=30.",
        )


def _resolve_task(y: pd.Series[Any], task: str, target: str) -> Task:
    from pandas.api import types

    missing = int(y.isna().sum())
    if missing:
        raise InvalidInputError(
            f"Target {target!r} has {missing} missing value(s).",
            hint=f"Drop the rows with no {target!r} before evaluating.",
        )
    is_numeric = types.is_numeric_dtype(y.dtype) and not types.is_bool_dtype(y.dtype)
    if task == "regression":
        if not is_numeric:
            raise InvalidInputError(
                f"Target {target!r} is not numeric ({y.dtype}), so it cannot be a regression target.",
                hint="Pass task='classification', or convert the target to numbers.",
            )
        return "regression"
    if task == "classification" or not is_numeric:
        return "classification"
    if types.is_integer_dtype(y.dtype) and y.nunique() <= _MAX_CLASSES:
        return "classification"
    return "regression"


def _call(model: object, method: str, features: pd.DataFrame) -> npt.NDArray[Any]:
    import numpy as np

    function = getattr(model, method, None)
    if not callable(function):
        raise InvalidInputError(
            f"The model ({type(model).__name__}) has no {method}() method.",
            hint="Pass a fitted model with a scikit-learn-like predict(features).",
        )
    result = np.asarray(function(features))
    if len(result) != len(features):
        raise InvalidInputError(
            f"{type(model).__name__}.{method}() returned {len(result)} value(s) for {len(features)} row(s).",
            hint=f"Check that {method}() returns one prediction per row of the features.",
        )
    return result


def _predict(model: object, frame: pd.DataFrame, *, target: str, task: Task, threshold: float) -> _Predictions:
    import numpy as np

    features = frame.drop(columns=[target])
    y_true = frame[target].to_numpy()
    if task == "regression":
        predicted = _call(model, "predict", features).astype(float).reshape(len(frame), -1)[:, 0]
        return _Predictions(task=task, y_true=y_true.astype(float), predicted=predicted)
    known = getattr(model, "classes_", None)
    if not callable(getattr(model, "predict_proba", None)):
        predicted = _call(model, "predict", features)
        classes = np.asarray(known) if known is not None else np.unique(np.concatenate([y_true, predicted]))
        return _Predictions(task=task, y_true=y_true, predicted=predicted, classes=classes)
    proba = _call(model, "predict_proba", features)
    classes = np.asarray(known) if known is not None else np.unique(y_true)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise InvalidInputError(
            f"{type(model).__name__}.predict_proba() returned shape {proba.shape} for {len(classes)} classes.",
            hint="Give the model a classes_ attribute listing the classes in the order of its columns.",
        )
    if len(classes) == 2:  # the threshold decides, so predict() is not needed
        predicted = np.where(proba[:, 1] >= threshold, classes[1], classes[0])
    else:
        predicted = _call(model, "predict", features)
    return _Predictions(task=task, y_true=y_true, predicted=predicted, proba=proba, classes=classes)


def _metrics(predictions: _Predictions) -> dict[str, float]:
    from sklearn import metrics

    y_true, predicted = predictions.y_true, predictions.predicted
    if predictions.task == "regression":
        found = {
            "rmse": float(metrics.root_mean_squared_error(y_true, predicted)),
            "mae": float(metrics.mean_absolute_error(y_true, predicted)),
        }
        if len(y_true) >= 2:  # r2 of one row is undefined
            found["r2"] = float(metrics.r2_score(y_true, predicted))
        return found
    return _classification_metrics(predictions)


def _classification_metrics(predictions: _Predictions) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    y_true, predicted, classes = predictions.y_true, predictions.predicted, predictions.classes
    found = {"accuracy": float(metrics.accuracy_score(y_true, predicted))}
    if classes is not None and len(classes) == 2:
        scores = metrics.precision_recall_fscore_support(
            y_true, predicted, labels=[classes[1]], average=None, zero_division=0
        )
        precision, recall, f1 = (float(score[0]) for score in scores[:3])
    else:
        scores = metrics.precision_recall_fscore_support(y_true, predicted, average="macro", zero_division=0)
        precision, recall, f1 = (float(score) for score in scores[:3])
    found.update(f1=f1, precision=precision, recall=recall)
    if predictions.proba is None or classes is None:
        return found
    auc = _auc(y_true, predictions.proba, classes)
    if auc is not None:
        found["auc"] = auc
    if bool(np.isin(y_true, classes).all()):
        found["log_loss"] = float(metrics.log_loss(y_true, predictions.proba, labels=classes))
    return found


def _auc(y_true: npt.NDArray[Any], proba: npt.NDArray[Any], classes: npt.NDArray[Any]) -> float | None:
    """ROC AUC; for several classes the one-vs-rest macro average over the classes present in the rows."""
    import numpy as np
    from sklearn import metrics

    if len(np.unique(y_true)) < 2:
        return None
    if len(classes) == 2:
        return float(metrics.roc_auc_score(y_true == classes[1], proba[:, 1]))
    scores = []
    for column, label in enumerate(classes):
        is_label = y_true == label
        if 0 < int(is_label.sum()) < len(y_true):
            scores.append(float(metrics.roc_auc_score(is_label, proba[:, column])))
    return float(np.mean(scores)) if scores else None


def _slice_metrics(
    frame: pd.DataFrame, columns: Sequence[str], predictions: _Predictions, min_rows: int
) -> tuple[tuple[SliceMetrics, ...], int]:
    import numpy as np
    import pandas as pd

    found: list[SliceMetrics] = []
    skipped = 0
    for column in columns:
        try:
            codes, values = pd.factorize(frame[column], sort=True, use_na_sentinel=False)
        except TypeError:  # values of mixed types cannot be sorted: keep their order of appearance
            codes, values = pd.factorize(frame[column], sort=False, use_na_sentinel=False)
        counts = np.bincount(codes, minlength=len(values))
        groups = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
        for value, positions in zip(values, groups, strict=True):
            if len(positions) < min_rows:
                skipped += 1
                continue
            metrics = _metrics(predictions.take(positions))
            found.append(SliceMetrics(column=column, value=str(value), rows=len(positions), metrics=metrics))
    return tuple(found), skipped
