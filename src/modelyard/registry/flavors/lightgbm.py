"""LightGBM boosters and scikit-learn wrappers, stored as LightGBM's model text, never pickle.

The text holds the trees, the objective, the (sanitized) feature names, which features are categorical and,
for a model trained on a pandas DataFrame, the categories of each ``category`` column
(``pandas_categorical``), so category codes are matched by value at prediction time. It holds no Python.
What the text cannot hold is kept in the manifest's options as plain data, validated on load:

* ``wrapper``: ``booster``, ``classifier``, ``regressor`` or ``ranker`` (a fixed list, never an import path);
* ``classes``: a classifier's labels (a JSON list of ints, floats, booleans or strings), so ``predict``
  returns the original labels and ``predict_proba`` has one column per class;
* ``feature_names``: the input example's column names, when they are the model's before LightGBM replaced
  their whitespace with ``_`` in the text, so a DataFrame's columns are put back in training order.

Limits:
    * A custom objective (a Python callable) cannot be stored, so such a wrapper is refused.
    * ``predict`` takes the input only: no ``raw_score``, ``pred_leaf``, ``pred_contrib`` or ``num_iteration``.
    * The text holds the best iteration of an early-stopped model, and only the trees up to it.
    * Categorical columns are matched by value only for a model trained on ``category`` dtype columns; a
      model given integer codes (``categorical_feature=[...]``) needs the same codes. String columns in the
      input are cast to ``category`` where the model expects a categorical feature.
    * Without a DataFrame example only the text's feature names (whitespace replaced) are known.
    * LightGBM trusts the text: a tree index out of range crashes the process when it predicts, and a format
      error inside its (OpenMP) tree parser aborts it. So ``load`` checks the text as LightGBM 4 writes it
      before LightGBM sees it and refuses anything else: the header (``version=v4``, ``num_class`` equal to
      ``num_tree_per_iteration``, ``max_feature_idx`` against the feature lists, the objective's
      ``num_class``), ``tree_sizes`` against each ``Tree=N`` block's byte length, every tree
      (``boosted_trees.check_lightgbm_tree``, linear trees included), the ``parameters:`` lines and
      ``pandas_categorical``. A model holding NaN or infinite numbers is refused.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors.base import NativeModel, PackageFiles, Saved, qualified_name, require, wrapper_of
from modelyard.registry.flavors.boosted_trees import Refuse, check_lightgbm_block, numbers, refuser

__all__ = ["LightGBMFlavor"]

_FILE = "model.txt"
_WRAPPERS = {
    "lightgbm.basic.Booster": "booster",
    "lightgbm.sklearn.LGBMClassifier": "classifier",
    "lightgbm.sklearn.LGBMRegressor": "regressor",
    "lightgbm.sklearn.LGBMRanker": "ranker",
}
_ALLOWED = frozenset(_WRAPPERS.values())
_COUNTS = ("num_class", "num_tree_per_iteration", "label_index", "max_feature_idx")
_HEADER = frozenset(
    {*_COUNTS, "version", "objective", "feature_names", "feature_infos", "monotone_constraints", "tree_sizes"}
)
_OBJECTIVE = re.compile(r"[a-z][a-z0-9_]*(?: [a-z][a-z0-9_]*(?::[-+.\w]+)?)*")
_OBJECTIVES = frozenset(
    {"regression", "regression_l1", "huber", "fair", "poisson", "quantile", "mape", "gamma", "tweedie", "binary"}
    | {"multiclass", "multiclassova", "cross_entropy", "cross_entropy_lambda", "lambdarank", "rank_xendcg", "custom"}
)
# LightGBM splits each at ':' and reads the second part unchecked, then Python parses them as JSON: one level of
# brackets at most (lists of lists are written as "[0,1],[2]"), so json.loads cannot recurse without bound.
_PARAMETER = re.compile(r"\[\w+: (?:[^\[\]\n]|\[[^\[\]\n]*\])*\]")


def _lightgbm() -> Any:
    return require("lightgbm", extra="lightgbm", models="LightGBM")


def _wrapper_of(model: object) -> str | None:
    return wrapper_of(model, "lightgbm", _WRAPPERS)


def _label(value: object) -> bool | int | float | str:
    scalar = value.item() if hasattr(value, "item") else value
    if isinstance(scalar, bool | int | str) or (isinstance(scalar, float) and math.isfinite(scalar)):
        return scalar
    raise InvalidInputError(
        f"Class label {value!r} ({type(value).__name__}) cannot be stored as JSON.",
        hint="Train the classifier on integer, float, boolean or string labels.",
    )


def _original_names(booster: Any, example: object | None) -> list[str] | None:
    """The example's column names when they are the model's before LightGBM replaced their whitespace."""
    columns = getattr(example, "columns", None)
    if columns is None:
        return None
    names = [str(c) for c in columns]
    stored = list(booster.feature_name())
    if len(names) != len(stored) or any(re.sub(r"\s", "_", n) != s for n, s in zip(names, stored, strict=True)):
        return None
    return names


def _categorical_positions(booster: Any) -> tuple[int, ...]:
    """Positions of the features the model treats as pandas categories (empty unless it was fit on pandas)."""
    if not booster.pandas_categorical:
        return ()
    value = booster.params.get("categorical_feature")
    if isinstance(value, int):
        value = [value]
    elif isinstance(value, str):
        value = [part for part in value.split(",") if part.strip().isdigit()]
    if not isinstance(value, list | tuple):
        return ()
    return tuple(int(v) for v in value if isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit()))


class _LightGBMModel:
    """A loaded LightGBM booster behind ``predict`` (``predict_proba`` for a classifier, see subclass)."""

    def __init__(self, booster: Any, *, feature_names: list[str] | None) -> None:
        self._booster = booster
        self._names = feature_names or list(booster.feature_name())
        self._categorical = _categorical_positions(booster)

    @property
    def booster(self) -> Any:
        """The rebuilt ``lightgbm.Booster``."""
        return self._booster

    def _prepared(self, data: Any) -> Any:
        if not (type(data).__module__.startswith("pandas") and hasattr(data, "columns")):
            return data
        import pandas as pd

        columns = [str(c) for c in data.columns]
        if columns != self._names and set(columns) == set(self._names):
            data = data.rename(columns=str)[self._names]
        for position in self._categorical:
            if position < len(data.columns):
                column = data.columns[position]
                if not isinstance(data[column].dtype, pd.CategoricalDtype):
                    data = data.assign(**{str(column): data[column].astype("category")})
        return data

    def predict(self, data: Any) -> Any:
        """What the original model's ``predict`` returns for ``data``."""
        return self._booster.predict(self._prepared(data))


class _LightGBMClassifier(_LightGBMModel):
    def __init__(self, booster: Any, *, feature_names: list[str] | None, classes: list[Any]) -> None:
        super().__init__(booster, feature_names=feature_names)
        self._classes = classes

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, one column per class in the order of ``classes``."""
        import numpy as np

        result = np.asarray(self._booster.predict(self._prepared(data)))
        return np.column_stack([1.0 - result, result]) if result.ndim == 1 else result

    def predict(self, data: Any) -> Any:
        """The original class labels."""
        import numpy as np

        return np.asarray(self._classes)[np.argmax(self.predict_proba(data), axis=1)]


class LightGBMFlavor:
    """LightGBM ``Booster``, ``LGBMClassifier``, ``LGBMRegressor`` and ``LGBMRanker`` models, stored as text.

    Detected by class module before the scikit-learn flavor (the wrappers subclass ``BaseEstimator``).
    Subclasses defined outside LightGBM are not detected: their own methods would be lost.

    Example:
        >>> loaders.register(LightGBMFlavor())
        >>> flavor, saved = loaders.save(LGBMClassifier().fit(X, y), flavor=None, trusted=False, example=X)
    """

    name = "lightgbm"
    safe_formats = frozenset({"text"})
    code_formats: frozenset[str] = frozenset()
    distributions: tuple[str, ...] = ("lightgbm",)

    def detect(self, model: object) -> bool:
        """Whether ``model`` is a LightGBM booster or one of its scikit-learn wrappers."""
        return _wrapper_of(model) is not None

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """The model text, plus the wrapper, labels and original feature names as options.

        Raises:
            InvalidInputError: not a LightGBM model, not fitted, a custom objective, or labels JSON cannot hold.
        """
        del trusted
        wrapper = _wrapper_of(model)
        if wrapper is None:
            raise InvalidInputError(
                f"A {qualified_name(type(model))} is not a LightGBM model.",
                hint="Pass a lightgbm Booster, LGBMClassifier, LGBMRegressor or LGBMRanker, or choose another flavor.",
            )
        if callable(getattr(model, "objective", None)):
            raise InvalidInputError(
                f"This {type(model).__name__} uses a custom Python objective, which LightGBM's model text "
                "cannot hold, so the stored model would predict differently.",
                hint="Use a built-in objective, or store it as pickle with the 'python' flavor and trusted=True.",
            )
        booster: Any = model if wrapper == "booster" else self._booster_of(model)
        options: dict[str, Any] = {"wrapper": wrapper}
        if wrapper == "classifier":
            options["classes"] = [_label(c) for c in model.classes_]  # type: ignore[attr-defined]
        names = _original_names(booster, example)
        if names is not None:
            options["feature_names"] = names
        return Saved(
            format="text",
            files={_FILE: booster.model_to_string().encode("utf-8")},
            model_class=qualified_name(type(model)),
            methods=("predict", "predict_proba") if wrapper == "classifier" else ("predict",),
            options=options,
            modules=("lightgbm", "numpy"),
        )

    @staticmethod
    def _booster_of(model: Any) -> Any:
        try:
            return model.booster_
        except (ValueError, AttributeError) as exc:  # sklearn's NotFittedError is both
            raise InvalidInputError(
                f"This {type(model).__name__} is not fitted, so there is no model to store.",
                hint="Call fit(X, y) before logging it.",
            ) from exc

    def load(self, files: PackageFiles) -> NativeModel:
        """Rebuild a ``lightgbm.Booster`` from the text and wrap it as the options say.

        Raises:
            UnsafeModelError: options outside the allow-list or of the wrong shape, or model text that is
                unreadable or fails a check (see the module docstring).
        """
        what = f"The LightGBM package {files.manifest.model_class}"
        options = files.manifest.options
        wrapper = options.get("wrapper")
        if not isinstance(wrapper, str) or wrapper not in _ALLOWED:
            raise UnsafeModelError(
                f"{what} names wrapper {wrapper!r}, which is not one of {sorted(_ALLOWED)}. Nothing was loaded.",
                hint="The package was not written by modelyard's lightgbm flavor or was altered; log the model again.",
            )
        names = _checked_names(options.get("feature_names"), what)
        text = _checked_text(files.read(_FILE), what)
        lgb = _lightgbm()
        try:
            booster = lgb.Booster(model_str=text)
        except (lgb.basic.LightGBMError, ValueError) as exc:
            raise UnsafeModelError(
                f"{what} holds model text LightGBM cannot read: {exc}", hint="Log it again."
            ) from exc
        if wrapper != "classifier":
            return _LightGBMModel(booster, feature_names=names)
        classes = _checked_classes(options.get("classes"), booster, what)
        return _LightGBMClassifier(booster, feature_names=names, classes=classes)


def _checked_names(value: object, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(n, str) for n in value):
        return list(value)
    raise UnsafeModelError(
        f"{what} has feature_names {value!r}; expected a list of strings. Nothing was loaded.",
        hint="Log the model again.",
    )


def _checked_classes(value: object, booster: Any, what: str) -> list[Any]:
    expected = max(2, int(booster.num_model_per_iteration()))
    if (
        isinstance(value, list)
        and len(value) == expected
        and all(isinstance(c, bool | int | float | str) for c in value)
        and len({(type(c), c) for c in value}) == len(value)
    ):
        return list(value)
    raise UnsafeModelError(
        f"{what} has classes {value!r}; expected {expected} distinct labels for this model. Nothing was loaded.",
        hint="Log the model again.",
    )


# -- the model text, checked before LightGBM reads it ---------------------------------------------------------
def _unreadable(what: str, problem: str) -> UnsafeModelError:
    return UnsafeModelError(
        f"{what} holds model text LightGBM cannot read: {problem}. Nothing was loaded.", hint="Log it again."
    )


def _checked_text(data: bytes, what: str) -> str:
    """The model text, once every part LightGBM parses has passed the checks in the module docstring."""
    refuse = refuser(what, "LightGBM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _unreadable(what, "it is not UTF-8") from exc
    lines = text.split("\n")
    if lines[0] != "tree":
        raise _unreadable(what, "it does not start with the line 'tree'")
    if "\r" in text or "\x00" in text:  # LightGBM ends lines at either, our split would not
        raise refuse("the file holds a carriage return or NUL character")
    sizes, n_features = _checked_header(lines, refuse)
    position = data.find(b"\nTree=") + 1  # the header holds no line starting with Tree=
    for index, size in enumerate(sizes):
        check_lightgbm_block(data[position : position + size], size, index, n_features=n_features, refuse=refuse)
        position += size
    if not data.startswith(b"end of trees\n", position):
        raise refuse("the file has tree_sizes that do not end where its trees end")
    _check_tail(text, data[position:].decode(), refuse)
    return text


def _checked_header(lines: list[str], refuse: Refuse) -> tuple[list[int], int]:
    """The header's tree sizes and number of features, once its fields are checked."""
    header: dict[str, str] = {}
    for line in lines[1 : next((i for i, line in enumerate(lines) if line.startswith("Tree=")), len(lines))]:
        key, sep, value = line.partition("=")
        free = key in ("feature_names", "monotone_constraints")  # LightGBM keeps a '=' in these values
        if (
            line != "average_output"
            and line
            and (key in header or key not in _HEADER or not sep or ("=" in value and not free))
        ):
            raise refuse(f"the file has a header line {line[:60]!r} LightGBM would misread")
        if line:
            header[key] = value
    missing = sorted({*_COUNTS, "version", "feature_names", "feature_infos", "tree_sizes"} - header.keys())
    if missing or header["version"] != "v4":
        raise refuse(
            f"the file lacks {missing[0]}" if missing else f"the file has version {header['version']!r}, not v4"
        )
    n_class, per_iteration, _, last = (
        numbers(header[k], k, "int", refuse, count=1, bounds=(0, 2**31))[0] for k in _COUNTS
    )
    sizes = numbers(
        header["tree_sizes"], "tree_sizes", "int", refuse, count=len(header["tree_sizes"].split()), bounds=(1, 2**40)
    )
    if n_class < 1 or per_iteration != n_class or not sizes or len(sizes) % per_iteration:
        raise refuse(f"the file has {n_class} classes, {per_iteration} trees per iteration and {len(sizes)} trees")
    for key in ("feature_names", "feature_infos", "monotone_constraints"):
        if key in header and len(header[key].split(" ")) - header[key].split(" ").count("") != last + 1:
            raise refuse(f"the file has {key} for another number of features than max_feature_idx + 1")
    if "monotone_constraints" in header:
        numbers(header["monotone_constraints"], "monotone_constraints", "int", refuse, count=last + 1, bounds=(-1, 2))
    _check_objective(header.get("objective"), n_class, refuse)
    return sizes, last + 1


def _check_objective(objective: str | None, n_class: int, refuse: Refuse) -> None:
    if objective is None:
        return
    name, *options = objective.split(" ")
    if _OBJECTIVE.fullmatch(objective) is None or name not in _OBJECTIVES:
        raise refuse(f"the file has objective {objective[:60]!r}, which LightGBM does not define")
    classes = {k: v for k, _, v in (option.partition(":") for option in options)}.get("num_class")
    multiclass = name in ("multiclass", "multiclassova")  # their output transform walks num_class outputs
    if (classes != str(n_class)) if multiclass else (n_class != 1 and name != "custom"):
        raise refuse(f"the file has objective {objective!r} for a model with {n_class} classes")


def _check_tail(text: str, tail: str, refuse: Refuse) -> None:
    """The ``parameters:`` lines LightGBM parses, and the ``pandas_categorical`` line Python reads."""
    lines = tail.split("\n")
    if "parameters:" in lines:
        start = lines.index("parameters:") + 1
        end = lines.index("end of parameters", start) if "end of parameters" in lines[start:] else -1
        if end < 0 or any(line and _PARAMETER.fullmatch(line) is None for line in lines[start:end]):
            raise refuse("the file has a parameters section LightGBM would misread")
    key = "pandas_categorical:"
    last = text[text.rfind("\n", 0, -len(key)) :].strip()  # as lightgbm.basic._load_pandas_categorical finds it
    if not last.startswith(key):
        return
    try:
        value = orjson.loads(last[len(key) :])
    except orjson.JSONDecodeError:
        value = {}
    lists = isinstance(value, list) and all(isinstance(c, list) for c in value)
    if value is not None and not (lists and all(isinstance(v, str | int | float) for c in value for v in c)):
        raise refuse("the file has a pandas_categorical line that is not a list of category lists")
