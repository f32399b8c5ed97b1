"""Post-train model checks ("check model"): metric thresholds, slices, invariances and no regression.

>>> from modelyard.pipelines.gates import Invariance, NoRegression, SliceCheck, Threshold, check_model
>>> report = check_model(
...     model, test, target="delayed",
...     thresholds=[Threshold(metric="auc", min=0.8)],
...     slices=[SliceCheck(column="carrier", metric="f1", max_gap=0.1)],
...     invariances=[Invariance(column="tailnum", change="shuffle", max_changed=0.01)],
...     no_regression=[NoRegression(metric="auc", tolerance=0.005)],
...     baseline=champion, baseline_name="delays v3",
... )
>>> print(report.summary())

Each definition is a frozen record, checked when it is made (an unknown metric, no bound). ``check_model``
runs all of them and returns a ``GateReport`` with one ``GateCheck`` per bound; a failed check never raises,
since whether a failed report stops a pipeline is the caller's decision. Reports turn into plain JSON-able
dictionaries (``to_json``) to be stored as a run's artifact, and back (``from_json``).

pandas, NumPy and scikit-learn are imported when checks run, never when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from modelyard.errors import InvalidInputError, close_matches
from modelyard.pipelines.evaluation import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
    Evaluation,
    SliceMetrics,
    Task,
    evaluate_model,
)
from modelyard.pipelines.models import JsonRecord

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["GateCheck", "GateReport", "Invariance", "NoRegression", "SliceCheck", "Threshold", "check_model"]

_METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
_CHANGES = ("shuffle", "noise", "constant")
# A regression prediction "changes" when it moves by more than this share of the target's standard deviation.
_REGRESSION_CHANGE = 0.1


def _check_metric(metric: str, where: str) -> None:
    if metric not in _METRICS:
        raise InvalidInputError(
            f"{where} names an unknown metric {metric!r}.{close_matches(metric, _METRICS)}",
            hint=f"Use one of {', '.join(_METRICS)}.",
        )


def _check_bounds(low: float | None, high: float | None, where: str) -> None:
    if low is not None and high is not None and low > high:
        raise InvalidInputError(
            f"{where} has min={low!r} above max={high!r}, so nothing can pass.",
            hint="Swap the bounds, or drop one of them.",
        )


def _higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """The overall value of a metric must lie within bounds (inclusive).

    Attributes:
        metric: a metric of the evaluation, such as ``auc`` or ``rmse``.
        min: the smallest allowed value.
        max: the largest allowed value.

    Raises:
        InvalidInputError: an unknown metric, or neither bound (or min above max).
    """

    metric: str
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        _check_metric(self.metric, "Threshold")
        if self.min is None and self.max is None:
            raise InvalidInputError(
                f"Threshold({self.metric!r}) has neither min nor max, so it checks nothing.",
                hint=f"Pass a bound, such as Threshold(metric={self.metric!r}, min=0.8).",
            )
        _check_bounds(self.min, self.max, f"Threshold({self.metric!r})")


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceCheck:
    """Every slice of a column must meet bounds on a metric, and the worst one may not trail the overall value.

    Attributes:
        column: the slice column (each of its values with enough rows is a slice).
        metric: the metric checked on each slice.
        min: the smallest value any slice may have.
        max: the largest value any slice may have.
        max_gap: how far the worst slice may be from the overall metric, on the bad side (below it for metrics
            where higher is better, above it for ``rmse``, ``mae`` and ``log_loss``).

    Raises:
        InvalidInputError: an unknown metric, no bound at all, min above max, or a negative ``max_gap``.
    """

    column: str
    metric: str
    min: float | None = None
    max: float | None = None
    max_gap: float | None = None

    def __post_init__(self) -> None:
        where = f"SliceCheck({self.column!r}, {self.metric!r})"
        _check_metric(self.metric, where)
        if self.min is None and self.max is None and self.max_gap is None:
            raise InvalidInputError(
                f"{where} has no min, max or max_gap, so it checks nothing.",
                hint=f"Pass a bound, such as SliceCheck(column={self.column!r}, metric={self.metric!r}, max_gap=0.05).",
            )
        _check_bounds(self.min, self.max, where)
        if self.max_gap is not None and self.max_gap < 0:
            raise InvalidInputError(f"{where} has a negative max_gap={self.max_gap!r}.", hint="Pass max_gap >= 0.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Invariance:
    """Perturbing one column may change only a small share of the predictions.

    ``shuffle`` permutes the column's values across rows, ``noise`` adds gaussian noise of ``scale`` times the
    column's standard deviation (numeric columns), ``constant`` sets every row to ``value`` (default: the
    column's most common value). A classification row changes when its predicted class changes; a regression
    row when its prediction moves by more than 10% of the target's standard deviation.

    Attributes:
        column: the feature to perturb (not the target).
        change: ``"shuffle"``, ``"noise"`` or ``"constant"``.
        value: the constant for ``constant``.
        scale: the noise's standard deviation, as a share of the column's, for ``noise``.
        max_changed: the largest share of rows whose prediction may change, in [0, 1].
        seed: the seed of the shuffle or the noise.

    Raises:
        InvalidInputError: an unknown change, a scale that is not positive, or ``max_changed`` outside [0, 1].
    """

    column: str
    change: Literal["shuffle", "noise", "constant"]
    value: object | None = None
    scale: float = 0.1
    max_changed: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        where = f"Invariance({self.column!r}, {self.change!r})"
        if self.change not in _CHANGES:
            raise InvalidInputError(
                f"{where} names an unknown change.{close_matches(str(self.change), _CHANGES)}",
                hint="Use change='shuffle', 'noise' or 'constant'.",
            )
        if not self.scale > 0:
            raise InvalidInputError(f"{where} has scale={self.scale!r}.", hint="Pass a scale above 0, such as 0.1.")
        if not 0 <= self.max_changed <= 1:
            raise InvalidInputError(
                f"{where} has max_changed={self.max_changed!r}, outside [0, 1].",
                hint="Pass the largest share of changed predictions allowed, such as max_changed=0.05.",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class NoRegression:
    """The candidate may not be worse than the baseline on a metric, by more than ``tolerance``.

    Attributes:
        metric: the metric compared, on the same rows for both models.
        tolerance: how much worse than the baseline the candidate may be (>= 0).
        higher_is_better: the metric's direction; ``None`` infers it (lower is better for ``rmse``, ``mae``
            and ``log_loss``, higher for the others).

    Raises:
        InvalidInputError: an unknown metric or a negative tolerance.
    """

    metric: str
    tolerance: float = 0.0
    higher_is_better: bool | None = None

    def __post_init__(self) -> None:
        _check_metric(self.metric, "NoRegression")
        if not self.tolerance >= 0:
            raise InvalidInputError(
                f"NoRegression({self.metric!r}) has tolerance={self.tolerance!r}.", hint="Pass a tolerance >= 0."
            )

    @property
    def is_higher_better(self) -> bool:
        """Whether a higher value of the metric is better (given, or inferred from the metric)."""
        if self.higher_is_better is not None:
            return self.higher_is_better
        return _higher_is_better(self.metric)


@dataclass(frozen=True, slots=True, kw_only=True)
class GateCheck:
    """The result of one check.

    Attributes:
        name: what was checked, such as ``auc >= 0.8``.
        passed: whether the check passed.
        detail: the evidence, in a sentence.
        observed: the value checked (None when it could not be computed).
        limit: the bound it was held to (None when there is none, such as with no baseline).
    """

    name: str
    passed: bool
    detail: str
    observed: float | None
    limit: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GateReport(JsonRecord):
    """The results of ``check_model``: passed when every check passed.

    Attributes:
        passed: whether every check passed (True when there were none).
        checks: one result per bound checked, in the order thresholds, slices, invariances, no regression.
        baseline: the name of the baseline model compared with, if any.
    """

    passed: bool
    checks: tuple[GateCheck, ...]
    baseline: str | None

    record_name: ClassVar[str] = "gate report"

    @property
    def failed(self) -> tuple[GateCheck, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.passed)

    def summary(self) -> str:
        """Return a human-readable report: a headline, then one PASS or FAIL line per check."""
        against = f" (baseline: {self.baseline})" if self.baseline is not None else ""
        if not self.checks:
            return f"Model checks PASSED: no checks defined{against}."
        if self.passed:
            headline = f"Model checks PASSED: all {len(self.checks)} passed{against}."
        else:
            headline = f"Model checks FAILED: {len(self.failed)} of {len(self.checks)} failed{against}."
        lines = [headline]
        for check in self.checks:
            mark = "PASS" if check.passed else "FAIL"
            values = f"observed {_number(check.observed)}, limit {_number(check.limit)}"
            lines.append(f"  {mark}  {check.name}: {values}. {check.detail}")
        return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def check_model(
    model: object,
    frame: pd.DataFrame,
    *,
    target: str,
    evaluation: Evaluation | None = None,
    thresholds: Sequence[Threshold] = (),
    slices: Sequence[SliceCheck] = (),
    invariances: Sequence[Invariance] = (),
    no_regression: Sequence[NoRegression] = (),
    baseline: object | None = None,
    baseline_name: str | None = None,
) -> GateReport:
    """Run post-train checks on a fitted model and report each result; a failed check does not raise.

    Args:
        model: the candidate, a fitted model with ``predict`` (see ``evaluate_model``).
        frame: the rows to check on (usually the test side of the split), target column included.
        target: the target column.
        evaluation: the candidate's evaluation on ``frame``, if already computed; otherwise it is computed
            with the slice columns the slice checks need (and the default ``min_slice_rows`` of 30). A slice
            check whose column has no slices in the evaluation fails.
        thresholds: bounds on overall metrics.
        slices: bounds on the metrics of each slice.
        invariances: perturbations that may change only a few predictions.
        no_regression: metrics on which the candidate may not be worse than ``baseline``.
        baseline: the model to compare with (such as the current champion), evaluated on the same rows. With
            no baseline, the no-regression checks pass with the detail "no baseline (first model)".
        baseline_name: the baseline's name in the report (default: its class name).

    Returns:
        The report: passed when every check passed.

    Raises:
        InvalidInputError: a definition that cannot be checked: the target or a column not in ``frame``, a
            metric of the other task (``rmse`` for a classifier), noise on a non-numeric column, or an
            invariance on the target.

    Example:
        >>> report = check_model(model, test, target="y", thresholds=[Threshold(metric="accuracy", min=0.9)])
        >>> report.passed, report.checks[0].observed
        (True, 0.93)

    Added in 0.2.
    """
    _check_columns(frame, target=target, slices=slices, invariances=invariances)
    if evaluation is None:
        evaluation = evaluate_model(model, frame, target=target, slices=[check.column for check in slices])
    elif evaluation.rows != len(frame):
        raise InvalidInputError(
            f"The evaluation was made on {evaluation.rows} rows, but the frame has {len(frame)}.",
            hint="Pass the evaluation of the model on this frame, or leave evaluation out to compute it.",
        )
    _check_task(evaluation.task, [*thresholds, *slices, *no_regression])
    checks = [_threshold_check(threshold, evaluation) for threshold in thresholds]
    for slice_check in slices:
        checks.extend(_slice_checks(slice_check, evaluation))
    if invariances:
        checks.extend(_invariance_checks(model, frame, target, evaluation.task, invariances))
    checks.extend(_no_regression_checks(no_regression, evaluation, frame, target, baseline))
    name = baseline_name if baseline_name is not None or baseline is None else type(baseline).__name__
    return GateReport(passed=all(check.passed for check in checks), checks=tuple(checks), baseline=name)


def _check_columns(
    frame: pd.DataFrame, *, target: str, slices: Sequence[SliceCheck], invariances: Sequence[Invariance]
) -> None:
    from pandas.api import types

    names = [str(column) for column in frame.columns]
    needed = [("Target", target)] + [("SliceCheck", s.column) for s in slices]
    for role, column in needed + [("Invariance", i.column) for i in invariances]:
        if column not in frame.columns:
            raise InvalidInputError(
                f"{role} column {column!r} is not in the frame.{close_matches(column, names)}",
                hint=f"Pass one of the frame's columns (it has {len(names)}).",
            )
    for invariance in invariances:
        dtype = frame[invariance.column].dtype
        if invariance.column == target:
            raise InvalidInputError(
                f"Invariance({target!r}) perturbs the target, which the model does not see.",
                hint="Perturb a feature column instead.",
            )
        if invariance.change == "noise" and (not types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype)):
            raise InvalidInputError(
                f"Invariance({invariance.column!r}, 'noise') needs a numeric column, not {dtype}.",
                hint="Use change='shuffle' or 'constant' for this column.",
            )


def _check_task(task: Task, definitions: Sequence[Threshold | SliceCheck | NoRegression]) -> None:
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    for definition in definitions:
        if definition.metric not in allowed:
            raise InvalidInputError(
                f"{type(definition).__name__}({definition.metric!r}) checks a metric a {task} model does not have.",
                hint=f"Use one of {', '.join(allowed)}, or evaluate with the right task.",
            )


def _bounds_name(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"in [{low:g}, {high:g}]"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


def _violated(value: float, low: float | None, high: float | None) -> float | None:
    """The bound ``value`` breaks, if any."""
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return None


def _threshold_check(threshold: Threshold, evaluation: Evaluation) -> GateCheck:
    name = f"{threshold.metric} {_bounds_name(threshold.min, threshold.max)}"
    observed = evaluation.metrics.get(threshold.metric)
    nearest = threshold.min if threshold.min is not None else threshold.max
    if observed is None:
        detail = f"{threshold.metric} was not computed on these {evaluation.rows} rows (see evaluate_model)."
        return GateCheck(name=name, passed=False, detail=detail, observed=None, limit=nearest)
    broken = _violated(observed, threshold.min, threshold.max)
    detail = f"{threshold.metric} is {observed:.4g} over {evaluation.rows} rows."
    limit = nearest if broken is None else broken
    return GateCheck(name=name, passed=broken is None, detail=detail, observed=observed, limit=limit)


def _slice_checks(check: SliceCheck, evaluation: Evaluation) -> list[GateCheck]:
    found = [s for s in evaluation.slices if s.column == check.column and check.metric in s.metrics]
    prefix = f"slice {check.metric} by {check.column!r}"
    names = []
    if check.min is not None or check.max is not None:
        names.append(f"{prefix} {_bounds_name(check.min, check.max)}")
    if check.max_gap is not None:
        names.append(f"{prefix} gap <= {check.max_gap:g}")
    if not found:
        detail = (
            f"No slice of {check.column!r} has {check.metric}: none had enough rows, or the evaluation was made "
            f"without slices=[{check.column!r}]."
        )
        return [GateCheck(name=name, passed=False, detail=detail, observed=None, limit=None) for name in names]
    results = []
    if check.min is not None or check.max is not None:
        results.append(_slice_bounds_check(names[0], check, found))
    if check.max_gap is not None:
        overall = evaluation.metrics.get(check.metric)
        results.append(_slice_gap_check(names[-1], check, found, overall=overall, max_gap=check.max_gap))
    return results


def _describe(found: SliceMetrics, metric: str) -> str:
    return f"{found.column}={found.value!r} ({found.rows} rows): {found.metrics[metric]:.4g}"


def _slice_bounds_check(name: str, check: SliceCheck, found: Sequence[SliceMetrics]) -> GateCheck:
    metric = check.metric
    lowest = min(found, key=lambda s: s.metrics[metric])
    highest = max(found, key=lambda s: s.metrics[metric])
    is_low_broken = check.min is not None and lowest.metrics[metric] < check.min
    is_high_broken = check.max is not None and highest.metrics[metric] > check.max
    # Report the slice that breaks a bound; when none does, the one nearest the lower bound (if any).
    use_high = check.min is None or (is_high_broken and not is_low_broken)
    worst, limit = (highest, check.max) if use_high else (lowest, check.min)
    detail = f"Worst of {len(found)} slices: {_describe(worst, metric)}."
    passed = not (is_low_broken or is_high_broken)
    return GateCheck(name=name, passed=passed, detail=detail, observed=worst.metrics[metric], limit=limit)


def _slice_gap_check(
    name: str, check: SliceCheck, found: Sequence[SliceMetrics], *, overall: float | None, max_gap: float
) -> GateCheck:
    if overall is None:
        detail = f"The overall {check.metric} was not computed, so there is no gap to measure."
        return GateCheck(name=name, passed=False, detail=detail, observed=None, limit=max_gap)
    if _higher_is_better(check.metric):
        worst = min(found, key=lambda s: s.metrics[check.metric])
        gap = overall - worst.metrics[check.metric]
    else:
        worst = max(found, key=lambda s: s.metrics[check.metric])
        gap = worst.metrics[check.metric] - overall
    detail = f"Worst of {len(found)} slices: {_describe(worst, check.metric)}, overall {overall:.4g}."
    return GateCheck(name=name, passed=gap <= max_gap, detail=detail, observed=gap, limit=max_gap)


def _predict(model: object, features: pd.DataFrame) -> npt.NDArray[Any]:
    import numpy as np

    predict = getattr(model, "predict", None)
    if not callable(predict):
        raise InvalidInputError(
            f"The model ({type(model).__name__}) has no predict() method.",
            hint="Pass a fitted model with a scikit-learn-like predict(features).",
        )
    return np.asarray(predict(features)).reshape(len(features), -1)[:, 0]


def _invariance_checks(
    model: object, frame: pd.DataFrame, target: str, task: Task, invariances: Sequence[Invariance]
) -> list[GateCheck]:
    import numpy as np

    features = frame.drop(columns=[target])
    original = _predict(model, features)
    tolerance = _REGRESSION_CHANGE * float(np.std(frame[target].to_numpy(dtype=float))) if task == "regression" else 0
    results = []
    for invariance in invariances:
        perturbed = _predict(model, _perturb(features, invariance))
        if task == "regression":
            changed = int((np.abs(perturbed.astype(float) - original.astype(float)) > tolerance).sum())
        else:
            changed = int((perturbed != original).sum())
        share = changed / len(features)
        detail = (
            f"{changed} of {len(features)} predictions changed ({share:.1%}) with {invariance.column!r} "
            f"perturbed by {invariance.change}; at most {invariance.max_changed:.1%} may."
        )
        results.append(
            GateCheck(
                name=f"invariance {invariance.change} {invariance.column!r}",
                passed=share <= invariance.max_changed,
                detail=detail,
                observed=share,
                limit=invariance.max_changed,
            )
        )
    return results


def _perturb(features: pd.DataFrame, invariance: Invariance) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(invariance.seed)
    column: Any = features[invariance.column]
    perturbed = features.copy()
    if invariance.change == "shuffle":
        perturbed[invariance.column] = column.to_numpy()[rng.permutation(len(column))]
    elif invariance.change == "noise":
        spread = float(column.std(ddof=0))
        spread = spread if np.isfinite(spread) else 0.0
        perturbed[invariance.column] = column + rng.normal(0.0, invariance.scale * spread, len(column))
    else:
        value: Any = invariance.value
        if value is None:
            modes = column.mode()
            if len(modes) == 0:
                raise InvalidInputError(
                    f"Invariance({invariance.column!r}, 'constant') has no value and the column has only nulls.",
                    hint="Pass the constant as value=.",
                )
            value = modes.iloc[0]
        perturbed[invariance.column] = value
    return perturbed


def _no_regression_checks(
    rules: Sequence[NoRegression], evaluation: Evaluation, frame: pd.DataFrame, target: str, baseline: object | None
) -> list[GateCheck]:
    if not rules:
        return []
    if baseline is None:
        return [
            GateCheck(
                name=f"no regression {rule.metric}",
                passed=True,
                detail="no baseline (first model)",
                observed=evaluation.metrics.get(rule.metric),
                limit=None,
            )
            for rule in rules
        ]
    reference = evaluate_model(baseline, frame, target=target, task=evaluation.task)
    return [_no_regression_check(rule, evaluation, reference) for rule in rules]


def _no_regression_check(rule: NoRegression, candidate: Evaluation, reference: Evaluation) -> GateCheck:
    name = f"no regression {rule.metric}"
    observed, previous = candidate.metrics.get(rule.metric), reference.metrics.get(rule.metric)
    if observed is None or previous is None:
        which = "candidate" if observed is None else "baseline"
        detail = f"{rule.metric} was not computed for the {which} on these {candidate.rows} rows."
        return GateCheck(name=name, passed=False, detail=detail, observed=observed, limit=None)
    higher = rule.is_higher_better
    limit = previous - rule.tolerance if higher else previous + rule.tolerance
    passed = observed >= limit if higher else observed <= limit
    detail = (
        f"candidate {observed:.4g} vs baseline {previous:.4g} ({'higher' if higher else 'lower'} is better, "
        f"tolerance {rule.tolerance:g})."
    )
    return GateCheck(name=name, passed=passed, detail=detail, observed=observed, limit=limit)
