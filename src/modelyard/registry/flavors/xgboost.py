"""XGBoost boosters and scikit-learn wrappers, stored in XGBoost's own JSON model format, never pickle.

The file holds the trees, the objective, the feature names and types, the category encodings and the best
iteration of an early-stopped model; it holds no Python. Which Python object to rebuild around it is stored in
the manifest's options as one short name from a fixed list (``booster``, ``classifier``, ``regressor``,
``ranker``), never as an import path, and ``load`` refuses any other value before reading a byte.

XGBoost trusts its model file: a child or feature index out of range loads fine and then crashes the process
when it predicts. So ``load`` parses the JSON itself (orjson) and checks it against the schema XGBoost 3
writes before XGBoost sees it, and XGBoost is then given the checked document re-serialized, so both read the
same thing (a duplicated key cannot mean one thing here and another there). Unknown or missing fields are
refused. Checked: every tree of a ``gbtree`` or ``dart`` booster (``boosted_trees.check_xgboost_tree``:
array lengths against ``num_nodes``, links, parents, split features against ``num_feature``, categorical
splits, multi-target leaf weights); ``tree_info`` against the number of outputs; ``iteration_indptr``,
``num_trees`` and ``num_parallel_tree`` against the trees; dart's ``weight_drop``; a ``gblinear`` booster's
weights against ``(num_feature + 1) * outputs``; the category encodings (``cats``); ``base_score``, the
feature names and types, the objective's parameters and ``best_iteration``.

Limits:
    * A custom objective (a Python callable) cannot be stored in the file, so such a wrapper is refused.
    * A model holding NaN or infinite numbers (XGBoost writes them as bare ``NaN``/``Infinity``, which is not
      JSON) cannot be checked, so it is refused when it is logged; packages stored as UBJ are not loaded.
    * A wrapper is rebuilt from the booster only: constructor parameters that matter for fitting alone
      (``n_estimators``, ``learning_rate``, callbacks, ...) are not kept; predictions are unaffected.
    * ``XGBRFClassifier``/``XGBRFRegressor`` come back as ``XGBClassifier``/``XGBRegressor`` (their forests
      predict the same).
    * A raw ``Booster`` predicts through a ``DMatrix`` built from the input: a DataFrame keeps its column
      names (reordered to the model's when they are a permutation) and string columns the model saw as
      categorical are cast to ``category``; an array gets the model's feature names when it has as many columns.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors.base import NativeModel, PackageFiles, Saved, qualified_name, require, wrapper_of
from modelyard.registry.flavors.boosted_trees import (
    MAX_XGBOOST_FEATURES,
    Refuse,
    check_xgboost_encodings,
    check_xgboost_tree,
    digits,
    exact_keys,
    floats,
    ints,
    refuser,
)

__all__ = ["XGBoostFlavor"]

_FILE = "model.json"
# Qualified class names (as seen in a model's MRO) -> the short wrapper name stored in the manifest.
_WRAPPERS = {
    "xgboost.core.Booster": "booster",
    "xgboost.sklearn.XGBClassifier": "classifier",
    "xgboost.sklearn.XGBRegressor": "regressor",
    "xgboost.sklearn.XGBRanker": "ranker",
}
_ALLOWED = frozenset(_WRAPPERS.values())


def _xgboost() -> Any:
    return require("xgboost", extra="xgboost", models="XGBoost")


def _wrapper_of(model: object) -> str | None:
    return wrapper_of(model, "xgboost", _WRAPPERS)


def _is_frame(data: object) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns") and hasattr(data, "dtypes")


def _frame_for(booster: Any, frame: Any) -> Any:
    """The DataFrame in the model's column order, with string columns the model saw as categorical cast."""
    import pandas as pd

    names: list[str] = list(booster.feature_names or [])
    types: list[str] = list(booster.feature_types or [])
    if names and [str(c) for c in frame.columns] != names and {str(c) for c in frame.columns} == set(names):
        frame = frame.rename(columns=str)[names]
    for name, kind in zip(names, types, strict=False):
        if kind == "c" and name in frame.columns and not isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame = frame.assign(**{name: frame[name].astype("category")})
    return frame


# -- the model document, checked before XGBoost reads it --------------------------------------------------------
_LEARNER = frozenset(
    {"attributes", "feature_names", "feature_types", "gradient_booster", "learner_model_param", "objective"}
)
_MODEL_PARAM = frozenset({"base_score", "boost_from_average", "num_class", "num_feature", "num_target"})
_GBTREE = frozenset({"cats", "gbtree_model_param", "iteration_indptr", "tree_info", "trees"})
_FEATURE_TYPES = frozenset({"float", "int", "i", "q", "c"})


def _checked_document(data: bytes, what: str) -> bytes:
    """The model document, checked (see the module docstring) and re-serialized for XGBoost."""
    refuse = refuser(what, "XGBoost")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UnsafeModelError(
            f"{what} holds a file XGBoost cannot read: it is not JSON ({exc}). Nothing was loaded.",
            hint="Log the model again.",
        ) from exc
    document = exact_keys(document, frozenset({"learner", "version"}), "the document", refuse)
    version = document["version"]
    if not (isinstance(version, list) and len(version) == 3 and set(map(type, version)) == {int}):
        raise refuse(f"the file has version {version!r}, not three integers")
    learner = exact_keys(document["learner"], _LEARNER, "learner", refuse)
    param = exact_keys(learner["learner_model_param"], _MODEL_PARAM, "learner.learner_model_param", refuse)
    n_features, n_class, n_target = (digits(param[k], k, refuse) for k in ("num_feature", "num_class", "num_target"))
    if not 0 < n_features <= MAX_XGBOOST_FEATURES:
        raise refuse(f"the file declares {n_features} features, not 1 to {MAX_XGBOOST_FEATURES}")
    if n_target < 1 or (n_class > 1 and n_target > 1) or param["boost_from_average"] not in ("0", "1"):
        raise refuse(f"the file declares {n_features} features, {n_class} classes and {n_target} targets")
    outputs = max(n_class, n_target, 1)
    _check_base_score(param["base_score"], outputs, refuse)
    for field, allowed in (("feature_names", None), ("feature_types", _FEATURE_TYPES)):
        names = learner[field]
        if not (isinstance(names, list) and len(names) in (0, n_features) and all(isinstance(n, str) for n in names)):
            raise refuse(f"the file has {field} that is not {n_features} strings")
        if allowed is not None and not allowed.issuperset(names):
            raise refuse(f"the file has {field} outside {sorted(allowed)}")
    _check_objective(learner["objective"], n_class, refuse)
    iterations = _check_booster(learner["gradient_booster"], n_features, outputs, refuse)
    attributes = learner["attributes"]
    if not (isinstance(attributes, dict) and all(isinstance(v, str) for v in attributes.values())):
        raise refuse("the file has attributes that are not a table of strings")
    _check_attributes(attributes, iterations, refuse)
    return orjson.dumps(document)


def _check_attributes(attributes: dict[str, str], iterations: int, refuse: Refuse) -> None:
    """The attributes XGBoost's Python side parses: ``best_iteration``, ``best_score``, ``scikit_learn``."""
    best = attributes.get("best_iteration", "0")
    if not (best.isascii() and best.isdigit() and int(best) < max(iterations, 1)):
        raise refuse(f"the file has best_iteration {best!r} outside its {iterations} iterations")
    try:
        float(attributes.get("best_score", "0"))
        meta = orjson.loads(attributes.get("scikit_learn", "{}"))  # json.loads-ed by the wrappers' load_model
    except (ValueError, orjson.JSONDecodeError):
        meta = None
    if not (isinstance(meta, dict) and all(isinstance(v, str | int | float | bool | None) for v in meta.values())):
        raise refuse("the file has a best_score or scikit_learn attribute XGBoost's Python side cannot parse")


def _check_base_score(value: object, outputs: int, refuse: Refuse) -> None:
    try:
        scores = orjson.loads(value) if isinstance(value, str) else None
    except orjson.JSONDecodeError:
        scores = None
    if not (isinstance(scores, list) and len(scores) == outputs and set(map(type, scores)) <= {float, int}):
        raise refuse(f"the file has base_score {value!r}, not a list of {outputs} numbers")
    if not all(map(math.isfinite, scores)):
        raise refuse(f"the file has base_score {value!r}, not finite")


def _check_objective(objective: object, n_class: int, refuse: Refuse) -> None:
    if not (isinstance(objective, dict) and isinstance(objective.get("name"), str)):
        raise refuse("the file has an objective without a name")
    for key, group in objective.items():
        if key != "name" and not (isinstance(group, dict) and all(isinstance(v, str) for v in group.values())):
            raise refuse(f"the file has objective.{key} that is not a table of strings")
    softmax = objective.get("softmax_multiclass_param", {"num_class": str(n_class)})
    if softmax.get("num_class") != str(n_class):  # the softmax transform walks num_class outputs per row
        raise refuse(
            f"the file has an objective for {softmax.get('num_class')!r} classes where the model has {n_class}"
        )


def _check_booster(booster: object, n_features: int, outputs: int, refuse: Refuse) -> int:
    """Check the booster; return its number of iterations."""
    field = "learner.gradient_booster"
    name = booster.get("name") if isinstance(booster, dict) else None
    if name == "gbtree":
        model = exact_keys(booster, frozenset({"model", "name"}), field, refuse)["model"]
        return _check_gbtree(model, n_features, outputs, refuse)[0]
    if name == "dart":
        dart = exact_keys(booster, frozenset({"gbtree", "name", "weight_drop"}), field, refuse)
        inner = exact_keys(dart["gbtree"], frozenset({"model", "name"}), f"{field}.gbtree", refuse)
        if inner["name"] != "gbtree":
            raise refuse(f"the file has a dart booster around {inner['name']!r}, not gbtree")
        iterations, trees = _check_gbtree(inner["model"], n_features, outputs, refuse)
        floats(dart["weight_drop"], f"{field}.weight_drop", refuse, length=trees)  # one weight per tree
        return iterations
    if name == "gblinear":
        model = exact_keys(booster, frozenset({"model", "name"}), field, refuse)["model"]
        linear = exact_keys(model, frozenset({"boosted_rounds", "weights"}), f"{field}.model", refuse)
        floats(linear["weights"], f"{field}.model.weights", refuse, length=(n_features + 1) * outputs)
        rounds = linear["boosted_rounds"]
        if type(rounds) is not int or rounds < 0:
            raise refuse(f"the file has boosted_rounds {rounds!r}")
        return rounds
    raise refuse(f"the file names booster {name!r}, not gbtree, dart or gblinear")


def _check_gbtree(model: object, n_features: int, outputs: int, refuse: Refuse) -> tuple[int, int]:
    """Check a gbtree model; return its (iterations, trees)."""
    field = "learner.gradient_booster.model"
    model = exact_keys(model, _GBTREE, field, refuse)
    param = exact_keys(model["gbtree_model_param"], frozenset({"num_parallel_tree", "num_trees"}), field, refuse)
    count, parallel = (
        digits(param["num_trees"], "num_trees", refuse),
        digits(param["num_parallel_tree"], "num_parallel_tree", refuse),
    )
    trees = model["trees"]
    if not isinstance(trees, list) or len(trees) != count or parallel < 1:
        raise refuse(f"the file declares {count} trees, {parallel} in parallel, but holds another number")
    first = trees[0].get("tree_param") if trees and isinstance(trees[0], dict) else None
    vector = outputs if isinstance(first, dict) and first.get("size_leaf_vector") not in (None, "0", "1") else 1
    words = sum(
        check_xgboost_tree(t, i, n_features=n_features, vector=vector, refuse=refuse) for i, t in enumerate(trees)
    )
    if words > 2**24:  # XGBoost allocates (and zeroes) every bitset when it loads the model
        raise refuse(f"the file has categorical splits needing {4 * words} bytes of bitsets")
    groups = 1 if vector > 1 else outputs  # a multi-target tree writes every output at once
    ints(model["tree_info"], f"{field}.tree_info", refuse, low=0, high=groups, length=count)
    layer = parallel * groups
    bounds = ints(model["iteration_indptr"], f"{field}.iteration_indptr", refuse, low=0, high=count + 1)
    if count % layer or bounds != list(range(0, count + 1, layer)):
        raise refuse(f"the file has an iteration_indptr that does not split its {count} trees by {layer}")
    check_xgboost_encodings(model["cats"], n_features, refuse)
    return count // layer, count


class _XGBoostModel:
    """A loaded XGBoost model behind ``predict`` (and ``predict_proba`` for a classifier, see subclass)."""

    def __init__(self, model: Any, *, wrapper: str) -> None:
        self._model = model
        self._wrapper = wrapper
        self._xgb = _xgboost()

    @property
    def model(self) -> Any:
        """The rebuilt XGBoost object (a ``Booster`` or a scikit-learn wrapper)."""
        return self._model

    def _booster(self) -> Any:
        return self._model if self._wrapper == "booster" else self._model.get_booster()

    def _prepared(self, data: Any) -> Any:
        return _frame_for(self._booster(), data) if _is_frame(data) else data

    def _dmatrix(self, data: Any) -> Any:
        import numpy as np

        xgb = self._xgb
        if isinstance(data, xgb.DMatrix):
            return data
        if _is_frame(data):
            return xgb.DMatrix(self._prepared(data), enable_categorical=True)
        array = np.asarray(data)
        booster = self._booster()
        names = booster.feature_names
        if names and array.ndim == 2 and array.shape[1] == len(names):
            return xgb.DMatrix(array, feature_names=names, feature_types=booster.feature_types, enable_categorical=True)
        return xgb.DMatrix(array)

    def predict(self, data: Any) -> Any:
        """What the original model's ``predict`` returns for ``data``."""
        if self._wrapper == "booster":
            return self._model.predict(self._dmatrix(data))
        return self._model.predict(self._prepared(data))


class _XGBoostClassifier(_XGBoostModel):
    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, one column per class."""
        return self._model.predict_proba(self._prepared(data))


class XGBoostFlavor:
    """XGBoost ``Booster``, ``XGBClassifier``, ``XGBRegressor`` and ``XGBRanker`` models, stored as JSON.

    Detected by class module before the scikit-learn flavor (the wrappers subclass ``BaseEstimator``).
    Subclasses defined outside XGBoost are not detected: their own methods would be lost.

    Example:
        >>> loaders.register(XGBoostFlavor())
        >>> flavor, saved = loaders.save(XGBClassifier().fit(X, y), flavor=None, trusted=False, example=X)
    """

    name = "xgboost"
    safe_formats = frozenset({"json"})
    code_formats: frozenset[str] = frozenset()
    distributions: tuple[str, ...] = ("xgboost",)

    def detect(self, model: object) -> bool:
        """Whether ``model`` is an XGBoost booster or one of its scikit-learn wrappers."""
        return _wrapper_of(model) is not None

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """Serialize the booster as JSON and record which wrapper to rebuild.

        Raises:
            InvalidInputError: not an XGBoost model, not fitted, fitted with a custom Python objective, or
                holding numbers the file cannot hold as JSON (so that ``load`` would refuse it).
        """
        del trusted, example
        wrapper = _wrapper_of(model)
        if wrapper is None:
            raise InvalidInputError(
                f"A {qualified_name(type(model))} is not an XGBoost model.",
                hint="Pass an xgboost Booster, XGBClassifier, XGBRegressor or XGBRanker, or choose another flavor.",
            )
        if callable(getattr(model, "objective", None)):
            raise InvalidInputError(
                f"This {type(model).__name__} uses a custom Python objective, which XGBoost's file "
                "format cannot hold, so the stored model would predict differently.",
                hint="Use a built-in objective, or store it as pickle with the 'python' flavor and trusted=True.",
            )
        data = bytes(self._booster_of(model, wrapper).save_raw("json"))
        try:
            _checked_document(data, f"This {type(model).__name__}")
        except UnsafeModelError as exc:
            raise InvalidInputError(
                f"The file XGBoost wrote for this {type(model).__name__} fails the checks `load` makes: {exc.message}",
                hint="Check the model's training data and parameters (NaN or infinite values cannot be stored).",
            ) from exc
        return Saved(
            format="json",
            files={_FILE: data},
            model_class=qualified_name(type(model)),
            methods=("predict", "predict_proba") if wrapper == "classifier" else ("predict",),
            options={"wrapper": wrapper},
            modules=("numpy", "xgboost") if wrapper == "booster" else ("numpy", "sklearn", "xgboost"),
        )

    @staticmethod
    def _booster_of(model: Any, wrapper: str) -> Any:
        if wrapper == "booster":
            return model
        try:
            return model.get_booster()
        except (ValueError, AttributeError) as exc:  # sklearn's NotFittedError is both
            raise InvalidInputError(
                f"This {type(model).__name__} is not fitted, so there is no model to store.",
                hint="Call fit(X, y) before logging it.",
            ) from exc

    def load(self, files: PackageFiles) -> NativeModel:
        """Check the JSON document (see the module docstring), then rebuild the allow-listed wrapper around it.

        Raises:
            UnsafeModelError: the options name a wrapper outside the allow-list, or the file is unreadable or
                fails a check.
        """
        what = f"The XGBoost package {files.manifest.model_class}"
        wrapper = files.manifest.options.get("wrapper")
        if not isinstance(wrapper, str) or wrapper not in _ALLOWED:
            raise UnsafeModelError(
                f"{what} names wrapper {wrapper!r}, which is not one of {sorted(_ALLOWED)}. Nothing was loaded.",
                hint="The package was not written by modelyard's xgboost flavor or was altered; log the model again.",
            )
        checked = _checked_document(files.read(_FILE), what)
        xgb = _xgboost()
        kinds = {
            "booster": xgb.Booster,
            "classifier": xgb.XGBClassifier,
            "regressor": xgb.XGBRegressor,
            "ranker": xgb.XGBRanker,
        }
        model = kinds[wrapper]()
        try:
            model.load_model(bytearray(checked))
        except (xgb.core.XGBoostError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnsafeModelError(
                f"{what} holds a file XGBoost cannot read: {first}", hint="Log the model again."
            ) from exc
        if wrapper == "classifier":
            return _XGBoostClassifier(model, wrapper=wrapper)
        return _XGBoostModel(model, wrapper=wrapper)
