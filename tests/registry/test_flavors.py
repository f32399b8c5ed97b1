"""Model flavors: XGBoost, LightGBM, ONNX and torch packages round-trip through the loader guard; hostile ones don't."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors import Saved, default_flavors
from modelyard.registry.flavors.onnx import export_sklearn, parity
from modelyard.registry.loading import Loaders
from tests.registry.boosters import package_of

# torch >= 2.9 deprecates every torch.jit entry point (trace, script, save, load); TorchScript is still the
# only torch format that carries the architecture without naming Python code, so these warnings are expected.
TORCHSCRIPT_DEPRECATED = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")


# -- helpers ----------------------------------------------------------------------------------------------------
_package = package_of


@pytest.fixture
def loaders() -> Loaders:
    registry = Loaders()
    for flavor in default_flavors():
        registry.register(flavor)
    return registry


def _round_trip(
    loaders: Loaders, model: object, example: object, expected_flavor: str, *, trusted: bool = False
) -> tuple[Saved, Any]:
    flavor, saved = loaders.save(model, flavor=None, trusted=trusted, example=example)
    assert flavor.name == expected_flavor
    return saved, loaders.load(_package(flavor.name, saved, trusted=trusted), what="test")


def _frame(rows: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "dep delay": rng.normal(size=rows),
            "distance": rng.gamma(2.0, 300.0, size=rows),
            "carrier": pd.Categorical(rng.choice(["AA", "DL", "UA", "WN"], size=rows)),
        }
    )


def _close(actual: Any, expected: Any, tolerance: float = 1e-6) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64), atol=tolerance
    )


# -- xgboost ------------------------------------------------------------------------------------------------------
def test_xgboost_wrappers_round_trip(loaders: Loaders) -> None:
    import xgboost as xgb

    frame = _frame()
    late = (frame["dep delay"] + (frame["carrier"] == "UA") > 0.3).astype(int)
    three = pd.cut(frame["distance"], 3, labels=False).astype(int)
    models: list[tuple[Any, Any]] = [
        (xgb.XGBClassifier(n_estimators=8, max_depth=3, enable_categorical=True), late),
        (xgb.XGBClassifier(n_estimators=8, max_depth=3, enable_categorical=True), three),
        (xgb.XGBRegressor(n_estimators=8, max_depth=3, enable_categorical=True), frame["distance"]),
    ]
    for model, target in models:
        model.fit(frame, target)
        saved, loaded = _round_trip(loaders, model, frame, "xgboost")
        assert saved.format == "json"
        assert saved.files["model.json"][:1] == b"{"  # XGBoost's JSON model, not a pickle
        np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
        if hasattr(model, "predict_proba"):
            assert saved.methods == ("predict", "predict_proba")
            _close(loaded.predict_proba(frame), model.predict_proba(frame))
    as_strings = frame.assign(carrier=frame["carrier"].astype(str))  # what a JSON request gives
    np.testing.assert_array_equal(loaded.predict(as_strings), models[-1][0].predict(frame))


def test_xgboost_ranker_and_booster_round_trip(loaders: Loaders) -> None:
    import xgboost as xgb

    frame = _frame()[["dep delay", "distance"]]
    relevance = pd.qcut(frame["dep delay"], 3, labels=False).astype(int)
    ranker = xgb.XGBRanker(n_estimators=6).fit(frame, relevance, qid=np.repeat(np.arange(24), 10))
    saved, loaded = _round_trip(loaders, ranker, frame, "xgboost")
    assert saved.options == {"wrapper": "ranker"}
    _close(loaded.predict(frame), ranker.predict(frame))

    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(frame, label=relevance > 0), 6)
    saved, loaded = _round_trip(loaders, booster, frame, "xgboost")
    assert saved.options == {"wrapper": "booster"}
    expected = booster.predict(xgb.DMatrix(frame))
    _close(loaded.predict(frame), expected)
    _close(loaded.predict(frame.to_numpy()), expected)  # the model's feature names are applied
    _close(loaded.predict(frame[["distance", "dep delay"]]), expected)  # reordered to the model's columns


@pytest.mark.parametrize("wrapper", ["os.system", "xgboost.sklearn.XGBClassifier", None, ["classifier"]])
def test_xgboost_package_naming_an_unknown_wrapper_is_refused(loaders: Loaders, wrapper: object) -> None:
    import xgboost as xgb

    frame = _frame()[["dep delay", "distance"]]
    model = xgb.XGBRegressor(n_estimators=2).fit(frame, frame["distance"])
    _, saved = loaders.save(model, flavor=None, trusted=False, example=frame)
    with pytest.raises(UnsafeModelError, match=r"names wrapper .* which is not one of \['booster', 'classifier'"):
        loaders.load(_package("xgboost", saved, options={"wrapper": wrapper}), what="test")


def test_xgboost_custom_objective_is_refused(loaders: Loaders) -> None:
    import xgboost as xgb

    frame = _frame()[["dep delay", "distance"]]

    def squared(labels: np.ndarray, predt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return predt - labels, np.ones_like(predt)

    model = xgb.XGBRegressor(n_estimators=2, objective=squared).fit(frame, frame["distance"])
    with pytest.raises(InvalidInputError, match="custom Python objective"):
        loaders.save(model, flavor=None, trusted=False, example=frame)


# -- lightgbm -----------------------------------------------------------------------------------------------------
def test_lightgbm_classifiers_keep_labels_names_and_categories(loaders: Loaders) -> None:
    import lightgbm as lgb

    frame = _frame()
    labels = np.where(frame["dep delay"] + (frame["carrier"] == "DL") > 0.2, "late", "on time")
    codes = np.asarray([3, 7, 9])[pd.qcut(frame["distance"], 3, labels=False).astype(int)]
    for target in (labels, codes):
        model = lgb.LGBMClassifier(n_estimators=12, min_child_samples=5, verbose=-1).fit(frame, target)
        saved, loaded = _round_trip(loaders, model, frame, "lightgbm")
        assert saved.format == "text"
        assert saved.options["classes"] == model.classes_.tolist()
        assert saved.options["feature_names"] == ["dep delay", "distance", "carrier"]  # the text says dep_delay
        np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
        _close(loaded.predict_proba(frame), model.predict_proba(frame))
        assert loaded.predict_proba(frame).shape == (len(frame), len(model.classes_))
    shuffled = frame[["carrier", "distance", "dep delay"]].assign(carrier=frame["carrier"].astype(str))
    _close(loaded.predict_proba(shuffled), model.predict_proba(frame))


def test_lightgbm_regressor_and_booster_round_trip(loaders: Loaders) -> None:
    import lightgbm as lgb

    frame = _frame()
    model = lgb.LGBMRegressor(n_estimators=12, verbose=-1).fit(frame, frame["distance"] * 0.1)
    saved, loaded = _round_trip(loaders, model, frame, "lightgbm")
    assert saved.options["wrapper"] == "regressor"
    _close(loaded.predict(frame), model.predict(frame))

    train = lgb.Dataset(frame, label=frame["dep delay"], params={"verbose": -1})
    booster = lgb.train({"objective": "regression", "verbose": -1, "min_data_in_leaf": 5}, train, num_boost_round=8)
    saved, loaded = _round_trip(loaders, booster, frame, "lightgbm")
    assert saved.options == {"wrapper": "booster", "feature_names": ["dep delay", "distance", "carrier"]}
    _close(loaded.predict(frame), booster.predict(frame))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"wrapper": "os.system"}, r"names wrapper 'os.system'"),
        ({"wrapper": "classifier", "classes": ["a"]}, r"expected 2 distinct labels"),
        ({"wrapper": "classifier", "classes": [{"__class__": "x"}, 1]}, r"expected 2 distinct labels"),
        ({"wrapper": "regressor", "feature_names": "dep delay"}, r"expected a list of strings"),
    ],
)
def test_lightgbm_package_with_bad_options_is_refused(loaders: Loaders, options: dict[str, Any], match: str) -> None:
    import lightgbm as lgb

    frame = _frame()[["dep delay", "distance"]]
    model = lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(frame, frame["dep delay"] > 0)
    _, saved = loaders.save(model, flavor=None, trusted=False, example=frame)
    with pytest.raises(UnsafeModelError, match=match):
        loaders.load(_package("lightgbm", saved, options=options), what="test")


# -- onnx ---------------------------------------------------------------------------------------------------------
def test_onnx_model_round_trips(loaders: Loaders) -> None:
    import onnx
    import onnxruntime as ort
    from sklearn.linear_model import LogisticRegression

    features = np.random.default_rng(3).normal(size=(120, 4))
    classifier = LogisticRegression().fit(features, features[:, 0] + features[:, 1] > 0)
    proto = onnx.load_model_from_string(export_sklearn(classifier, features))
    saved, loaded = _round_trip(loaders, proto, features, "onnx")
    assert saved.methods == ("predict", "predict_proba")
    direct = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    label, probabilities = direct.run(None, {"X": features.astype(np.float32)})
    np.testing.assert_array_equal(loaded.predict(features), label)
    _close(loaded.predict_proba(features), probabilities)
    assert parity(classifier.predict(features), loaded.predict(features)) == 0.0
    assert parity(classifier.predict_proba(features), loaded.predict_proba(features)) < 1e-6


def test_onnx_export_of_a_column_pipeline_matches_sklearn(loaders: Loaders) -> None:
    import onnx
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = _frame().assign(carrier=lambda f: f["carrier"].astype(str))
    target = np.where(frame["dep delay"] > 0.5, "late", np.where(frame["dep delay"] < -0.5, "early", "on time"))
    columns = ColumnTransformer(
        [
            ("num", StandardScaler(), ["dep delay", "distance"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["carrier"]),
        ]
    )
    pipeline = Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(frame, target)
    proto = onnx.load_model_from_string(export_sklearn(pipeline, frame.head(20)))
    assert [i.name for i in proto.graph.input] == ["dep_delay", "distance", "carrier"]  # skl2onnx's names
    _, loaded = _round_trip(loaders, proto, frame, "onnx")
    assert parity(pipeline.predict_proba(frame), loaded.predict_proba(frame)) < 1e-4
    assert parity(pipeline.predict(frame), loaded.predict(frame)) == 0.0
    assert parity(pipeline.predict(frame), np.roll(pipeline.predict(frame), 1)) == float("inf")
    with pytest.raises(InvalidInputError, match=r"lacks \['carrier'\]"):
        loaded.predict(frame.drop(columns="carrier"))


def test_onnx_export_names_what_skl2onnx_cannot_convert() -> None:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    class Doubler(TransformerMixin, BaseEstimator):
        def fit(self, features: Any, target: Any = None) -> Doubler:
            return self

        def transform(self, features: Any) -> Any:
            return features * 2

    features = np.random.default_rng(5).normal(size=(30, 2))
    pipeline = Pipeline([("double", Doubler()), ("ridge", Ridge())]).fit(features, features[:, 0])
    with pytest.raises(InvalidInputError, match=r"cannot convert this Pipeline: .*Doubler.* ONNX form is optional"):
        export_sklearn(pipeline, features)


def _external_model(where: str) -> Any:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnx.external_data_helper import set_external_data

    weights = numpy_helper.from_array(np.ones((3, 1), dtype=np.float32), name="W")
    set_external_data(weights, location="weights.bin")
    weights.data_location = TensorProto.EXTERNAL
    weights.ClearField("raw_data")
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])]
    if where == "initializer":
        graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "g", inputs, outputs, [weights])
    else:  # inside a Constant node's attribute
        nodes = [helper.make_node("Constant", [], ["W"], value=weights), helper.make_node("MatMul", ["X", "W"], ["Y"])]
        graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert isinstance(model, onnx.ModelProto)
    return model


@pytest.mark.parametrize("where", ["initializer", "attribute"])
def test_onnx_with_external_data_is_refused(
    loaders: Loaders, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_bytes(np.ones(3, dtype=np.float32).tobytes())
    model = _external_model(where)
    with pytest.raises(InvalidInputError, match=r"keeps tensors \['W'\] in external files"):
        loaders.save(model, flavor=None, trusted=False, example=None)
    saved = Saved(format="onnx", files={"model.onnx": model.SerializeToString()}, model_class="onnx.ModelProto")
    with pytest.raises(UnsafeModelError, match=r"keeps tensors \['W'\] as external data.*Nothing was loaded"):
        loaders.load(_package("onnx", saved), what="test")


def test_parity_compares_numbers_by_difference_and_labels_by_equality() -> None:
    assert parity(np.array([1.0, 2.0]), np.array([[1.0], [2.5]], dtype=np.float32)) == pytest.approx(0.5)
    assert parity(np.array(["a", "b"]), np.array(["a", "b"], dtype=object)) == 0.0
    assert parity(np.array([0, 1]), np.array([0, 2])) == float("inf")
    assert parity(np.array([1.0, np.nan]), np.array([1.0, np.nan])) == 0.0
    assert parity(np.array([1.0, np.nan]), np.array([1.0, 2.0])) == float("inf")
    assert parity(np.array([1.0, 2.0]), np.array([1.0])) == float("inf")


# -- torch --------------------------------------------------------------------------------------------------------
def _net() -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(8, 2), torch.nn.Softmax(dim=-1)
    )


def test_torch_module_round_trips_as_onnx_by_default(loaders: Loaders) -> None:
    import torch

    features = np.random.default_rng(11).normal(size=(16, 3)).astype(np.float32)
    net = _net()  # left in training mode: exporting runs it in eval mode and restores the flag
    saved, loaded = _round_trip(loaders, net, features[:4], "torch")
    assert saved.format == "onnx"
    assert net.training
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(features)).numpy()
    _close(loaded.predict(features), expected)
    with pytest.raises(InvalidInputError, match="needs an input example"):
        loaders.save(net, flavor=None, trusted=False, example=None)


@TORCHSCRIPT_DEPRECATED
@pytest.mark.parametrize("traced", [True, False])
def test_trusted_torch_module_round_trips_as_torchscript(loaders: Loaders, traced: bool) -> None:
    import torch

    features = np.random.default_rng(11).normal(size=(16, 3))
    net = _net()  # left in training mode: saving must not depend on it, loading puts eval mode on
    saved, loaded = _round_trip(loaders, net, features if traced else None, "torch", trusted=True)
    assert saved.format == "torchscript"
    with pytest.raises(UnsafeModelError, match="runs code when loaded, and it is not trusted"):
        loaders.load(_package("torch", saved), what="test")
    assert net.training
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(features.astype(np.float32))).numpy()
    result = loaded.predict(features)
    assert isinstance(result, np.ndarray)
    _close(result, expected)
    _close(loaded.predict(pd.DataFrame(features, columns=["a", "b", "c"])), expected)
    _close(loaded.predict(torch.from_numpy(features.astype(np.float32))), expected)


class _Trap:
    """Unpickling this creates a file: what a hostile torch.save archive would do instead."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Path.touch, (str(self.path),))


@TORCHSCRIPT_DEPRECATED
def test_torch_save_pickle_is_refused_without_being_loaded(loaders: Loaders, tmp_path: Path) -> None:
    import torch

    sentinel = tmp_path / "pwned"
    net = _net()
    net.trap = _Trap(sentinel)
    buffer = io.BytesIO()
    torch.save(net, buffer)
    saved = Saved(format="torchscript", files={"model.pt": buffer.getvalue()}, model_class="torch.nn.Sequential")
    with pytest.raises(UnsafeModelError, match="runs code when loaded, and it is not trusted"):
        loaders.load(_package("torch", saved), what="test")
    with pytest.raises(UnsafeModelError, match=r"is not a TorchScript archive .* Nothing was loaded"):
        loaders.load(_package("torch", saved, trusted=True), what="test")  # even trusted, never torch.load
    assert not sentinel.exists()
    torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)  # proof that the payload is live
    assert sentinel.exists()


@TORCHSCRIPT_DEPRECATED
@pytest.mark.parametrize("name", ["archive/../../escape.py", "/archive/code/x.py", "archive\\code\\x.py"])
def test_torchscript_archive_with_unsafe_member_names_is_refused(loaders: Loaders, name: str) -> None:
    _, saved = loaders.save(_net(), flavor=None, trusted=True, example=np.zeros((2, 3)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(saved.files["model.pt"])) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(name, b"print('hi')")
    hostile = Saved(format="torchscript", files={"model.pt": buffer.getvalue()}, model_class=saved.model_class)
    with pytest.raises(UnsafeModelError, match="unsafe names"):
        loaders.load(_package("torch", hostile, trusted=True), what="test")


# -- import weight and missing libraries ----------------------------------------------------------------------
def test_flavors_import_no_ml_library() -> None:
    code = (
        "import sys, modelyard.registry.flavors as f; f.default_flavors(); "
        "print(sorted(m for m in ('xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'skl2onnx', 'torch', 'sklearn',"
        " 'pandas', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@TORCHSCRIPT_DEPRECATED
@pytest.mark.parametrize("library", ["xgboost", "onnxruntime", "torch"])
def test_missing_library_says_which_extra_to_install(
    loaders: Loaders, library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx
    import torch
    import xgboost as xgb
    from sklearn.linear_model import LinearRegression

    features = np.random.default_rng(2).normal(size=(20, 3))
    models = {
        "xgboost": xgb.XGBRegressor(n_estimators=2).fit(features, features[:, 0]),
        "onnxruntime": onnx.load_model_from_string(
            export_sklearn(LinearRegression().fit(features, features[:, 0]), features)
        ),
        "torch": torch.nn.Linear(3, 1),
    }
    trusted = library == "torch"  # the TorchScript form needs torch to load; the default ONNX form does not
    flavor, saved = loaders.save(models[library], flavor=None, trusted=trusted, example=features)
    package = _package(flavor.name, saved, trusted=trusted)
    monkeypatch.setitem(sys.modules, library, None)  # what `import` sees when the library is not installed
    extra = {"onnxruntime": "onnx"}.get(library, library)
    with pytest.raises(InvalidInputError, match=rf"{library} is not installed.*pip install 'modelyard\[{extra}\]'"):
        loaders.load(package, what="test")
