"""The registry through the public API, on SQLite + local files and on PostgreSQL + S3."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import (
    ConflictError,
    InvalidInputError,
    NoActiveRunError,
    NotFoundError,
    UnsafeModelError,
)
from modelyard.stores.maintenance import fsck, gc


def frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "distance": rng.integers(80, 3000, rows),
            "dep_delay": rng.normal(10, 30, rows),
            "carrier": rng.choice(["AA", "B6", "DL"], rows),
        }
    )
    y = ((x["dep_delay"] > 15) ^ (rng.random(rows) < 0.1)).astype(int)
    return x, y


def pipeline(kind: str = "logreg") -> tuple[Any, pd.DataFrame, pd.Series]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y = frame()
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["distance", "dep_delay"]), ("cat", OneHotEncoder(), ["carrier"])]
    )
    estimator = {
        "logreg": LogisticRegression(),
        "forest": RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0),
        "hist": HistGradientBoostingClassifier(max_iter=10, random_state=0),
    }[kind]
    return make_pipeline(columns, estimator).fit(x, y), x, y


def logged(client: Client, kind: str = "logreg", **params: float) -> tuple[Any, Any, pd.DataFrame]:
    model, x, _ = pipeline(kind)
    with client.start_run(experiment="churn"):
        client.log_params(kind=kind)
        client.log_metrics(params or {"auc": 0.8})
        info = client.log_model(model, input_example=x.head(5))
    return model, info, x


def test_log_model_packages_a_pipeline_with_signature_requirements_and_example(yard: Client) -> None:
    import sklearn

    model, info, x = logged(yard)
    assert info.flavor == "sklearn"
    assert info.format == "skops"
    assert info.uri == f"runs:/{info.run_id}/model"
    assert f"scikit-learn=={sklearn.__version__}" in info.requirements
    assert info.signature is not None
    assert info.signature.input_names == ("distance", "dep_delay", "carrier")
    assert [c.type for c in info.signature.inputs] == ["integer", "float", "string"]  # type: ignore[union-attr]
    manifest = yard.models.manifest(info.uri)
    assert manifest.model_class == "sklearn.pipeline.Pipeline"
    assert set(manifest.files) == {"model.skops", "input_example.json"}
    assert set(manifest.options["skops_untrusted_types"]) <= {"numpy.dtype"}
    assert yard.models.example(info.uri)[0]["carrier"] == x["carrier"].iloc[0]
    files = {entry.path for entry in yard.list_artifacts(str(info.run_id), "model")}
    assert files == {"model/model.skops", "model/input_example.json"}
    predictor = yard.models.load(info.uri)
    assert (predictor.predict(x) == model.predict(x)).all()


def test_log_model_starts_no_subprocess(yard: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    model, x, _ = pipeline()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"log_model started a subprocess: {args}")

    with yard.start_run(experiment="churn"):
        monkeypatch.setattr(subprocess, "Popen", refuse)
        info = yard.log_model(model, input_example=x.head(5))
    assert info.requirements


def test_log_model_needs_a_run_and_a_known_flavor(yard: Client) -> None:
    model, _, _ = pipeline()
    with pytest.raises(NoActiveRunError, match="No run is active"):
        yard.log_model(model)
    with yard.start_run(experiment="churn"), pytest.raises(InvalidInputError, match=r"no flavor for a builtins\.dict"):
        yard.log_model({"weights": [1, 2]})


def test_the_same_model_is_the_same_package(yard: Client) -> None:
    model, x, _ = pipeline()
    with yard.start_run(experiment="churn"):
        first = yard.log_model(model, "a", input_example=x.head(5))
        second = yard.log_model(model, "b", input_example=x.head(5))
    assert first.digest == second.digest


def test_register_numbers_versions_and_shows_the_runs_metrics_params_and_lineage(yard: Client) -> None:
    version_frame = pd.DataFrame({"a": [1, 2, 3]})
    data = yard.datasets.commit("flights", version_frame)
    model, x, _ = pipeline()
    with yard.start_run(experiment="churn") as run:
        yard.datasets.get("flights@1").to_pandas()
        yard.log_params(depth=6)
        yard.log_metrics(auc=0.83)
        info = yard.log_model(model, input_example=x.head(5))
    first = yard.register_model("churn", info, description="first", tags={"team": "risk"})
    second = yard.register_model("churn", f"runs:/{run.id}/model")
    assert (first.version, second.version) == (1, 2)
    assert first.metrics == {"auc": 0.83}
    assert first.params == {"depth": "6"}
    assert first.lineage.run_id == run.id
    assert first.lineage.experiment == "churn"
    assert first.lineage.datasets == (f"flights@{data.number}",)
    assert first.lineage.environment_digest
    assert first.tags == {"team": "risk"}
    assert first.description == "first"
    assert first.uri == "models:/churn/1"
    assert yard.models.get("churn").version_count == 2
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        yard.models.get("chrun")
    with pytest.raises(NotFoundError, match="logged no model named 'nope'"):
        yard.register_model("churn", f"runs:/{run.id}/nope")


def test_aliases_move_with_a_history_of_who_when_from_to_and_why(yard: Client) -> None:
    _, info, x = logged(yard)
    for _ in range(3):
        yard.register_model("churn", info)
    my.set_alias("churn", "production", 1)
    my.set_alias("churn", "production", 3, reason="better on March")
    my.set_alias("churn", "production", 3)  # no move: nothing recorded
    my.set_alias("churn", "challenger", 2)
    assert my.models.get("churn").aliases == {"challenger": 2, "production": 3}
    assert my.models.get_version("churn@production").version == 3
    moves = my.models.history("churn", alias="production")
    assert [(m.from_value, m.to_value, m.reason) for m in moves] == [(None, "1", None), ("1", "3", "better on March")]
    assert all(m.actor for m in moves)
    assert my.models.delete_alias("churn", "challenger", reason="done") is not None
    assert my.models.delete_alias("churn", "challenger") is None
    actions = [h.action for h in my.models.history("churn")]
    assert actions == ["version-created"] * 3 + ["alias-set", "alias-set", "alias-set", "alias-removed"]
    with pytest.raises(NotFoundError, match=r"no alias 'prod' \(existing: \['production'\]\)"):
        my.models.load("churn@prod")
    with pytest.raises(NotFoundError, match="no version 9"):
        my.set_alias("churn", "production", 9)
    with pytest.raises(InvalidInputError, match="would read as a version"):
        my.set_alias("churn", "latest", 1)
    assert (my.models.load("churn@production").predict(x) == my.models.load("churn/1").predict(x)).all()


def test_deleting_needs_no_alias_and_an_explicit_flag_and_keeps_history(yard: Client) -> None:
    _, info, _ = logged(yard)
    for _ in range(3):
        yard.register_model("churn", info)
    yard.set_alias("churn", "production", 3)
    with pytest.raises(ConflictError, match=r"behind aliases \['production'\]"):
        yard.models.delete_version("churn/3")
    yard.models.delete_version("churn/2", reason="bad")
    assert [v.version for v in yard.models.versions("churn")] == [3, 1]
    assert yard.register_model("churn", info).version == 4  # a deleted number is never reused
    with pytest.raises(ConflictError, match="Pass confirm=True"):
        yard.models.delete_model("churn")
    yard.models.delete_model("churn", confirm=True, reason="retired")
    with pytest.raises(NotFoundError, match="No registered model named 'churn'"):
        yard.models.get("churn")
    assert yard.models.history("churn")[-1].action == "model-deleted"
    assert fsck(yard.metadata, yard.artifacts).is_clean


def test_search_by_tag_alias_status_and_metric(yard: Client) -> None:
    for auc in (0.70, 0.90, 0.80):
        _, info, _ = logged(yard, auc=auc)
        yard.register_model("churn", info, tags={"auc_band": "high" if auc > 0.75 else "low"})
    yard.set_alias("churn", "production", 2)
    yard.models.set_status("churn/1", "archived", reason="old")
    search = yard.models.search
    assert [v.version for v in search("churn", order_by="metrics.auc desc")] == [2, 3, 1]
    assert [v.version for v in search("churn", filter="metrics.auc >= 0.8")] == [3, 2]
    assert [v.version for v in search("churn", tags={"auc_band": "low"})] == [1]
    assert [v.version for v in search(alias="production")] == [2]
    assert [v.version for v in search("churn", status="ready")] == [3, 2]
    assert [v.version for v in search("churn", filter="params.kind = 'logreg' and metrics.auc < 0.85")] == [3, 1]
    assert yard.models.get_version("churn/latest").version == 3
    yard.models.set_status("churn/3", "archived")
    assert yard.models.get_version("churn").version == 2  # latest skips archived versions
    with pytest.raises(InvalidInputError, match="Cannot read the condition"):
        search("churn", filter="auc > 1")
    with pytest.raises(InvalidInputError, match="metrics take numbers"):
        search("churn", filter="metrics.auc = 'x'")


def test_tags_and_descriptions_of_models_and_versions_are_recorded(yard: Client) -> None:
    _, info, _ = logged(yard)
    yard.register_model("churn", info)
    yard.models.set_tag("churn", "owner", "risk")
    yard.models.set_tag("churn/1", "validated", "yes")
    yard.models.set_description("churn", "late flights")
    yard.models.delete_tag("churn/1", "validated")
    model = yard.models.get("churn")
    assert model.tags == {"owner": "risk"}
    assert model.description == "late flights"
    assert yard.models.get_version("churn/1").tags == {}
    assert [h.action for h in yard.models.history("churn")][1:] == ["tag-set", "tag-set", "description", "tag-removed"]


def test_events_are_ordered_and_read_from_a_cursor(yard: Client) -> None:
    _, info, _ = logged(yard)
    yard.register_model("churn", info)
    yard.set_alias("churn", "production", 1)
    yard.register_model("churn", info)
    yard.set_alias("churn", "production", 2)
    events = my.events.since(0)
    assert [e.kind for e in events] == ["model-version-created", "model-alias-moved"] * 2
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[3].payload | {"actor": None} == {
        "name": "churn",
        "alias": "production",
        "from": 1,
        "to": 2,
        "actor": None,
    }
    assert [e.kind for e in my.events.since(events[1].id)] == ["model-version-created", "model-alias-moved"]
    assert len(my.events.since(0, kinds=["model-alias-moved"])) == 2
    with pytest.raises(InvalidInputError, match="out of range"):
        my.events.since(-1)


def test_predict_accepts_many_input_kinds_and_refuses_mismatches(yard: Client) -> None:
    import pyarrow as pa

    model, info, x = logged(yard)
    predictor = yard.models.load(info.uri)
    expected = model.predict(x.head(3))
    records = x.head(3).to_dict(orient="records")
    for data in (x.head(3), pa.Table.from_pandas(x.head(3)), records, x.head(3).to_dict(orient="list")):
        assert (predictor.predict(data) == expected).all()
    assert predictor.predict(records[0]).shape == (1,)
    assert predictor.predict_proba(x.head(3)).shape == (3, 2)
    assert (predictor.predict(x.head(3)[["carrier", "distance", "dep_delay"]]) == expected).all()  # reordered
    with pytest.raises(InvalidInputError, match=r"missing \['carrier'\]"):
        predictor.predict(x.drop(columns=["carrier"]))
    with pytest.raises(InvalidInputError, match=r"unexpected \['extra'\]"):
        predictor.predict(x.assign(extra=1))
    with pytest.raises(InvalidInputError, match="column 'dep_delay' should be float, got string"):
        predictor.predict(x.assign(dep_delay="late"))
    with pytest.raises(InvalidInputError, match="should be integer, got float"):
        predictor.predict(x.assign(distance=x["distance"] + 0.5))
    with pytest.raises(InvalidInputError, match="a table of 3 columns"):
        predictor.predict(np.zeros((2, 5)))


@pytest.mark.parametrize("kind", ["forest", "hist"])
def test_tree_ensembles_load_safely_by_default(yard: Client, kind: str) -> None:
    model, info, x = logged(yard, kind)
    assert set(yard.models.manifest(info.uri).options["skops_untrusted_types"]) - {"numpy.dtype"}
    predictor = yard.models.load(info.uri, cache=False)
    assert np.allclose(predictor.predict_proba(x), model.predict_proba(x))


class Threshold:
    """A plain Python model: only pickle can store it."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, data: Any) -> Any:
        return (np.asarray(data)[:, 0] > self.cut).astype(int)


def test_pickle_needs_trust_bound_to_the_package(yard: Client) -> None:
    with yard.start_run(experiment="py"):
        with pytest.raises(InvalidInputError, match=r"trusted=True"):
            yard.log_model(Threshold(0.5))
        info = yard.log_model(Threshold(0.5), trusted=True, input_example=np.array([[0.1], [0.9]]))
    assert info.format == "pickle"
    assert yard.models.load(info.uri).predict(np.array([[0.2], [0.8]])).tolist() == [0, 1]
    grant = yard.metadata.packages.find_trust(info.digest)
    assert grant is not None
    assert grant.reason


def test_an_untrusted_pickle_package_is_refused_until_trusted(yard: Client, tmp_path: Path) -> None:
    import io
    import pickle

    import orjson

    from modelyard.registry.models import FileSpec, NewPackage, PackageManifest

    data = pickle.dumps(Threshold(0.5))
    stored = yard.artifacts.put(io.BytesIO(data))
    manifest = PackageManifest(
        flavor="python",
        format="pickle",
        model_class="tests.Threshold",
        files={"model.pkl": FileSpec(digest=str(stored.digest), size_bytes=stored.size_bytes)},
        python_version="3.11",
    )
    body = orjson.dumps(manifest.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    digest = yard.artifacts.put(io.BytesIO(body)).digest
    yard.metadata.packages.add(
        NewPackage(digest=digest, manifest_json=body.decode(), flavor="python", size_bytes=len(body), created_ms=0)
    )
    yard.register_model("py", f"blake3:{digest.hex}")
    with pytest.raises(UnsafeModelError, match="runs code when loaded, and it is not trusted"):
        yard.models.load("py/1")
    with pytest.raises(InvalidInputError, match="needs a reason"):
        yard.models.trust("py/1", reason=" ")
    yard.models.trust("py/1", reason="built by our CI from commit abc")
    assert yard.models.load("py/1").predict(np.array([[0.9]])).tolist() == [1]


def test_gc_keeps_model_packages_and_fsck_is_clean(yard: Client, tmp_path: Path) -> None:
    _, info, x = logged(yard)
    yard.register_model("churn", info)
    gc(yard.metadata, yard.artifacts, dry_run=False, grace_s=0)
    assert fsck(yard.metadata, yard.artifacts).is_clean
    assert yard.models.load("churn/1", cache=False).predict(x).shape == (len(x),)
    folder = yard.models.download("churn/1", tmp_path / "pkg")
    assert {p.name for p in folder.iterdir()} == {"model.skops", "input_example.json", "manifest.json"}
    with pytest.raises(ConflictError, match="is not empty"):
        yard.models.download("churn/1", folder)


def test_an_onnx_form_is_stored_with_its_parity_and_loads(yard: Client) -> None:
    model, x, _ = pipeline()
    x = x.assign(distance=x["distance"].astype(float))  # skl2onnx maps int64 columns to int inputs; keep floats
    model.fit(x, (x["dep_delay"] > 15).astype(int))
    with yard.start_run(experiment="onnx"):
        info = yard.log_model(model, input_example=x.head(20), onnx=True)
    assert info.representations == ("onnx",)
    rep = yard.models.manifest(info.uri).representations[0]
    assert rep.max_abs_difference is not None
    assert rep.max_abs_difference <= 1e-4
    fast = yard.models.load(info.uri, representation="onnx")
    assert np.allclose(fast.predict_proba(x.head(50)), model.predict_proba(x.head(50)), atol=1e-4)
    with pytest.raises(NotFoundError, match="has no 'onnx' form"):
        yard.models.load(logged(yard)[1].uri, representation="onnx")
