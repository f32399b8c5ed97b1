"""T10, tree ensembles: real fitted models whose node arrays were edited in their stored files.

scikit-learn's compiled tree code follows child and feature indices without bounds checks, so
``trees.check_trees`` must refuse every skops edit below before anything predicts; XGBoost's JSON and
LightGBM's model text hold the same kind of indices. Each tampered package is loaded and predicted in a
fresh interpreter (``hostile.load_in_subprocess``): a check that misses an edit shows up as a crashed or
hung process in one test, not as a dead test session.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeClassifier

import modelyard
from tests.registry import hostile
from tests.registry.hostile import SkopsArchive

ROWS = [[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]]
FEATURES = np.random.RandomState(0).rand(120, 3)
LABELS = ((FEATURES[:, 0] + FEATURES[:, 2]) > 1).astype(int)
BIG = 10**8  # an index far past any array here: reading it faults
TIMEOUT = 60  # seconds for one load + predict in a fresh interpreter (a few seconds when nothing hangs)


@pytest.fixture
def client(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[modelyard.Client]:
    made = hostile.open_client(tmp_path / "home", monkeypatch)
    yield made
    made.close()


def fitted(kind: type, **params: Any) -> Any:
    target = LABELS if kind in (DecisionTreeClassifier, RandomForestClassifier) else FEATURES[:, 0] + FEATURES[:, 2]
    return kind(random_state=0, **params).fit(FEATURES, target)


def store_skops(client: modelyard.Client, data: bytes) -> None:
    hostile.hostile(client, flavor="sklearn", format="skops", files={"model.skops": data})


def refused_in_subprocess(client: modelyard.Client, pattern: str) -> None:
    hostile.assert_refused(
        hostile.load_in_subprocess(client, "evil/1", ROWS, timeout=TIMEOUT), "UnsafeModelError", pattern
    )


def tree_nodes(archive: SkopsArchive, index: int = 0) -> dict[str, Any]:
    """The ``nodes`` array node of the index-th ``Tree`` in the schema."""
    return archive.nodes("Tree")[index]["content"]["content"]["nodes"]  # type: ignore[no-any-return]


def internal(nodes: np.ndarray, field: str = "left_child") -> np.ndarray:
    return np.flatnonzero(nodes[field] != -1)


# -- controls: untampered models round-trip through the archive editor and load by default ---------------------
@pytest.mark.parametrize(
    "kind",
    [
        DecisionTreeClassifier,
        RandomForestClassifier,
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
    ],
)
def test_untampered_tree_models_load(client: modelyard.Client, kind: type) -> None:
    params = {"max_iter": 3} if kind is HistGradientBoostingRegressor else {}
    params |= {"n_estimators": 3} if kind not in (DecisionTreeClassifier, HistGradientBoostingRegressor) else {}
    model = fitted(kind, max_depth=3, **params)
    store_skops(client, SkopsArchive.of(sio.dumps(model)).dumps())
    np.testing.assert_allclose(client.models.load("evil/1", cache=False).predict(np.asarray(ROWS)), model.predict(ROWS))


# -- DecisionTree: sklearn.tree._tree.Tree node arrays -------------------------------------------------------
def _second_internal_points_back(nodes: np.ndarray) -> None:
    nodes["left_child"][internal(nodes)[1]] = 0


def _leaf_gets_a_right_child(nodes: np.ndarray) -> None:
    nodes["right_child"][np.flatnonzero(nodes["left_child"] == -1)[0]] = 1


NODE_EDITS: dict[str, tuple[Callable[[np.ndarray], None], str]] = {
    "child-past-node-count": (lambda n: n["left_child"].__setitem__(0, len(n) + 5), "child index outside"),
    "child-pointing-backwards": (_second_internal_points_back, "pointing backwards"),
    "self-link": (lambda n: n["right_child"].__setitem__(0, 0), "pointing backwards"),
    "feature-equal-to-n-features": (lambda n: n["feature"].__setitem__(0, 3), r"feature outside \[0, 3\)"),
    "feature-far-past-n-features": (lambda n: n["feature"].__setitem__(0, BIG), r"feature outside \[0, 3\)"),
    "negative-feature-on-internal-node": (lambda n: n["feature"].__setitem__(0, -2), r"feature outside \[0, 3\)"),
    "node-with-one-child": (lambda n: n["right_child"].__setitem__(0, -1), "exactly one child"),
    "leaf-with-a-child": (_leaf_gets_a_right_child, "exactly one child"),
}


def _node_count_too_small(archive: SkopsArchive) -> None:
    # (a node_count above the array length is clamped by Tree.__setstate__; one below it hides live nodes)
    archive.nodes("Tree")[0]["content"]["content"]["node_count"] = hostile.json_node(3)


def _values_of_the_wrong_shape(archive: SkopsArchive) -> None:
    content = archive.nodes("Tree")[0]["content"]["content"]
    count = len(archive.array(content["nodes"]))
    archive.set_array(content["values"], np.zeros((count, 1, 5)))


def _tree_claims_more_features(archive: SkopsArchive) -> None:
    archive.nodes("Tree")[0]["__reduce__"]["args"]["content"][0] = hostile.json_node(5)


SCHEMA_EDITS: dict[str, tuple[Callable[[SkopsArchive], None], str]] = {
    "node-count-smaller-than-the-nodes": (_node_count_too_small, "child index outside"),
    "value-array-of-the-wrong-shape": (_values_of_the_wrong_shape, "values of shape|Wrong shape for value array"),
    "tree-n-features-disagreeing-with-its-estimator": (_tree_claims_more_features, "splits on 5 features"),
}


@pytest.mark.parametrize("case", sorted(NODE_EDITS) + sorted(SCHEMA_EDITS))
def test_tampered_decision_tree_is_refused(client: modelyard.Client, case: str) -> None:
    archive = SkopsArchive.of(sio.dumps(fitted(DecisionTreeClassifier, max_depth=3)))
    if case in NODE_EDITS:
        edit, pattern = NODE_EDITS[case]
        archive.edit_array(tree_nodes(archive), edit)
    else:
        schema_edit, pattern = SCHEMA_EDITS[case]
        schema_edit(archive)
    store_skops(client, archive.dumps())
    refused_in_subprocess(client, pattern)


@pytest.mark.parametrize("case", ["child-past-node-count", "feature-far-past-n-features", "child-pointing-backwards"])
@pytest.mark.parametrize("kind", [RandomForestClassifier, ExtraTreesRegressor, GradientBoostingRegressor])
def test_tampered_forest_is_refused(client: modelyard.Client, kind: type, case: str) -> None:
    archive = SkopsArchive.of(sio.dumps(fitted(kind, n_estimators=3, max_depth=3)))
    edit, pattern = NODE_EDITS[case]
    archive.edit_array(tree_nodes(archive, index=2), edit)  # the last tree, not only the first
    store_skops(client, archive.dumps())
    refused_in_subprocess(client, pattern)


# -- HistGradientBoosting: TreePredictor node arrays and bitsets ---------------------------------------------
def _predictor(archive: SkopsArchive, index: int = 0) -> dict[str, Any]:
    return archive.nodes("TreePredictor")[index]["content"]["content"]  # type: ignore[no-any-return]


def _inner(nodes: np.ndarray) -> np.ndarray:
    return np.flatnonzero(nodes["is_leaf"] == 0)


def _categorical_root(nodes: np.ndarray, bitset: int) -> None:
    nodes["is_categorical"][0], nodes["bitset_idx"][0] = 1, bitset


PREDICTOR_EDITS: dict[str, tuple[Callable[[np.ndarray], None], str]] = {
    "left-past-the-nodes": (lambda n: n["left"].__setitem__(0, len(n) + 5), "child index outside"),
    "right-pointing-backwards": (lambda n: n["right"].__setitem__(_inner(n)[1], 0), "pointing backwards"),
    "feature-idx-equal-to-n-features": (lambda n: n["feature_idx"].__setitem__(0, 3), r"feature outside \[0, 3\)"),
    "negative-feature-idx": (lambda n: n["feature_idx"].__setitem__(0, -1), r"feature outside \[0, 3\)"),
    "bitset-idx-past-the-bitsets": (
        lambda n: _categorical_root(n, 5),
        "points outside its categorical bitsets|categorical split on a feature that is not categorical",
    ),
}


@pytest.mark.parametrize("case", [*sorted(PREDICTOR_EDITS), "bitsets-of-the-wrong-shape"])
def test_tampered_hist_gradient_boosting_is_refused(client: modelyard.Client, case: str) -> None:
    archive = SkopsArchive.of(sio.dumps(fitted(HistGradientBoostingRegressor, max_iter=3, max_depth=3)))
    if case in PREDICTOR_EDITS:
        edit, pattern = PREDICTOR_EDITS[case]
        archive.edit_array(_predictor(archive, index=2)["nodes"], edit)
    else:
        archive.set_array(_predictor(archive)["raw_left_cat_bitsets"], np.zeros((1, 4), dtype=np.uint32))
        pattern = "categorical bitsets of the wrong shape"
    store_skops(client, archive.dumps())
    refused_in_subprocess(client, pattern)


@pytest.mark.parametrize("holder", ["unfitted-transformer", "fitted-non-tree-estimator"])
def test_tree_outside_an_estimator_is_refused(client: modelyard.Client, holder: str) -> None:
    tree = fitted(DecisionTreeClassifier, max_depth=3).tree_
    if holder == "unfitted-transformer":
        model: Any = FunctionTransformer(kw_args={"tree": tree})
    else:
        model = LogisticRegression().fit(FEATURES, LABELS)
        model.extra_ = tree
    store_skops(client, sio.dumps(model))
    refused_in_subprocess(client, "sits outside any fitted tree estimator")


# -- edits that bound-check against the wrong estimator ------------------------------------------------------
def test_gradient_boosting_stage_tree_cannot_read_outside_the_input(client: modelyard.Client) -> None:
    """GradientBoosting validates X against its first stage only, then walks every stage's tree in Cython.

    A later stage's DecisionTreeRegressor and its Tree both claim BIG + 1 features, so the tree passes the
    check against its own estimator, while the input has 3 columns: predict reads X[i, BIG].
    """
    archive = SkopsArchive.of(sio.dumps(fitted(GradientBoostingRegressor, n_estimators=2, max_depth=2)))
    stage = archive.nodes("DecisionTreeRegressor")[1]
    stage["content"]["content"]["n_features_in_"] = hostile.json_node(BIG + 1)
    tree = archive.nodes("Tree")[1]
    tree["__reduce__"]["args"]["content"][0] = hostile.json_node(BIG + 1)
    archive.edit_array(tree["content"]["content"]["nodes"], lambda n: n["feature"].__setitem__(internal(n), BIG - 1))
    store_skops(client, archive.dumps())
    refused_in_subprocess(client, "feature|tree")


def test_hist_gradient_boosting_preprocessor_cannot_narrow_the_input(client: modelyard.Client) -> None:
    """With a ``_preprocessor`` HGB checks the input against the preprocessor, not against n_features_in_.

    The crafted model has a (skops-trusted) ColumnTransformer keeping one column, n_features_in_ = BIG + 1
    and splits on feature BIG - 1: every split passes the check, and predict reads far past the one column.
    """
    model = fitted(HistGradientBoostingRegressor, max_iter=2, max_depth=2)
    model._preprocessor = ColumnTransformer([("keep", "passthrough", [0])], remainder="drop").fit(FEATURES)
    model.n_features_in_ = BIG + 1
    for stage in model._predictors:
        for predictor in stage:
            predictor.nodes["feature_idx"][_inner(predictor.nodes)] = BIG - 1
    store_skops(client, sio.dumps(model))  # the model is never used in this process
    refused_in_subprocess(client, "feature|tree")


def test_hist_gradient_boosting_categorical_split_on_a_numeric_feature_is_refused(client: modelyard.Client) -> None:
    """A categorical split on a feature the bin mapper calls numeric makes the predictor read row
    ``f_idx_map[feature]`` of ``known_cat_bitsets``, which has no rows: an out-of-bounds read in Cython.
    """
    archive = SkopsArchive.of(sio.dumps(fitted(HistGradientBoostingRegressor, max_iter=2, max_depth=2)))
    for index in range(len(archive.nodes("TreePredictor"))):
        predictor = _predictor(archive, index)
        archive.edit_array(predictor["nodes"], lambda n: _categorical_root(n, 0))
        for field in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
            archive.set_array(predictor[field], np.zeros((1, 8), dtype=np.uint32))
    store_skops(client, archive.dumps())
    refused_in_subprocess(client, "categorical")


# -- XGBoost and LightGBM trees: neither library bounds-checks the indices in its own model files ----------
XGBOOST_TAMPER = {
    "split-index-past-the-features": lambda tree: tree["split_indices"].__setitem__(0, BIG),
    "left-child-past-the-nodes": lambda tree: tree["left_children"].__setitem__(0, BIG),
    "negative-child": lambda tree: tree["left_children"].__setitem__(0, -5),
    "self-loop": lambda tree: tree.update(left_children=[0, *tree["left_children"][1:]]),
}


@pytest.mark.parametrize("case", sorted(XGBOOST_TAMPER))
def test_tampered_xgboost_tree_is_refused(client: modelyard.Client, case: str) -> None:
    document = json.loads(hostile.xgboost_json())
    XGBOOST_TAMPER[case](document["learner"]["gradient_booster"]["model"]["trees"][0])
    data = json.dumps(document).encode()
    hostile.hostile(client, flavor="xgboost", format="json", options={"wrapper": "booster"}, files={"model.json": data})
    refused_in_subprocess(client, "tree|cannot read")


def _lightgbm_tampered(pattern: str, replacement: str, *, keep_tree_sizes: bool = False) -> bytes:
    text = hostile.lightgbm_text().decode()
    if not keep_tree_sizes:  # without tree_sizes LightGBM parses the trees one after another
        text = re.sub(r"^tree_sizes=.*\n", "", text, flags=re.M)
    return re.sub(pattern, replacement, text, count=1, flags=re.M).encode()


LIGHTGBM_TAMPER = {
    "split-feature-past-the-features": (r"^split_feature=\d+", "split_feature=100000000", False),
    "left-child-past-the-leaves": (r"^left_child=-?\d+", "left_child=100000000", False),
    "negative-child-past-the-leaves": (r"^left_child=-?\d+", "left_child=-100000000", False),
    "self-loop": (r"^left_child=-?\d+", "left_child=0", False),
    "tree-sizes-out-of-step-with-the-trees": (r"^split_feature=\d+", "split_feature=1000", True),
}


@pytest.mark.parametrize("case", sorted(LIGHTGBM_TAMPER))
def test_tampered_lightgbm_tree_is_refused(client: modelyard.Client, case: str) -> None:
    pattern, replacement, keep = LIGHTGBM_TAMPER[case]
    data = _lightgbm_tampered(pattern, replacement, keep_tree_sizes=keep)
    hostile.hostile(client, flavor="lightgbm", format="text", options={"wrapper": "booster"}, files={"model.txt": data})
    refused_in_subprocess(client, "tree|cannot read")


LIGHTGBM_ODD = {
    "huge-tree-index": lambda: _lightgbm_tampered(r"^Tree=0", "Tree=100000000"),
    "negative-tree-index": lambda: _lightgbm_tampered(r"^Tree=0", "Tree=-5"),
    "garbage": lambda: b"tree\nversion=v4\n\x00\x01garbage=[[[\n",
    "not-utf-8": lambda: b"\xff\xfe\x00tree",
    "empty": lambda: b"",
    "negative-class-count": lambda: _lightgbm_tampered(r"^num_class=\d+", "num_class=-3"),
}


@pytest.mark.parametrize("case", sorted(LIGHTGBM_ODD))
def test_lightgbm_text_with_odd_tree_indices_or_garbage_is_a_clean_error(client: modelyard.Client, case: str) -> None:
    """A clean modelyard error, or (for a tree index LightGBM ignores) the untampered model's predictions."""
    import lightgbm as lgb

    expected = lgb.Booster(model_str=hostile.lightgbm_text().decode()).predict(np.asarray(ROWS)).tolist()
    data = LIGHTGBM_ODD[case]()
    hostile.hostile(client, flavor="lightgbm", format="text", options={"wrapper": "booster"}, files={"model.txt": data})
    outcome = hostile.load_in_subprocess(client, "evil/1", ROWS, timeout=TIMEOUT)
    assert outcome.returncode == 0, f"the loading process died (returncode {outcome.returncode}): {outcome.output}"
    if outcome.error is None:
        assert case.endswith("tree-index"), f"garbage loaded and predicted: {outcome.output}"
        assert json.loads(outcome.output.splitlines()[0])["predicted"] == pytest.approx(expected)
    else:
        hostile.assert_refused(outcome, "UnsafeModelError", "cannot read|Nothing was loaded")
