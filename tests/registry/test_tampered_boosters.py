"""T10 for XGBoost and LightGBM: real fitted models whose stored file was edited, loaded in a fresh interpreter.

Neither library checks the indices in its own model file: a child index out of range loads fine and then
segfaults XGBoost when it predicts, and a tree block out of step with ``tree_sizes`` aborts LightGBM inside
its OpenMP parser. So the flavors check the file first (``flavors.boosted_trees``). Every tampered package
goes through ``Loaders.load`` and ``predict`` in a child process (``boosters.in_child``) that prints the
refusal, so a check that misses an edit is one failed test (a dead child), not a dead session. The controls
show the unedited files still load and predict as before, and every kind of model round-trips in-process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors import default_flavors
from modelyard.registry.loading import Loaders
from tests.registry.boosters import (
    BIG,
    ROWS,
    assert_refused,
    booster_saved,
    drop,
    first_leaf,
    in_child,
    in_header,
    in_tree,
    in_tree_sizes,
    insert_line,
    internal_nodes,
    leaf_nodes,
    lightgbm_texts,
    package_of,
    put,
    resized,
    training_frame,
    training_target,
    tree_of,
    value_at,
    xgboost_document,
    xgboost_models,
)


@pytest.fixture(scope="module")
def loaders() -> Loaders:
    registry = Loaders()
    for flavor in default_flavors():
        registry.register(flavor)
    return registry


def _rows(kind: str) -> np.ndarray:
    return ROWS if kind.startswith("categorical") else ROWS[:, :2]  # the other models were fit on the numeric columns


# -- XGBoost: edits of the JSON document ------------------------------------------------------------------------
def _on_tree(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda document: change(tree_of(document))


def _relink(node: int, left: int) -> Callable[[dict[str, Any]], None]:
    """Give internal node ``node`` (by position among the internal nodes) the children ``left``, ``left + 1``."""

    def change(tree: dict[str, Any]) -> None:
        at = internal_nodes(tree)[node]
        tree["left_children"][at], tree["right_children"][at] = left, left + 1

    return _on_tree(change)


def _share_children(tree: dict[str, Any]) -> None:
    first, second = internal_nodes(tree)[1:3]
    tree["left_children"][second] = tree["left_children"][first]
    tree["right_children"][second] = tree["right_children"][first]


def _reparent(tree: dict[str, Any]) -> None:
    tree["parents"][tree["left_children"][internal_nodes(tree)[-1]]] = 0


def _leaf(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    return _on_tree(lambda tree: tree[field].__setitem__(leaf_nodes(tree)[0], value))


def _huge_categories(document: dict[str, Any]) -> None:
    """Every categorical split of every tree on category 2**24 - 1: a 2 MiB bitset each."""
    for tree in document["learner"]["gradient_booster"]["model"]["trees"]:
        count = len(tree["categories_nodes"])
        tree.update(categories=[2**24 - 1] * count, categories_sizes=[1] * count, categories_segments=[*range(count)])


OUTSIDE_THE_NODES = r"left_children outside \[-1, 15\)"
OUTSIDE_THE_FEATURES = r"splits on a feature outside \[0, 3\)"
XGBOOST_EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "left-child-past-the-nodes": (put("tree/left_children/0", BIG), OUTSIDE_THE_NODES),
    "right-child-one-past-the-end": (_relink(-1, 14), r"right_children outside \[-1, 15\)"),
    "negative-child": (put("tree/left_children/0", -5), OUTSIDE_THE_NODES),
    "self-link": (_relink(0, 0), "tree 0 has node 0 pointing to child 0, not after it"),
    "backwards-link": (_relink(2, 1), "pointing to child 1, not after it"),
    "right-child-not-after-left": (put("tree/right_children/0", 4), "right child that does not follow its left"),
    "two-parents": (_on_tree(_share_children), r"tree 0 reaches node \d+ twice"),
    "leaf-with-one-child": (_leaf("right_children", 14), "a node with exactly one child"),
    "parent-past-the-nodes": (put("tree/parents/14", BIG), "parent index outside the nodes before it"),
    "parent-naming-another-node": (_on_tree(_reparent), "a child whose parent index names another node"),
    "split-feature-past-the-features": (put("tree/split_indices/0", BIG), OUTSIDE_THE_FEATURES),
    "split-feature-equal-to-n-features": (put("tree/split_indices/1", 3), OUTSIDE_THE_FEATURES),
    "negative-split-feature": (put("tree/split_indices/0", -1), r"split_indices outside \[0, 2147483648\)"),
    "split-conditions-one-short": (drop("tree/split_conditions/0"), "14 entries in tree 0 split_conditions"),
    "num-nodes-above-the-arrays": (put("tree/tree_param/num_nodes", "16"), "15 entries in tree 0 left_children"),
    "num-nodes-not-a-count": (put("tree/tree_param/num_nodes", "15 "), "'15 ', not a decimal count"),
    "missing-parents": (drop("tree/parents"), r"lacks trees\[0\]\.parents"),
    "unknown-tree-field": (put("tree/evil", [1]), r"unknown field trees\[0\]\.evil"),
    "tree-id-out-of-place": (put("tree/id", BIG), f"tree 0 has id {BIG}"),
    "negative-category": (put("tree/categories/0", -1), r"categories outside \[0, 16777216\)"),
    "huge-category": (put("tree/categories/0", 2**31 - 1), r"categories outside \[0, 16777216\)"),
    "category-segment-past-the-list": (put("tree/categories_segments/0", BIG), "segments that do not tile"),
    "category-size-past-the-list": (put("tree/categories_sizes/0", BIG), "segments that do not tile"),
    "categorical-node-past-the-nodes": (put("tree/categories_nodes/0", BIG), "categories_nodes that are not exactly"),
    "categorical-split-on-a-leaf": (_leaf("split_type", 1), "categories_nodes that are not exactly"),
    "string-split-condition": (put("tree/split_conditions/0", "0.5"), "split_conditions that is not an array of"),
    "float-child-index": (put("tree/left_children/0", 1.0), "left_children that is not an array of integers"),
    "boolean-child-index": (put("tree/left_children/0", True), "left_children that is not an array of integers"),
    "tree-info-past-the-outputs": (put("model/tree_info/0", 5), r"tree_info outside \[0, 1\)"),
    "num-trees-above-the-trees": (put("model/gbtree_model_param/num_trees", "4"), "declares 4 trees"),
    "iteration-indptr-past-the-trees": (put("model/iteration_indptr/3", BIG), r"iteration_indptr outside \[0, 4\)"),
    "iteration-indptr-out-of-step": (put("model/iteration_indptr/1", 2), "iteration_indptr that does not split"),
    "feature-segments-past-the-list": (put("model/cats/feature_segments/3", BIG), "feature_segments that do not"),
    "sorted-idx-past-the-categories": (put("model/cats/sorted_idx/0", BIG), "sorted_idx that is not an ordering"),
    "category-offsets-past-the-values": (put("model/cats/enc/2/offsets/6", BIG), r"cats\.enc\[2\]\.offsets outside"),
    "base-score-of-the-wrong-length": (put("learner/learner_model_param/base_score", "[5E-1,5E-1]"), "1 numbers"),
    "num-feature-past-the-cap": (put("learner/learner_model_param/num_feature", "2147483647"), "not 1 to 16777216"),
    "num-feature-below-the-splits": (put("learner/learner_model_param/num_feature", "2"), "is not 2 strings"),
    "unknown-booster": (put("booster/name", "evil"), "names booster 'evil'"),
    "scikit-learn-attribute-nested": (put("learner/attributes/scikit_learn", "[" * 5000), "scikit_learn attribute"),
    "best-iteration-past-the-trees": (put("learner/attributes/best_iteration", "3"), "outside its 3 iterations"),
}
OTHER_MODEL_EDITS: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "softmax-for-more-classes": (
        "multiclass",
        put("learner/objective/softmax_multiclass_param/num_class", "5"),
        "objective for '5' classes where the model has 3",
    ),
    "category-bitsets-past-64-mib": ("categorical-deep", _huge_categories, "needing 75497472 bytes of bitsets"),
    "dart-weight-drop-one-short": (
        "dart",
        drop("booster/weight_drop/0"),
        "2 entries in learner.gradient_booster.weight",
    ),
    "gblinear-weights-one-short": ("gblinear", drop("model/weights/0"), "2 entries in learner.gradient_booster.model"),
    "vector-leaf-index-reused": ("vector-leaf", _leaf("right_children", 6), "do not map one to one onto its leaf"),
    "vector-leaf-weights-one-short": ("vector-leaf", drop("tree/leaf_weights/0"), "entries in tree 0 leaf_weights"),
    "vector-leaf-child-past-the-nodes": ("vector-leaf", put("tree/left_children/0", BIG), "left_children outside"),
}
XGBOOST_CASES = {**{k: ("categorical", *v) for k, v in XGBOOST_EDITS.items()}, **OTHER_MODEL_EDITS}


@pytest.mark.parametrize("case", sorted(XGBOOST_CASES))
def test_tampered_xgboost_model_is_refused_in_a_child(case: str) -> None:
    kind, edit, pattern = XGBOOST_CASES[case]
    document = xgboost_document(kind)
    edit(document)
    outcome = in_child("xgboost", "json", "model.json", json.dumps(document).encode(), _rows(kind))
    assert_refused(outcome, pattern)


def _first_split_condition(replacement: bytes) -> Callable[[bytes], bytes]:
    return lambda data: re.sub(rb'"split_conditions":\[[^,]+', b'"split_conditions":[' + replacement, data, count=1)


NOT_JSON: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "nan-token": (_first_split_condition(b"NaN"), "not JSON"),
    "number-past-float-range": (_first_split_condition(b"1e999"), "not JSON|finite"),
    "truncated": (lambda data: data[: len(data) // 2], "not JSON"),
    "ubj-bytes": (lambda data: b"{L\x00\x00\x00\x00\x00\x00\x00\x01i\x01", "not JSON"),
}


@pytest.mark.parametrize("case", sorted(NOT_JSON))
def test_xgboost_file_that_is_not_json_is_refused_in_a_child(case: str) -> None:
    edit, pattern = NOT_JSON[case]
    data = edit(bytes(xgboost_models()["categorical"].save_raw("json")))
    outcome = in_child("xgboost", "json", "model.json", data, ROWS)
    assert_refused(outcome, rf"holds a file XGBoost cannot read.*{pattern}")


@pytest.mark.parametrize("hostile_last", [True, False])
def test_xgboost_duplicate_key_cannot_smuggle_a_tree_past_the_checks(loaders: Loaders, hostile_last: bool) -> None:
    """XGBoost is given the checked document re-serialized, so both parsers read the same (the last) key."""
    data = bytes(xgboost_models()["categorical"].save_raw("json"))
    good = re.search(rb'"left_children":\[[^\]]*\]', data)
    assert good is not None
    hostile = re.sub(rb"^(\"left_children\":\[)\d+", rb"\g<1>" + str(BIG).encode(), good.group())
    pair = good.group() + b"," + hostile if hostile_last else hostile + b"," + good.group()
    outcome = in_child("xgboost", "json", "model.json", data[: good.start()] + pair + data[good.end() :], ROWS)
    if hostile_last:
        assert_refused(outcome, OUTSIDE_THE_NODES)
        return
    assert outcome.returncode == 0, outcome.output
    expected = loaders.load(package_of("xgboost", booster_saved("json", "model.json", data)), what="test")
    np.testing.assert_array_equal(np.asarray(outcome.predicted, dtype=np.float32), expected.predict(ROWS))


def test_untampered_xgboost_files_load_and_predict_in_a_child(loaders: Loaders) -> None:
    for kind, booster in xgboost_models().items():
        data = bytes(booster.save_raw("json"))
        outcome = in_child("xgboost", "json", "model.json", data, _rows(kind))
        assert outcome.returncode == 0, outcome.output
        assert outcome.refused is None, outcome.output
        loaded = loaders.load(package_of("xgboost", booster_saved("json", "model.json", data)), what="test")
        np.testing.assert_array_equal(np.asarray(outcome.predicted, dtype=np.float32), loaded.predict(_rows(kind)))


def test_xgboost_model_the_checks_would_refuse_is_not_logged(loaders: Loaders) -> None:
    import xgboost as xgb

    data = bytes(xgboost_models()["categorical"].save_raw("json"))
    booster = xgb.Booster()
    booster.load_model(bytearray(re.sub(rb'"loss_changes":\[[^,]+', b'"loss_changes":[NaN', data, count=1)))
    with pytest.raises(InvalidInputError, match=r"fails the checks `load` makes: .* it is not JSON"):
        loaders.save(booster, flavor=None, trusted=False, example=None)


def test_ubj_package_is_not_loaded(loaders: Loaders) -> None:
    saved = booster_saved("ubj", "model.ubj", bytes(xgboost_models()["categorical"].save_raw("ubj")))
    with pytest.raises(UnsafeModelError, match="has format 'ubj', which flavor 'xgboost' does not load"):
        loaders.load(package_of("xgboost", saved), what="test")


# -- LightGBM: edits of the model text --------------------------------------------------------------------------
NO_LEAF_ONCE = "does not reach each of its 6 leaves exactly once"
CATEGORY_SETS = "categorical split outside its 1 category sets"
# Edits of tree 0 of the categorical model; tree_sizes is recomputed afterwards, as an attacker would.
TREE_EDITS: dict[str, tuple[Callable[[str], str], str]] = {
    "left-child-past-the-nodes": (in_tree("left_child", value_at(0, str(BIG))), f"node 0 pointing to child {BIG},"),
    "internal-child-one-past-the-end": (in_tree("left_child", value_at(0, "5")), "child 5, not after it inside its 5"),
    "self-link": (in_tree("left_child", value_at(0, "0")), "node 0 pointing to child 0"),
    "backwards-link": (in_tree("right_child", value_at(2, "1")), "node 2 pointing to child 1"),
    "leaf-index-past-the-leaves": (in_tree("left_child", first_leaf(str(-BIG))), NO_LEAF_ONCE),
    "leaf-index-equal-to-the-leaves": (in_tree("left_child", first_leaf("-7")), NO_LEAF_ONCE),
    "leaf-reached-twice": (in_tree("right_child", first_leaf("-1")), NO_LEAF_ONCE),
    "split-feature-past-the-features": (in_tree("split_feature", value_at(1, str(BIG))), OUTSIDE_THE_FEATURES),
    "split-feature-equal-to-n-features": (in_tree("split_feature", value_at(1, "3")), OUTSIDE_THE_FEATURES),
    "negative-split-feature": (in_tree("split_feature", value_at(1, "-1")), OUTSIDE_THE_FEATURES),
    "leaf-value-one-short": (in_tree("leaf_value", lambda v: v[:-1]), "5 entries in tree 0 leaf_value where"),
    "threshold-one-long": (in_tree("threshold", lambda v: [*v, "1"]), "6 entries in tree 0 threshold where"),
    "num-leaves-above-the-arrays": (in_tree("num_leaves", lambda v: ["7"]), "5 entries in tree 0 split_feature"),
    "categorical-index-past-the-sets": (in_tree("threshold", value_at(0, "1")), CATEGORY_SETS),
    "categorical-index-not-an-integer": (in_tree("threshold", value_at(0, "0.5")), CATEGORY_SETS),
    "numerical-split-made-categorical": (in_tree("decision_type", value_at(1, "1")), CATEGORY_SETS),
    "cat-boundaries-past-the-bitset": (in_tree("cat_boundaries", value_at(1, str(BIG))), "do not tile its cat_thr"),
    "undefined-decision-type": (in_tree("decision_type", value_at(1, "14")), "decision_type LightGBM does not define"),
    "leaf-value-not-a-number": (in_tree("leaf_value", value_at(0, "abc")), "leaf_value that is not a list of floats"),
    "leaf-value-nan": (in_tree("leaf_value", value_at(0, "nan")), "leaf_value that is not a list of floats"),
    "num-leaves-not-a-number": (in_tree("num_leaves", lambda v: ["6x"]), "num_leaves that is not a list of ints"),
    "child-overflowing-int32": (in_tree("left_child", value_at(0, "4294967298")), r"left_child outside \[-2147"),
    "split-gain-past-double-range": (in_tree("split_gain", value_at(0, "1e999")), "a number out of range"),
    "line-without-equals": (insert_line("garbage"), "tree 0 has a line 'garbage' that is not a new key=value"),
    "blank-line-inside-a-tree": (insert_line(""), "tree 0 has a line '' that is not a new key=value"),
    "duplicated-tree-key": (insert_line("left_child=1 2 3 4 5"), "a line 'left_child=1 2 3 4 5' that is not a new"),
    "unknown-tree-key": (insert_line("evil=1"), "tree 0 has an unknown field evil"),
    "nul-character": (insert_line("split_gain=\x00"), "a carriage return or NUL character"),
    "linear-leaf-feature-past-the-features": (
        in_tree("leaf_features", value_at(0, str(BIG)), tree=1),
        r"tree 1 has a linear leaf on a feature outside \[0, 2\)",
    ),
    "linear-feature-count-above-the-list": (in_tree("num_features", value_at(0, "5"), tree=1), "1 leaf_features where"),
    "linear-coefficients-removed": (lambda t: re.sub(r"^leaf_coeff=.*\n", "", t, count=1, flags=re.M), "lacks leaf_c"),
}
SIZES = "tree_sizes that do not match the length of tree"
# Edits of the header, tree_sizes or tail: tree_sizes stays as edited.
FILE_EDITS: dict[str, tuple[Callable[[str], str], str]] = {
    "tree-size-one-byte-long": (in_tree_sizes(lambda s: [s[0] + 1, *s[1:]]), f"{SIZES} 0"),
    "tree-size-one-byte-short": (in_tree_sizes(lambda s: [s[0] - 1, *s[1:]]), f"{SIZES} 0"),
    "tree-sizes-past-the-end": (in_tree_sizes(lambda s: [*s[:-1], s[-1] + BIG]), f"{SIZES} 2"),
    "tree-sizes-one-tree-short": (in_tree_sizes(lambda s: s[:-1]), "tree_sizes that do not end where its trees end"),
    "tree-edited-without-resizing": (in_tree("split_feature", value_at(1, "100")), f"{SIZES} 0"),
    "tree-sizes-removed": (in_header(r"tree_sizes=.*\n", ""), "lacks tree_sizes"),
    "more-trees-per-iteration-than-classes": (in_header("num_tree_per_iteration=1", "num_tree_per_iteration=2"), "2 t"),
    "no-trees-per-iteration": (in_header("num_tree_per_iteration=1", "num_tree_per_iteration=0"), "0 trees per iter"),
    "max-feature-idx-above-the-names": (in_header("max_feature_idx=2", "max_feature_idx=5"), "feature_names for an"),
    "header-line-without-equals": (in_header("label_index=0", "label_index=0\nevil"), "header line 'evil'"),
    "unknown-version": (in_header("version=v4", "version=v9"), "version 'v9', not v4"),
    "parameter-line-without-colon": (in_header(r"\[boosting: gbdt\]", "[boosting]"), "parameters section LightGBM"),
    "parameter-nested-past-one-level": (in_header(r"\[data: \]", "[data: " + "[" * 5000 + "]"), "parameters section"),
    "pandas-categorical-not-json": (in_header("pandas_categorical:.*", "pandas_categorical:[["), "pandas_categorical"),
    "objective-for-more-classes": (
        in_header("objective=multiclass num_class:3", "objective=multiclass num_class:5"),
        "objective 'multiclass num_class:5' for a model with 3 classes",
    ),
}
LIGHTGBM_CASES = {**{k: (*v, True) for k, v in TREE_EDITS.items()}, **{k: (*v, False) for k, v in FILE_EDITS.items()}}


@pytest.mark.parametrize("case", sorted(LIGHTGBM_CASES))
def test_tampered_lightgbm_text_is_refused_in_a_child(case: str) -> None:
    edit, pattern, resize = LIGHTGBM_CASES[case]
    kind = "linear" if case.startswith("linear") else "multiclass" if case.startswith("objective") else "categorical"
    text = edit(lightgbm_texts()[kind])
    assert text != lightgbm_texts()[kind], "the edit changed nothing"
    outcome = in_child("lightgbm", "text", "model.txt", (resized(text) if resize else text).encode(), _rows(kind))
    assert_refused(outcome, pattern)


def test_untampered_lightgbm_texts_load_and_predict_in_a_child(loaders: Loaders) -> None:
    for kind, text in lightgbm_texts().items():
        assert resized(text) == text  # the helper the edits use recomputes tree_sizes as LightGBM writes them
        outcome = in_child("lightgbm", "text", "model.txt", text.encode(), _rows(kind))
        assert outcome.returncode == 0, outcome.output
        assert outcome.refused is None, outcome.output
        loaded = loaders.load(package_of("lightgbm", booster_saved("text", "model.txt", text.encode())), what="t")
        np.testing.assert_array_equal(np.asarray(outcome.predicted), loaded.predict(_rows(kind)))


# -- every kind of model still round-trips ----------------------------------------------------------------------
def _assert_round_trip(loaders: Loaders, model: Any, features: Any, expected: Any = None) -> dict[str, Any]:
    flavor, saved = loaders.save(model, flavor=None, trusted=False, example=features)
    loaded = loaders.load(package_of(flavor.name, saved), what="test")
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features) if expected is None else expected)
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    return saved.files


LOSSGUIDE = {"grow_policy": "lossguide", "max_depth": 0}
LGB = {"min_child_samples": 5, "verbose": -1}
RANDOM_FOREST = {**LGB, "boosting_type": "rf", "bagging_freq": 1, "bagging_fraction": 0.6}
ROUND_TRIPS: dict[str, tuple[str, dict[str, Any], bool, str]] = {  # class, parameters, categorical, labels
    "xgboost-classifier-categorical": ("XGBClassifier", {"max_depth": 3, "enable_categorical": True}, True, "binary"),
    "xgboost-classifier-multiclass": ("XGBClassifier", {"max_depth": 3}, False, "three"),
    "xgboost-regressor-depthwise": ("XGBRegressor", {"max_depth": 5}, False, "number"),
    "xgboost-regressor-lossguide": ("XGBRegressor", {**LOSSGUIDE, "max_leaves": 9}, False, "number"),
    "xgboost-regressor-lossguide-categorical": (
        "XGBRegressor",
        {**LOSSGUIDE, "max_leaves": 7, "enable_categorical": True, "max_cat_to_onehot": 1},
        True,
        "number",
    ),
    "xgboost-regressor-exact-pruned": ("XGBRegressor", {"tree_method": "exact", "gamma": 2.0}, False, "number"),
    "xgboost-regressor-dart": ("XGBRegressor", {"booster": "dart"}, False, "number"),
    "xgboost-regressor-gblinear": ("XGBRegressor", {"booster": "gblinear"}, False, "number"),
    "xgboost-random-forest": ("XGBRFRegressor", {"max_depth": 3}, False, "number"),
    "xgboost-multi-target-per-tree": ("XGBRegressor", {"max_depth": 3}, False, "two"),
    "xgboost-multi-target-vector-leaf": ("XGBRegressor", {"multi_strategy": "multi_output_tree"}, False, "two"),
    "lightgbm-classifier-categorical": ("LGBMClassifier", LGB, True, "binary"),
    "lightgbm-classifier-multiclass": ("LGBMClassifier", LGB, False, "three"),
    "lightgbm-regressor-categorical": ("LGBMRegressor", LGB, True, "number"),
    "lightgbm-regressor-linear-trees": ("LGBMRegressor", {**LGB, "linear_tree": True}, False, "number"),
    "lightgbm-random-forest": ("LGBMRegressor", RANDOM_FOREST, False, "number"),
    "lightgbm-regressor-l1": ("LGBMRegressor", {**LGB, "objective": "l1"}, False, "number"),
    "lightgbm-regressor-dart": ("LGBMRegressor", {**LGB, "boosting_type": "dart"}, False, "number"),
    "lightgbm-regressor-one-leaf-trees": ("LGBMRegressor", LGB, False, "constant"),
    "lightgbm-regressor-monotone": ("LGBMRegressor", {**LGB, "monotone_constraints": [1, -1]}, False, "number"),
}


@pytest.mark.parametrize("case", sorted(ROUND_TRIPS))
def test_models_round_trip(loaders: Loaders, case: str) -> None:
    import lightgbm
    import xgboost

    kind, params, categorical, labels = ROUND_TRIPS[case]
    features = training_frame() if categorical else training_frame()[["a", "b"]]
    library = xgboost if case.startswith("xgboost") else lightgbm
    frame, target = training_frame(), training_target()
    label = {
        "binary": (target > target.median()).astype(int),
        "three": pd.qcut(frame["b"], 3, labels=False),
        "number": target,
        "two": np.column_stack([target, -target]),
        "constant": np.ones(len(target)),
    }[labels]
    files = _assert_round_trip(loaders, getattr(library, kind)(n_estimators=4, **params).fit(features, label), features)
    if case == "xgboost-regressor-exact-pruned":  # the pruner leaves deleted nodes in the arrays: they must pass too
        trees = json.loads(files["model.json"])["learner"]["gradient_booster"]["model"]["trees"]
        assert any(tree["tree_param"]["num_deleted"] != "0" for tree in trees)


def test_xgboost_booster_and_early_stopped_wrapper_round_trip(loaders: Loaders) -> None:
    import xgboost as xgb

    booster, frame = xgboost_models()["categorical"], training_frame()
    _assert_round_trip(loaders, booster, frame, booster.predict(xgb.DMatrix(frame, enable_categorical=True)))
    numeric, target = frame[["a", "b"]], training_target()
    model = xgb.XGBRegressor(n_estimators=40, early_stopping_rounds=2)
    model.fit(numeric[:200], target[:200], eval_set=[(numeric[200:], target[200:])], verbose=False)
    assert model.best_iteration < 39
    _assert_round_trip(loaders, model, numeric)
