"""Post-train model checks: each check passes and fails, reports never raise, definitions are validated."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeRegressor

from modelyard.errors import InvalidInputError
from modelyard.pipelines.evaluation import evaluate_model
from modelyard.pipelines.gates import (
    GateCheck,
    GateReport,
    Invariance,
    NoRegression,
    SliceCheck,
    Threshold,
    check_model,
)

ROWS = 400


def _classification_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=ROWS),
            "b": rng.normal(size=ROWS),
            "noise": rng.normal(size=ROWS),
            "region": rng.choice([0, 1, 2], size=ROWS, p=[0.5, 0.4, 0.1]),
        }
    )
    frame["y"] = (2 * frame["a"] + 0.5 * frame["b"] + rng.normal(scale=0.5, size=ROWS) > 0).astype(int)
    return frame


def _regression_frame(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"a": rng.normal(size=ROWS), "noise": rng.normal(size=ROWS), "zone": rng.choice([0, 1, 2], size=ROWS)}
    )
    frame["price"] = 4 * frame["a"] + rng.normal(scale=0.5, size=ROWS)
    return frame


def _on(columns: list[str], model: object) -> object:
    """A model that sees only ``columns`` of the features (the rest are dropped, so they cannot matter)."""
    return make_pipeline(ColumnTransformer([("keep", "passthrough", columns)], remainder="drop"), model)


def _fit(model: object, frame: pd.DataFrame, target: str) -> object:
    model.fit(frame.drop(columns=[target]), frame[target])  # type: ignore[attr-defined]
    return model


@pytest.fixture
def frame() -> pd.DataFrame:
    return _classification_frame()


@pytest.fixture
def model(frame: pd.DataFrame) -> object:
    return _fit(_on(["a", "b"], LogisticRegression()), frame, "y")


class CountingModel:
    """The user's model, counting how often it is asked for predictions."""

    def __init__(self, model: object) -> None:
        self.model, self.classes_, self.calls = model, model.classes_, 0  # type: ignore[attr-defined]

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        return self.model.predict(features)  # type: ignore[attr-defined, no-any-return]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        return self.model.predict_proba(features)  # type: ignore[attr-defined, no-any-return]


def _only(report: GateReport) -> GateCheck:
    assert len(report.checks) == 1
    return report.checks[0]


def test_the_module_imports_without_pandas_or_sklearn() -> None:
    code = "import sys, modelyard.pipelines.gates; print(sorted({'pandas', 'sklearn', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_no_checks_pass(model: object, frame: pd.DataFrame) -> None:
    report = check_model(model, frame, target="y")
    assert report == GateReport(passed=True, checks=(), baseline=None)
    assert report.summary() == "Model checks PASSED: no checks defined."


def test_a_threshold_passes_and_fails(model: object, frame: pd.DataFrame) -> None:
    accuracy = evaluate_model(model, frame, target="y").metrics["accuracy"]
    passed = _only(check_model(model, frame, target="y", thresholds=[Threshold(metric="accuracy", min=0.8)]))
    assert passed == GateCheck(
        name="accuracy >= 0.8",
        passed=True,
        detail=f"accuracy is {accuracy:.4g} over {ROWS} rows.",
        observed=accuracy,
        limit=0.8,
    )
    failed = check_model(model, frame, target="y", thresholds=[Threshold(metric="accuracy", min=0.8, max=0.85)])
    assert not failed.passed
    assert _only(failed).name == "accuracy in [0.8, 0.85]"
    assert _only(failed).limit == 0.85


def test_a_threshold_on_a_lower_is_better_metric() -> None:
    frame = _regression_frame()
    model = _fit(LinearRegression(), frame, "price")
    assert check_model(model, frame, target="price", thresholds=[Threshold(metric="rmse", max=1.0)]).passed
    report = check_model(model, frame, target="price", thresholds=[Threshold(metric="rmse", max=0.1)])
    assert not report.passed
    assert _only(report).name == "rmse <= 0.1"


def test_a_threshold_on_a_metric_that_was_not_computed_fails(frame: pd.DataFrame) -> None:
    model = _fit(RidgeClassifier(), frame, "y")  # no predict_proba: no auc
    check = _only(check_model(model, frame, target="y", thresholds=[Threshold(metric="auc", min=0.5)]))
    assert not check.passed
    assert check.observed is None
    assert "auc was not computed" in check.detail


def test_a_given_evaluation_is_used_instead_of_predicting(model: object, frame: pd.DataFrame) -> None:
    counting = CountingModel(model)
    evaluation = evaluate_model(counting, frame, target="y")
    calls = counting.calls
    report = check_model(
        counting, frame, target="y", evaluation=evaluation, thresholds=[Threshold(metric="auc", min=0.9)]
    )
    assert report.passed
    assert counting.calls == calls


def test_slice_bounds_pass_and_fail(model: object, frame: pd.DataFrame) -> None:
    evaluation = evaluate_model(model, frame, target="y", slices=["region"])
    worst = min(s.metrics["accuracy"] for s in evaluation.slices)
    passed = _only(
        check_model(model, frame, target="y", slices=[SliceCheck(column="region", metric="accuracy", min=0.5)])
    )
    assert passed.passed
    assert passed.observed == worst
    assert passed.name == "slice accuracy by 'region' >= 0.5"
    failed = _only(
        check_model(model, frame, target="y", slices=[SliceCheck(column="region", metric="accuracy", min=worst + 1e-9)])
    )
    assert not failed.passed
    assert failed.detail.startswith("Worst of 3 slices: region=")


def test_slice_upper_bounds_report_the_highest_slice(model: object, frame: pd.DataFrame) -> None:
    evaluation = evaluate_model(model, frame, target="y", slices=["region"])
    best = max(s.metrics["log_loss"] for s in evaluation.slices)
    check = SliceCheck(column="region", metric="log_loss", min=0.0, max=best - 1e-9)
    failed = _only(check_model(model, frame, target="y", slices=[check]))
    assert not failed.passed
    assert (failed.observed, failed.limit) == (best, best - 1e-9)


def test_slice_gap_passes_and_fails(model: object, frame: pd.DataFrame) -> None:
    evaluation = evaluate_model(model, frame, target="y", slices=["region"])
    gap = evaluation.metrics["f1"] - min(s.metrics["f1"] for s in evaluation.slices)
    assert gap > 0
    wide = SliceCheck(column="region", metric="f1", max_gap=gap + 0.01)
    narrow = SliceCheck(column="region", metric="f1", min=0.0, max_gap=gap / 2)
    report = check_model(model, frame, target="y", slices=[wide, narrow])
    assert [(c.name, c.passed) for c in report.checks] == [
        (f"slice f1 by 'region' gap <= {gap + 0.01:g}", True),
        ("slice f1 by 'region' >= 0", True),
        (f"slice f1 by 'region' gap <= {gap / 2:g}", False),
    ]
    assert report.checks[0].observed == pytest.approx(gap)
    assert not report.passed


def test_slice_gap_of_a_lower_is_better_metric_looks_above_the_overall_value() -> None:
    frame = _regression_frame()
    model = _fit(LinearRegression(), frame, "price")
    evaluation = evaluate_model(model, frame, target="price", slices=["zone"])
    gap = max(s.metrics["rmse"] for s in evaluation.slices) - evaluation.metrics["rmse"]
    check = _only(
        check_model(model, frame, target="price", slices=[SliceCheck(column="zone", metric="rmse", max_gap=1.0)])
    )
    assert check.passed
    assert check.observed == pytest.approx(gap)


def test_a_slice_check_without_slices_fails(model: object, frame: pd.DataFrame) -> None:
    evaluation = evaluate_model(model, frame, target="y")  # made without slices=["region"]
    check = SliceCheck(column="region", metric="f1", min=0.1, max_gap=0.5)
    report = check_model(model, frame, target="y", evaluation=evaluation, slices=[check])
    assert [c.passed for c in report.checks] == [False, False]
    assert "without slices=['region']" in report.checks[0].detail


def test_invariance_detects_a_model_that_depends_on_the_column(model: object, frame: pd.DataFrame) -> None:
    report = check_model(model, frame, target="y", invariances=[Invariance(column="a", change="shuffle")])
    check = _only(report)
    assert not report.passed
    assert check.name == "invariance shuffle 'a'"
    assert check.observed is not None
    assert check.observed > 0.2
    assert check.limit == 0.05


@pytest.mark.parametrize(
    "invariance",
    [
        Invariance(column="noise", change="shuffle"),
        Invariance(column="noise", change="noise", scale=1.0),
        Invariance(column="noise", change="constant"),
        Invariance(column="region", change="constant", value=2),
    ],
    ids=["shuffle", "noise", "constant-mode", "constant-value"],
)
def test_invariance_passes_for_a_model_that_ignores_the_column(
    model: object, frame: pd.DataFrame, invariance: Invariance
) -> None:
    check = _only(check_model(model, frame, target="y", invariances=[invariance]))
    assert check.passed
    assert check.observed == 0.0


@pytest.mark.parametrize(
    ("invariance", "passed"),
    [
        (Invariance(column="a", change="noise", scale=1.0), False),
        (Invariance(column="a", change="constant", value=0.0), False),
        (Invariance(column="a", change="noise", scale=0.001), True),
        (Invariance(column="noise", change="shuffle"), True),
    ],
)
def test_regression_invariance(invariance: Invariance, passed: bool) -> None:
    frame = _regression_frame()
    model = _fit(_on(["a"], DecisionTreeRegressor(max_depth=5, random_state=0)), frame, "price")
    assert _only(check_model(model, frame, target="price", invariances=[invariance])).passed is passed


def test_invariance_is_seeded(model: object, frame: pd.DataFrame) -> None:
    def share(seed: int) -> float | None:
        invariance = Invariance(column="a", change="shuffle", seed=seed)
        return _only(check_model(model, frame, target="y", invariances=[invariance])).observed

    assert share(1) == share(1)
    assert share(1) != share(2)


def test_invariances_predict_once_on_the_original_rows(model: object, frame: pd.DataFrame) -> None:
    counting = CountingModel(model)
    evaluation = evaluate_model(counting, frame, target="y")
    before = counting.calls
    invariances = [Invariance(column="a", change="shuffle"), Invariance(column="b", change="noise")]
    check_model(counting, frame, target="y", evaluation=evaluation, invariances=invariances)
    assert counting.calls - before == 1 + len(invariances)


def test_no_regression_against_a_worse_and_a_better_baseline(model: object, frame: pd.DataFrame) -> None:
    worse = _fit(_on(["b"], LogisticRegression()), frame, "y")
    rules = [NoRegression(metric="auc"), NoRegression(metric="log_loss")]
    beats_worse = check_model(model, frame, target="y", no_regression=rules, baseline=worse, baseline_name="v1")
    assert beats_worse.passed
    assert beats_worse.baseline == "v1"
    assert [c.name for c in beats_worse.checks] == ["no regression auc", "no regression log_loss"]
    loses_to_better = check_model(worse, frame, target="y", no_regression=rules, baseline=model)
    assert not loses_to_better.passed
    assert [c.passed for c in loses_to_better.checks] == [False, False]
    assert loses_to_better.baseline == "Pipeline"
    auc, log_loss = loses_to_better.checks
    better = evaluate_model(model, frame, target="y").metrics
    assert auc.limit == better["auc"]
    assert log_loss.limit == better["log_loss"]
    assert "lower is better" in log_loss.detail


def test_no_regression_tolerance_and_direction(model: object, frame: pd.DataFrame) -> None:
    weaker = _fit(_on(["a"], LogisticRegression()), frame, "y")
    metrics, baseline_metrics = (evaluate_model(m, frame, target="y").metrics for m in (weaker, model))
    drop = baseline_metrics["auc"] - metrics["auc"]
    assert drop > 0
    tolerant = NoRegression(metric="auc", tolerance=drop + 1e-6)
    strict = NoRegression(metric="auc", tolerance=drop / 2)
    inverted = NoRegression(metric="auc", higher_is_better=False)
    report = check_model(weaker, frame, target="y", no_regression=[tolerant, strict, inverted], baseline=model)
    assert [c.passed for c in report.checks] == [True, False, True]


def test_no_regression_of_a_regression_model() -> None:
    frame = _regression_frame()
    good = _fit(LinearRegression(), frame, "price")
    bad = _fit(_on(["noise"], LinearRegression()), frame, "price")
    rules = [NoRegression(metric="rmse"), NoRegression(metric="mae"), NoRegression(metric="r2")]
    assert check_model(good, frame, target="price", no_regression=rules, baseline=bad).passed
    assert [c.passed for c in check_model(bad, frame, target="price", no_regression=rules, baseline=good).checks] == [
        False,
        False,
        False,
    ]


def test_no_regression_without_a_baseline_passes(model: object, frame: pd.DataFrame) -> None:
    check = _only(check_model(model, frame, target="y", no_regression=[NoRegression(metric="f1")]))
    assert check.passed
    assert check.detail == "no baseline (first model)"
    assert check.limit is None


def test_no_regression_on_a_metric_the_baseline_lacks_fails(model: object, frame: pd.DataFrame) -> None:
    baseline = _fit(RidgeClassifier(), frame, "y")
    check = _only(check_model(model, frame, target="y", no_regression=[NoRegression(metric="auc")], baseline=baseline))
    assert not check.passed
    assert "not computed for the baseline" in check.detail


def test_a_failing_report_does_not_raise_and_summarises(model: object, frame: pd.DataFrame) -> None:
    report = check_model(
        model,
        frame,
        target="y",
        thresholds=[Threshold(metric="accuracy", min=0.5), Threshold(metric="auc", min=0.9999)],
        invariances=[Invariance(column="a", change="shuffle")],
        no_regression=[NoRegression(metric="auc")],
        baseline=DummyClassifier().fit(frame.drop(columns=["y"]), frame["y"]),
        baseline_name="champion v3",
    )
    assert not report.passed
    assert [c.passed for c in report.checks] == [True, False, False, True]
    assert len(report.failed) == 2
    lines = report.summary().splitlines()
    assert lines[0] == "Model checks FAILED: 2 of 4 failed (baseline: champion v3)."
    assert lines[1].startswith("  PASS  accuracy >= 0.5: observed ")
    assert lines[2].startswith("  FAIL  auc >= 0.9999: observed ")
    assert ", limit 0.9999. auc is " in lines[2]
    assert lines[3].startswith("  FAIL  invariance shuffle 'a': observed ")
    assert len(lines) == 5


def test_a_passing_summary(model: object, frame: pd.DataFrame) -> None:
    report = check_model(model, frame, target="y", thresholds=[Threshold(metric="f1", min=0.1)])
    assert report.summary().splitlines()[0] == "Model checks PASSED: all 1 passed."


def test_report_json_roundtrips_exactly(model: object, frame: pd.DataFrame) -> None:
    report = check_model(
        model,
        frame,
        target="y",
        thresholds=[Threshold(metric="auc", min=0.5)],
        slices=[SliceCheck(column="region", metric="f1", max_gap=0.2)],
        invariances=[Invariance(column="a", change="noise")],
        no_regression=[NoRegression(metric="f1")],
    )
    data = report.to_json()
    assert GateReport.from_json(data) == report
    assert GateReport.from_json(json.loads(json.dumps(data))) == report
    assert data["checks"][3]["limit"] is None  # type: ignore[index]


def test_report_from_json_refuses_other_data() -> None:
    with pytest.raises(InvalidInputError, match="Not a stored gate report"):
        GateReport.from_json({"passed": True, "checks": [{"name": "x"}], "baseline": None})


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Threshold(metric="acuracy", min=0.5), "unknown metric 'acuracy'. Did you mean 'accuracy'"),
        (lambda: Threshold(metric="auc"), "has neither min nor max"),
        (lambda: Threshold(metric="auc", min=0.9, max=0.1), "min=0.9 above max=0.1"),
        (lambda: SliceCheck(column="region", metric="f2", min=0.1), "unknown metric 'f2'"),
        (lambda: SliceCheck(column="region", metric="f1"), "has no min, max or max_gap"),
        (lambda: SliceCheck(column="region", metric="f1", max_gap=-0.1), "negative max_gap=-0.1"),
        (lambda: Invariance(column="a", change="swap"), "unknown change"),  # type: ignore[arg-type]
        (lambda: Invariance(column="a", change="noise", scale=0), "scale=0"),
        (lambda: Invariance(column="a", change="shuffle", max_changed=1.5), "max_changed=1.5, outside"),
        (lambda: NoRegression(metric="rsme"), "unknown metric 'rsme'. Did you mean 'rmse'"),
        (lambda: NoRegression(metric="rmse", tolerance=-1), "tolerance=-1"),
    ],
)
def test_invalid_definitions_are_refused(make: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(match)) as caught:
        make()  # type: ignore[operator]
    assert caught.value.hint


def test_definitions_that_do_not_fit_the_frame_are_refused(model: object, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="Target column 'why' is not in the frame"):
        check_model(model, frame, target="why")
    with pytest.raises(
        InvalidInputError, match=r"SliceCheck column 'regio' is not in the frame\. Did you mean 'region'"
    ):
        check_model(model, frame, target="y", slices=[SliceCheck(column="regio", metric="f1", min=0.1)])
    with pytest.raises(InvalidInputError, match="Invariance column 'aa' is not in the frame"):
        check_model(model, frame, target="y", invariances=[Invariance(column="aa", change="shuffle")])
    with pytest.raises(InvalidInputError, match="perturbs the target"):
        check_model(model, frame, target="y", invariances=[Invariance(column="y", change="shuffle")])
    with pytest.raises(InvalidInputError, match="checks a metric a classification model does not have"):
        check_model(model, frame, target="y", thresholds=[Threshold(metric="rmse", max=1.0)])
    with pytest.raises(InvalidInputError, match="The evaluation was made on 400 rows, but the frame has 10"):
        check_model(model, frame.head(10), target="y", evaluation=evaluate_model(model, frame, target="y"))


def test_noise_needs_a_numeric_column() -> None:
    frame = _classification_frame().assign(label=lambda f: np.where(f["a"] > 0, "x", "z"))
    model = _fit(_on(["a", "b"], LogisticRegression()), frame, "y")
    with pytest.raises(InvalidInputError, match="'noise'\\) needs a numeric column, not str"):
        check_model(model, frame, target="y", invariances=[Invariance(column="label", change="noise")])
    check = _only(check_model(model, frame, target="y", invariances=[Invariance(column="label", change="constant")]))
    assert check.passed


def test_a_slice_gap_without_the_overall_metric_fails(model: object, frame: pd.DataFrame) -> None:
    from modelyard.pipelines.evaluation import Evaluation, SliceMetrics

    evaluation = Evaluation(
        task="classification",
        rows=ROWS,
        metrics={"accuracy": 0.9},
        slices=(SliceMetrics(column="region", value="0", rows=200, metrics={"auc": 0.8}),),
    )
    check = SliceCheck(column="region", metric="auc", max_gap=0.1)
    failed = _only(check_model(model, frame, target="y", evaluation=evaluation, slices=[check]))
    assert not failed.passed
    assert "overall auc was not computed" in failed.detail


def test_invariance_needs_a_model_that_predicts(model: object, frame: pd.DataFrame) -> None:
    evaluation = evaluate_model(model, frame, target="y")
    with pytest.raises(InvalidInputError, match=r"The model \(str\) has no predict\(\) method"):
        check_model(
            "not a model",
            frame,
            target="y",
            evaluation=evaluation,
            invariances=[Invariance(column="a", change="noise")],
        )


def test_a_constant_for_a_column_of_nulls_must_be_given(model: object, frame: pd.DataFrame) -> None:
    empty = frame.assign(noise=np.nan)
    with pytest.raises(InvalidInputError, match="has no value and the column has only nulls"):
        check_model(model, empty, target="y", invariances=[Invariance(column="noise", change="constant")])
    given = Invariance(column="noise", change="constant", value=1.0)
    assert _only(check_model(model, empty, target="y", invariances=[given])).passed
