"""Bounds checks for XGBoost's and LightGBM's trees, run on the stored file before the library sees a byte.

Neither library checks the indices in its own model files: XGBoost follows ``left_children`` and
``split_indices`` straight into memory when it predicts (a tampered model segfaults), and LightGBM parses its
trees inside an OpenMP loop where any format error aborts the whole process. So the flavors parse the file
themselves and check every tree here first, the way ``trees.py`` checks scikit-learn's:

* every per-node array has the declared length and holds numbers of the declared kind (finite floats,
  integers inside the range the library stores them in);
* a node is a leaf or both its children lie after it and inside the tree, and no node or leaf is reached
  twice, so every walk from the root ends at a leaf inside bounds;
* every split feature lies in ``[0, n_features)``, and categorical split data and leaf indices lie inside
  their arrays.

``xgboost.py`` and ``lightgbm.py`` check the rest of their file (header, booster, objective, encodings).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from modelyard.errors import UnsafeModelError

__all__ = [
    "INT31",
    "MAX_XGBOOST_FEATURES",
    "Refuse",
    "check_lightgbm_block",
    "check_lightgbm_tree",
    "check_links",
    "check_xgboost_encodings",
    "check_xgboost_tree",
    "digits",
    "exact_keys",
    "floats",
    "ints",
    "numbers",
    "refuser",
]

Refuse = Callable[[str], UnsafeModelError]
INT31 = 2**31  # XGBoost keeps node and feature indices in 31 bits (the 32nd is the default-left flag)
_MAX_CATEGORY = 2**24  # XGBoost's categories travel as float32 values: larger ones are not exact
MAX_XGBOOST_FEATURES = 2**24  # XGBoost allocates a value per declared feature per thread when it predicts
# XGBoost's JSON value kinds of integer arrays (I8, U8, I16, ..., U64) -> the range of that integer type.
_CATEGORY_TYPES = {9 + 2 * k + unsigned: (0, 2**bits) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1))
                   for k, bits in enumerate((8, 16, 32, 64)) for unsigned in (0, 1)}  # fmt: skip


def refuser(what: str, library: str) -> Refuse:
    """A factory of the error naming ``what`` and the problem found in its file."""

    def refuse(problem: str) -> UnsafeModelError:
        return UnsafeModelError(
            f"{what}: {problem}, so {library} could read outside its arrays or abort the process. Nothing was loaded.",
            hint="The file was damaged or tampered with; log the model again from its training code.",
        )

    return refuse


def check_links(links: Iterable[tuple[int, int]], size: int, where: str, refuse: Refuse) -> None:
    """Every (parent, child) link points forward inside ``[0, size)`` and no child has two parents."""
    seen: set[int] = set()
    for parent, child in links:
        if not parent < child < size:
            raise refuse(f"{where} has node {parent} pointing to child {child}, not after it inside its {size} nodes")
        if child in seen:
            raise refuse(f"{where} reaches node {child} twice")
        seen.add(child)


# -- XGBoost: one element of learner.gradient_booster.model.trees ----------------------------------------------
_XGB_NODE_INTS = ("left_children", "right_children", "parents", "split_indices", "default_left", "split_type")
_XGB_NODE_FLOATS = ("split_conditions", "loss_changes", "sum_hessian")
_XGB_CATEGORICAL = ("categories", "categories_nodes", "categories_segments", "categories_sizes")
_XGB_TREE = frozenset({*_XGB_NODE_INTS, *_XGB_NODE_FLOATS, *_XGB_CATEGORICAL, "base_weights", "id", "tree_param"})
_XGB_TREE_PARAM = frozenset({"num_deleted", "num_feature", "num_nodes", "size_leaf_vector"})


def exact_keys(value: object, expected: frozenset[str], field: str, refuse: Refuse) -> dict[str, Any]:
    """``value`` as an object holding exactly the keys ``expected``."""
    if not isinstance(value, dict):
        raise refuse(f"the file has {field} of type {type(value).__name__}, not an object")
    missing, unknown = sorted(expected - value.keys()), sorted(value.keys() - expected)
    if missing or unknown:
        problem = (
            f"the file lacks {field}.{missing[0]}" if missing else f"the file has an unknown field {field}.{unknown[0]}"
        )
        raise refuse(problem)
    return value


def digits(value: object, field: str, refuse: Refuse) -> int:
    """A count XGBoost stores as a decimal string, e.g. ``"7"``."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12):
        raise refuse(f"the file has {field} {value!r}, not a decimal count")
    return int(value)


def ints(value: object, field: str, refuse: Refuse, *, low: int, high: int, length: int | None = None) -> list[int]:
    """A JSON array of integers in ``[low, high)``, of ``length`` entries when given."""
    if not isinstance(value, list) or not set(map(type, value)) <= {int}:
        raise refuse(f"the file has {field} that is not an array of integers")
    if length is not None and len(value) != length:
        raise refuse(f"the file has {len(value)} entries in {field} where it declares {length}")
    if value and (min(value) < low or max(value) >= high):
        raise refuse(f"the file has {field} outside [{low}, {high})")
    return value


def floats(value: object, field: str, refuse: Refuse, *, length: int) -> list[float]:
    """A JSON array of ``length`` finite floats (XGBoost always writes floats with an exponent)."""
    if not isinstance(value, list) or not set(map(type, value)) <= {float} or not all(map(math.isfinite, value)):
        raise refuse(f"the file has {field} that is not an array of finite floats")
    if len(value) != length:
        raise refuse(f"the file has {len(value)} entries in {field} where it declares {length}")
    return value


def check_xgboost_tree(tree: object, index: int, *, n_features: int, vector: int, refuse: Refuse) -> int:
    """Check tree ``index`` of a gbtree model; return the 32-bit words its category bitsets will take.

    ``vector`` is the leaf-vector size every tree of the model must have: 1 for scalar leaves, the number of
    targets for multi-target trees (whose leaves map, through ``right_children``, into ``leaf_weights``).
    """
    where = f"tree {index}"
    keys = _XGB_TREE | {"leaf_weights"} if vector > 1 else _XGB_TREE
    tree = exact_keys(tree, keys, f"trees[{index}]", refuse)
    param = exact_keys(tree["tree_param"], _XGB_TREE_PARAM, f"trees[{index}].tree_param", refuse)
    n = digits(param["num_nodes"], f"{where} num_nodes", refuse)
    if n < 1 or type(tree["id"]) is not int or tree["id"] != index:
        raise refuse(f"{where} has id {tree['id']!r} and {n} nodes")
    if digits(param["num_feature"], f"{where} num_feature", refuse) != n_features:
        raise refuse(f"{where} declares {param['num_feature']} features where the model has {n_features}")
    if max(digits(param["size_leaf_vector"], f"{where} size_leaf_vector", refuse), 1) != vector:
        raise refuse(f"{where} has leaf vectors of size {param['size_leaf_vector']} where the model needs {vector}")
    ranges = (
        ("left_children", -1, n),
        ("right_children", -1, n),
        ("parents", -1, INT31),
        ("split_indices", 0, INT31),
        ("default_left", 0, 2),
        ("split_type", 0, 2),
    )
    nodes = {
        name: ints(tree[name], f"{where} {name}", refuse, low=low, high=high, length=n) for name, low, high in ranges
    }
    for name in _XGB_NODE_FLOATS:
        floats(tree[name], f"{where} {name}", refuse, length=n)
    floats(tree["base_weights"], f"{where} base_weights", refuse, length=n * vector)
    internal = [i for i in range(n) if nodes["left_children"][i] != -1]
    _check_xgboost_links(nodes, internal, where, n_features, refuse)
    _check_xgboost_leaves(tree, nodes, vector, where, refuse)
    return _check_xgboost_categories(tree, nodes["split_type"], internal, where, refuse)


def _check_xgboost_links(
    nodes: Mapping[str, list[int]], internal: list[int], where: str, n_features: int, refuse: Refuse
) -> None:
    left, right, parents = nodes["left_children"], nodes["right_children"], nodes["parents"]
    if any(right[i] != left[i] + 1 for i in internal):  # XGBoost's predictor takes the right child as left + 1
        raise refuse(f"{where} has a right child that does not follow its left child")
    links = [(i, c) for i in internal for c in (left[i], right[i])]
    check_links(links, len(left), where, refuse)
    if parents[0] not in (-1, INT31 - 1) or any(not 0 <= parents[i] < i for i in range(1, len(parents))):
        raise refuse(f"{where} has a parent index outside the nodes before it")  # XGBoost reads nodes[parent]
    if any(parents[child] != parent for parent, child in links):
        raise refuse(f"{where} has a child whose parent index names another node")
    if max((nodes["split_indices"][i] for i in internal), default=0) >= n_features:
        raise refuse(f"{where} splits on a feature outside [0, {n_features})")


def _check_xgboost_leaves(
    tree: Mapping[str, Any], nodes: Mapping[str, list[int]], vector: int, where: str, refuse: Refuse
) -> None:
    left, right, param = nodes["left_children"], nodes["right_children"], tree["tree_param"]
    leaves = [i for i in range(len(left)) if left[i] == -1]
    if vector > 1:  # a leaf's right child is its row in leaf_weights
        weights = floats(tree["leaf_weights"], f"{where} leaf_weights", refuse, length=len(leaves) * vector)
        if param["num_deleted"] != "0" or sorted(right[i] for i in leaves) != list(range(len(weights) // vector)):
            raise refuse(f"{where} has leaves that do not map one to one onto its leaf weights")
        return
    if any(right[i] != -1 for i in leaves):
        raise refuse(f"{where} has a node with exactly one child")
    marked = [i for i in leaves if i > 0 and nodes["split_indices"][i] == INT31 - 1 and nodes["default_left"][i]]
    if digits(param["num_deleted"], f"{where} num_deleted", refuse) != len(marked):
        raise refuse(f"{where} declares {param['num_deleted']} deleted nodes but holds {len(marked)}")


def _check_xgboost_categories(
    tree: Mapping[str, object], split_type: list[int], internal: list[int], where: str, refuse: Refuse
) -> int:
    """XGBoost reads ``categories[segment : segment + size]`` of each node unchecked, into a bitset of max + 1 bits."""
    nodes = [i for i in internal if split_type[i] == 1]
    listed = ints(tree["categories_nodes"], f"{where} categories_nodes", refuse, low=0, high=INT31)
    if sum(split_type) != len(nodes) or listed != nodes:
        raise refuse(f"{where} has categories_nodes that are not exactly its categorical splits")
    count = len(nodes)
    categories = ints(tree["categories"], f"{where} categories", refuse, low=0, high=_MAX_CATEGORY)
    sizes = ints(tree["categories_sizes"], f"{where} categories_sizes", refuse, low=1, high=INT31, length=count)
    segments = ints(
        tree["categories_segments"], f"{where} categories_segments", refuse, low=0, high=INT31, length=count
    )
    start = words = 0
    for segment, size in zip(segments, sizes, strict=True):
        chosen = categories[segment : segment + size]
        if segment != start or len(chosen) != size or chosen != sorted(set(chosen)):
            raise refuse(f"{where} has category segments that do not tile its categories")
        start, words = start + size, words + chosen[-1] // 32 + 1
    if start != len(categories):
        raise refuse(f"{where} has categories outside its category segments")
    return words


def check_xgboost_encodings(cats: object, n_features: int, refuse: Refuse) -> None:
    """Check the category encodings (``cats``): ``feature_segments`` and ``sorted_idx`` index into each feature's."""
    field = "learner.gradient_booster.model.cats"
    cats = exact_keys(cats, frozenset({"enc", "feature_segments", "sorted_idx"}), field, refuse)
    columns = cats["enc"]
    if not isinstance(columns, list) or len(columns) not in (0, n_features):
        raise refuse(f"the file has {field}.enc that is not one entry per feature")
    counts = [_category_count(column, f"{field}.enc[{i}]", refuse) for i, column in enumerate(columns)]
    bounds = list(itertools.accumulate(counts, initial=0)) if counts else []
    if ints(cats["feature_segments"], f"{field}.feature_segments", refuse, low=0, high=INT31) != bounds:
        raise refuse(f"the file has {field}.feature_segments that do not match its categories")
    order = ints(cats["sorted_idx"], f"{field}.sorted_idx", refuse, low=0, high=INT31)
    ranges = list(itertools.pairwise(bounds))
    if order and (len(order) != bounds[-1] or any(sorted(order[a:b]) != list(range(b - a)) for a, b in ranges)):
        raise refuse(f"the file has {field}.sorted_idx that is not an ordering of each feature's categories")


def _category_count(column: object, field: str, refuse: Refuse) -> int:
    if isinstance(column, dict) and "offsets" in column:  # string categories: offsets into UTF-8 bytes
        column = exact_keys(column, frozenset({"offsets", "values"}), field, refuse)
        values = ints(column["values"], f"{field}.values", refuse, low=-128, high=256)
        offsets = ints(column["offsets"], f"{field}.offsets", refuse, low=0, high=len(values) + 1)
        if not offsets and not values:
            return 0
        if not offsets or offsets[0] != 0 or offsets[-1] != len(values) or offsets != sorted(offsets):
            raise refuse(f"the file has {field}.offsets that do not tile its values")
        return len(offsets) - 1
    column = exact_keys(column, frozenset({"type", "values"}), field, refuse)
    kind = column["type"]
    bounds = _CATEGORY_TYPES.get(kind) if type(kind) is int else None
    if bounds is None:
        raise refuse(f"the file has {field}.type {kind!r}, not an integer array type")
    return len(ints(column["values"], f"{field}.values", refuse, low=bounds[0], high=bounds[1]))


# -- LightGBM: one Tree=N block of the model text -------------------------------------------------------------
_INT = r"-?\d+"
_FLOAT = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_LISTS = {kind: re.compile(rf" *(?:{token}(?: +{token})*)? *") for kind, token in (("int", _INT), ("float", _FLOAT))}
_LGB_INTERNAL = {
    "split_feature": "int",
    "split_gain": "float",
    "threshold": "float",
    "decision_type": "int",
    "left_child": "int",
    "right_child": "int",
    "internal_value": "float",
    "internal_weight": "float",
    "internal_count": "int",
}
_LGB_LEAF = {"leaf_value": "float", "leaf_weight": "float", "leaf_count": "int"}
_LGB_TREE = frozenset({"num_leaves", "num_cat", "is_linear", "shrinkage", *_LGB_INTERNAL, *_LGB_LEAF})
_LGB_CATEGORICAL = frozenset({"cat_boundaries", "cat_threshold"})
_LGB_LINEAR = frozenset({"leaf_const", "num_features", "leaf_features", "leaf_coeff"})
_INT32 = (-(2**31), 2**31)


def numbers(
    text: str, field: str, kind: str, refuse: Refuse, *, count: int, bounds: tuple[int, int] = _INT32
) -> list[Any]:
    """``count`` space-separated numbers, parsed the way LightGBM's own array reader would, but strictly."""
    if _LISTS[kind].fullmatch(text) is None:
        raise refuse(f"the file has {field} that is not a list of {kind}s")
    tokens = text.split()
    if len(tokens) != count:
        raise refuse(f"the file has {len(tokens)} entries in {field} where it needs {count}")
    if kind == "float":
        values: list[Any] = list(map(float, tokens))
        if not all(map(math.isfinite, values)):
            raise refuse(f"the file has {field} with a number out of range")
        return values
    values = list(map(int, tokens))
    if values and (min(values) < bounds[0] or max(values) >= bounds[1]):
        raise refuse(f"the file has {field} outside [{bounds[0]}, {bounds[1]})")
    return values


def check_lightgbm_block(block: bytes, size: int, index: int, *, n_features: int, refuse: Refuse) -> None:
    """Check one ``Tree=N`` block: its ``Tree=N`` line, one ``key=value`` line per field, two blank lines."""
    prefix = f"Tree={index}\n".encode()
    framed = block.startswith(prefix) and block.endswith(b"\n\n\n") and len(block) > len(prefix) + 3
    if not framed or len(block) != size or not block.isascii():
        raise refuse(f"the file has tree_sizes that do not match the length of tree {index}")
    fields: dict[str, str] = {}
    for line in block[len(prefix) : -3].decode().split("\n"):
        key, sep, value = line.partition("=")
        if not sep or key in fields:
            raise refuse(f"tree {index} has a line {line[:60]!r} that is not a new key=value")
        fields[key] = value
    check_lightgbm_tree(fields, f"tree {index}", n_features=n_features, refuse=refuse)


def check_lightgbm_tree(fields: Mapping[str, str], where: str, *, n_features: int, refuse: Refuse) -> None:
    """Check the ``key=value`` lines of one tree block (see the module docstring for the rules)."""
    leaves = numbers(fields.get("num_leaves", ""), f"{where} num_leaves", "int", refuse, count=1)[0]
    n_cat = numbers(fields.get("num_cat", ""), f"{where} num_cat", "int", refuse, count=1)[0]
    linear = fields.get("is_linear") == "1"
    expected = _LGB_TREE | (_LGB_CATEGORICAL if n_cat > 0 else set()) | (_LGB_LINEAR if linear else set())
    missing, unknown = sorted(expected - fields.keys()), sorted(fields.keys() - expected)
    if missing or unknown:
        raise refuse(f"{where} lacks {missing[0]}" if missing else f"{where} has an unknown field {unknown[0]}")
    if leaves < 1 or n_cat < 0 or fields["is_linear"] not in ("0", "1"):
        raise refuse(f"{where} declares {leaves} leaves, {n_cat} categorical splits, is_linear={fields['is_linear']}")
    numbers(fields["shrinkage"], f"{where} shrinkage", "float", refuse, count=1)
    inner = leaves - 1
    nodes = {
        name: numbers(fields[name], f"{where} {name}", kind, refuse, count=inner)
        for name, kind in _LGB_INTERNAL.items()
    }
    numbers(fields["leaf_value"], f"{where} leaf_value", "float", refuse, count=leaves)
    numbers(fields["leaf_count"], f"{where} leaf_count", "int", refuse, count=leaves)
    if inner or linear or fields["leaf_weight"].strip():  # LightGBM writes an empty list for a one-leaf tree
        numbers(fields["leaf_weight"], f"{where} leaf_weight", "float", refuse, count=leaves)
    _check_lightgbm_links(nodes["left_child"], nodes["right_child"], leaves, where, refuse)
    if any(not 0 <= f < n_features for f in nodes["split_feature"]):
        raise refuse(f"{where} splits on a feature outside [0, {n_features})")
    if any(not 0 <= t < 16 or (t >> 2) & 3 == 3 for t in nodes["decision_type"]):
        raise refuse(f"{where} has a decision_type LightGBM does not define")
    _check_lightgbm_categories(fields, nodes, n_cat, where, refuse)
    if linear:
        _check_lightgbm_linear(fields, leaves, where, n_features, refuse)


def _check_lightgbm_links(left: list[int], right: list[int], leaves: int, where: str, refuse: Refuse) -> None:
    """Internal children are node indices after their parent, leaves are ``~leaf``; each is reached once."""
    inner = leaves - 1
    links = [(i, c) for i in range(inner) for c in (left[i], right[i]) if c >= 0]
    check_links(links, inner, where, refuse)
    reached = sorted(~c for i in range(inner) for c in (left[i], right[i]) if c < 0)
    if len(links) != max(inner - 1, 0) or reached != list(range(leaves if inner else 0)):
        raise refuse(f"{where} does not reach each of its {leaves} leaves exactly once")


def _check_lightgbm_categories(
    fields: Mapping[str, str], nodes: Mapping[str, list[Any]], n_cat: int, where: str, refuse: Refuse
) -> None:
    """A categorical split's threshold indexes ``cat_boundaries``, which slices ``cat_threshold``."""
    types, thresholds = nodes["decision_type"], nodes["threshold"]
    categorical = [thresholds[i] for i in range(len(types)) if types[i] & 1]
    if len(categorical) != n_cat or any(not (t.is_integer() and 0 <= t < n_cat) for t in categorical):
        raise refuse(f"{where} has a categorical split outside its {n_cat} category sets")
    if n_cat == 0:
        return
    bounds = numbers(fields["cat_boundaries"], f"{where} cat_boundaries", "int", refuse, count=n_cat + 1)
    words = len(fields["cat_threshold"].split())
    numbers(fields["cat_threshold"], f"{where} cat_threshold", "int", refuse, count=words, bounds=(0, 2**32))
    if bounds[0] != 0 or bounds[-1] != words or bounds != sorted(bounds):
        raise refuse(f"{where} has cat_boundaries that do not tile its cat_threshold")


def _check_lightgbm_linear(fields: Mapping[str, str], leaves: int, where: str, n_features: int, refuse: Refuse) -> None:
    """A linear leaf multiplies ``leaf_coeff`` by the features ``leaf_features`` names."""
    numbers(fields["leaf_const"], f"{where} leaf_const", "float", refuse, count=leaves)
    counts = numbers(fields["num_features"], f"{where} num_features", "int", refuse, count=leaves, bounds=(0, 2**31))
    features = numbers(fields["leaf_features"], f"{where} leaf_features", "int", refuse, count=sum(counts))
    if any(not 0 <= f < n_features for f in features):
        raise refuse(f"{where} has a linear leaf on a feature outside [0, {n_features})")
    numbers(fields["leaf_coeff"], f"{where} leaf_coeff", "float", refuse, count=sum(counts))
