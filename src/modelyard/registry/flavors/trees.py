"""Bounds checks for scikit-learn's tree structures, so tree ensembles load safely by default.

skops refuses ``sklearn.tree._tree.Tree`` and ``TreePredictor`` by default for a good reason: their node
arrays hold child and feature indices that scikit-learn's compiled code follows without bounds checks, so a
tampered file can read or write outside the arrays. After skops rebuilds the objects (which runs no code of the
file's choosing) and before anything predicts, every tree found in the model is checked here:

* node arrays have the declared length and dtype; the value array has shape (nodes, outputs, classes);
* a node is a leaf (both children -1, or ``is_leaf``) or both its children lie after it and inside the array,
  so every walk from the root ends at a leaf inside bounds;
* every split feature lies in ``[0, n_features)`` of the estimator that owns the tree and of the nearest
  ensemble around it (which checks the input once for all its trees); for HistGradientBoosting the width is
  its preprocessor's output when it has one;
* categorical splits use categorical features only, their bitset indices lie inside their bitset arrays, and
  known category values lie in 0..255 (the range the category bitsets hold).

A tree found anywhere but under a fitted tree estimator is refused too.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import UnsafeModelError

__all__ = ["check_trees"]

_TREE = "sklearn.tree._tree.Tree"
_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def _kind(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _children(value: object) -> list[object]:
    import numpy as np

    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    if isinstance(value, np.ndarray):
        return list(value.ravel()) if value.dtype == object else []
    if _kind(value) in (_TREE, _PREDICTOR):
        return []
    attributes = getattr(value, "__dict__", None)
    return list(attributes.values()) if isinstance(attributes, dict) else []


def _refuse(what: str, problem: str) -> UnsafeModelError:
    return UnsafeModelError(
        f"{what}: a tree of the model {problem}, so it could make scikit-learn read outside its arrays. "
        "Nothing was run.",
        hint="The file was damaged or tampered with; log the model again from its training code.",
    )


def _check_tree(tree: Any, n_features: int, reachable: int, what: str) -> None:
    """``n_features`` is the owner's width; ``reachable`` the width of the input the tree will really see."""
    import numpy as np

    state = tree.__getstate__()
    nodes, values, count = state["nodes"], state["values"], int(state["node_count"])
    if count < 1 or len(nodes) != count:
        raise _refuse(what, f"declares {count} nodes but holds {len(nodes)}")
    if tree.n_features != n_features:
        raise _refuse(what, f"splits on {tree.n_features} features where its estimator has {n_features}")
    expected = (count, int(tree.n_outputs), int(tree.max_n_classes))
    if values.shape != expected:
        raise _refuse(what, f"has values of shape {values.shape}, not {expected}")
    if np.any(np.asarray(tree.n_classes) > tree.max_n_classes) or np.any(np.asarray(tree.n_classes) < 1):
        raise _refuse(what, "declares impossible class counts")
    _check_links(nodes["left_child"], nodes["right_child"], nodes["left_child"] == -1, what)
    internal = nodes["left_child"] != -1
    features = nodes["feature"][internal]
    if features.size and (features.min() < 0 or features.max() >= reachable):
        raise _refuse(what, f"splits on a feature outside [0, {reachable})")


def _check_links(left: Any, right: Any, leaf: Any, what: str) -> None:
    import numpy as np

    count = len(left)
    index = np.arange(count)
    left, right = left.astype(np.int64), right.astype(np.int64)
    if np.any(leaf & (right != left) & (right != -1)) or np.any(~leaf & (right == -1)):
        raise _refuse(what, "has a node with exactly one child")
    inner = ~leaf
    for child in (left[inner], right[inner]):
        if child.size and (np.any(child <= index[inner]) or np.any(child >= count)):
            raise _refuse(what, "has a child index outside the node array or pointing backwards")


def _check_predictor(predictor: Any, n_features: int, is_categorical: Any, what: str) -> None:
    import numpy as np

    nodes = predictor.nodes
    count = len(nodes)
    if count < 1:
        raise _refuse(what, "has no nodes")
    leaf = nodes["is_leaf"].astype(bool)
    _check_links(nodes["left"], nodes["right"], leaf, what)
    internal = ~leaf
    features = nodes["feature_idx"][internal]
    if features.size and (features.min() < 0 or features.max() >= n_features):
        raise _refuse(what, f"splits on a feature outside [0, {n_features})")
    categorical = internal & nodes["is_categorical"].astype(bool)
    if np.any(~is_categorical[nodes["feature_idx"][categorical]]):
        raise _refuse(what, "makes a categorical split on a feature that is not categorical")
    for bitsets in (predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets):
        if np.asarray(bitsets).ndim != 2 or np.asarray(bitsets).shape[1] != 8:
            raise _refuse(what, "has categorical bitsets of the wrong shape")
        if np.any(nodes["bitset_idx"][categorical] >= len(bitsets)):
            raise _refuse(what, "points outside its categorical bitsets")


def _hist_width(owner: Any, what: str) -> tuple[int, Any]:
    """The width of the input a HistGradientBoosting model's trees read, and which features are categorical.

    With a ``_preprocessor`` the trees read its output, which scikit-learn never checks against
    ``n_features_in_``; its width is what it declares it produces.
    """
    import numpy as np

    width = int(owner.n_features_in_)
    preprocessor = owner.__dict__.get("_preprocessor")
    if preprocessor is not None:
        try:
            width = len(preprocessor.get_feature_names_out())
        except (AttributeError, TypeError, ValueError) as exc:
            raise _refuse(what, f"reads an input whose width its preprocessor cannot state ({exc})") from exc
    mapper = owner.__dict__.get("_bin_mapper")
    flags = getattr(mapper, "is_categorical_", None)
    is_categorical = np.zeros(width, dtype=bool) if flags is None else np.asarray(flags, dtype=bool)
    thresholds = getattr(mapper, "bin_thresholds_", None)
    if is_categorical.shape != (width,) or thresholds is None or len(thresholds) != width:
        raise _refuse(what, f"describes {len(is_categorical)} binned features for an input of {width}")
    for index in np.flatnonzero(is_categorical):
        known = np.asarray(thresholds[index], dtype=float)
        if known.size and (known.min() < 0 or known.max() > 255 or np.any(known != np.round(known))):
            raise _refuse(what, "knows categories outside 0..255, the range of its category bitsets")
    return width, is_categorical


def _children_with_bounds(value: object, bound: int | None) -> list[tuple[object, int | None]]:
    n_features = getattr(value, "n_features_in_", None) if hasattr(value, "__dict__") else None
    is_ensemble = isinstance(n_features, int) and ("estimators_" in value.__dict__ or "_predictors" in value.__dict__)
    inner = int(n_features) if is_ensemble and isinstance(n_features, int) else bound
    return [(child, inner) for child in _children(value)]


def check_trees(model: object, what: str) -> None:
    """Refuse a model holding a tree whose indices could leave its arrays (see the module docstring).

    A tree's features must lie below its own estimator's width and below the width of the nearest enclosing
    ensemble: an ensemble checks the input once, against its own ``n_features_in_``, then hands it to every
    tree unchecked.
    """
    seen: set[int] = set()
    stack: list[tuple[object, int | None]] = [(model, None)]
    trees: set[int] = set()
    checked: set[int] = set()
    while stack:
        value, bound = stack.pop()
        if id(value) in seen or isinstance(value, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(value))
        if _kind(value) in (_TREE, _PREDICTOR):
            trees.add(id(value))
            continue
        attributes = getattr(value, "__dict__", None)
        n_features = getattr(value, "n_features_in_", None) if isinstance(attributes, dict) else None
        if isinstance(attributes, dict) and isinstance(n_features, int):
            tree = attributes.get("tree_")
            if tree is not None and _kind(tree) == _TREE:
                _check_tree(tree, n_features, min(n_features, bound or n_features), what)
                checked.add(id(tree))
            stages = attributes.get("_predictors") or ()
            if stages:
                width, is_categorical = _hist_width(value, what)
                for stage in stages:
                    for predictor in stage:
                        if _kind(predictor) == _PREDICTOR:
                            _check_predictor(predictor, width, is_categorical, what)
                            checked.add(id(predictor))
        stack.extend(_children_with_bounds(value, bound))
    if trees - checked:
        raise _refuse(what, "sits outside any fitted tree estimator")
