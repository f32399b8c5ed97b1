"""scikit-learn autolog: params, training score and a skops model for the outermost fit only."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import modelyard as my
from modelyard.client import Client


@pytest.fixture(autouse=True)
def _autolog_off_afterwards() -> Iterator[None]:
    yield
    my.autolog(disable=True)  # autolog patches scikit-learn for the whole process


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    return x, (x[:, 0] + 0.1 * rng.normal(size=200) > 0).astype(int)


def test_fit_inside_a_run_logs_into_it(client: Client, data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    my.autolog()
    with my.start_run(experiment="auto") as run:
        model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0)).fit(*data)
    record = my.get_run(run.id)
    assert record.params["randomforestclassifier__n_estimators"] == "5"
    assert record.params["standardscaler"] == "StandardScaler"
    assert record.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    assert 0.5 < record.metric("training_score") <= 1.0
    assert [e.path for e in my.list_artifacts(run.id)] == ["model/input_example.json", "model/model.skops"]
    folder = my.download_artifacts(run.id, "model", tmp_path)
    with zipfile.ZipFile(folder / "model.skops") as archive:
        assert "schema.json" in archive.namelist()  # skops' data format, not a pickle
    manifest = my.models.manifest(f"runs:/{run.id}/model")
    assert "sklearn.tree._tree.Tree" in manifest.options["skops_untrusted_types"]
    assert my.register_model("auto", f"runs:/{run.id}/model").version == 1
    assert (my.models.load("auto/1").predict(data[0]) == model.predict(data[0])).all()
    # Only the outermost fit logged: no runs for the scaler or the forest.
    assert [r.id for r in my.search_runs("auto")] == [run.id]


def test_fit_without_a_run_gets_its_own_and_failures_are_failed(
    client: Client, data: tuple[np.ndarray, np.ndarray]
) -> None:
    from sklearn.linear_model import LogisticRegression

    my.autolog(log_models=False)
    LogisticRegression(C=0.5).fit(*data)
    (run,) = my.search_runs("default")
    assert run.name == "LogisticRegression"
    assert run.status.value == "FINISHED"
    assert run.params["C"] == "0.5"
    with pytest.raises(ValueError, match="samples"):
        LogisticRegression().fit(data[0], data[1][:10])
    failed = my.search_runs("default", filter="attributes.status = 'FAILED'")
    assert len(failed) == 1


def test_classes_defined_after_autolog_are_wrapped(client: Client, data: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.base import BaseEstimator, ClassifierMixin

    my.autolog(log_models=False)

    class Majority(ClassifierMixin, BaseEstimator):
        def fit(self, x: np.ndarray, y: np.ndarray) -> Majority:
            self.label_ = int(np.bincount(y).argmax())
            self.classes_ = np.unique(y)
            return self

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.full(len(x), self.label_)

    with my.start_run(experiment="late") as run:
        Majority().fit(*data)
    assert "training_score" in my.get_run(run.id).metrics


def test_disable_restores_every_fit(client: Client, data: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.linear_model import LogisticRegression

    original = LogisticRegression.fit
    hook = BaseEstimator.__dict__.get("__init_subclass__")
    my.autolog()
    assert LogisticRegression.fit is not original
    my.autolog(disable=True)
    assert LogisticRegression.fit is original
    assert BaseEstimator.__dict__.get("__init_subclass__") is hook

    class Later(ClassifierMixin, BaseEstimator):
        def fit(self, x: object, y: object) -> Later:
            return self

        def predict(self, x: object) -> object:
            return x

    with my.start_run(experiment="off") as run:
        LogisticRegression().fit(*data)
        Later().fit(*data)
    assert my.get_run(run.id).params == {}
