"""XGBoost boosters and scikit-learn wrappers, stored in XGBoost's own binary JSON (UBJ) format, never pickle.

The file holds the trees, the objective, the feature names and types, the category encodings and the best
iteration of an early-stopped model; it holds no Python. Which Python object to rebuild around it is stored in
the manifest's options as one short name from a fixed list (``booster``, ``classifier``, ``regressor``,
``ranker``), never as an import path, and ``load`` refuses any other value before reading a byte.

Limits:
    * A custom objective (a Python callable) cannot be stored in UBJ, so such a wrapper is refused.
    * A wrapper is rebuilt from the booster only: constructor parameters that matter for fitting alone
      (``n_estimators``, ``learning_rate``, callbacks, ...) are not kept; predictions are unaffected.
    * ``XGBRFClassifier``/``XGBRFRegressor`` come back as ``XGBClassifier``/``XGBRegressor`` (their forests
      predict the same).
    * A raw ``Booster`` predicts through a ``DMatrix`` built from the input: a DataFrame keeps its column
      names (reordered to the model's when they are a permutation) and string columns the model saw as
      categorical are cast to ``category``; an array gets the model's feature names when it has as many columns.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors.base import NativeModel, PackageFiles, Saved, qualified_name

__all__ = ["XGBoostFlavor"]

_FILE = "model.ubj"
# Qualified class names (as seen in a model's MRO) -> the short wrapper name stored in the manifest.
_WRAPPERS = {
    "xgboost.core.Booster": "booster",
    "xgboost.sklearn.XGBClassifier": "classifier",
    "xgboost.sklearn.XGBRegressor": "regressor",
    "xgboost.sklearn.XGBRanker": "ranker",
}
_ALLOWED = frozenset(_WRAPPERS.values())


def _xgboost() -> Any:
    try:
        import xgboost
    except ImportError as exc:
        raise InvalidInputError(
            "xgboost is not installed, so XGBoost models cannot be stored or loaded.",
            hint="pip install 'modelyard[xgboost]'.",
        ) from exc
    return xgboost


def _wrapper_of(model: object) -> str | None:
    """The short wrapper name of an XGBoost model; None for anything else (a user subclass included)."""
    if not type(model).__module__.startswith("xgboost."):
        return None
    for kind in type(model).__mro__:
        found = _WRAPPERS.get(qualified_name(kind))
        if found is not None:
            return found
    return None


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
    """XGBoost ``Booster``, ``XGBClassifier``, ``XGBRegressor`` and ``XGBRanker`` models, stored as UBJ.

    Detected by class module before the scikit-learn flavor (the wrappers subclass ``BaseEstimator``).
    Subclasses defined outside XGBoost are not detected: their own methods would be lost.

    Example:
        >>> loaders.register(XGBoostFlavor())
        >>> flavor, saved = loaders.save(XGBClassifier().fit(X, y), flavor=None, trusted=False, example=X)
    """

    name = "xgboost"
    safe_formats = frozenset({"ubj"})
    code_formats: frozenset[str] = frozenset()
    distributions: tuple[str, ...] = ("xgboost",)

    def detect(self, model: object) -> bool:
        """Whether ``model`` is an XGBoost booster or one of its scikit-learn wrappers."""
        return _wrapper_of(model) is not None

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """Serialize the booster as UBJ and record which wrapper to rebuild.

        Raises:
            InvalidInputError: not an XGBoost model, not fitted, or fitted with a custom Python objective.
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
        booster = self._booster_of(model, wrapper)
        return Saved(
            format="ubj",
            files={_FILE: bytes(booster.save_raw("ubj"))},
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
        """Rebuild the allow-listed wrapper around the UBJ booster.

        Raises:
            UnsafeModelError: the options name a wrapper outside the allow-list, or the file is unreadable.
        """
        what = f"The XGBoost package {files.manifest.model_class}"
        wrapper = files.manifest.options.get("wrapper")
        if not isinstance(wrapper, str) or wrapper not in _ALLOWED:
            raise UnsafeModelError(
                f"{what} names wrapper {wrapper!r}, which is not one of {sorted(_ALLOWED)}. Nothing was loaded.",
                hint="The package was not written by modelyard's xgboost flavor or was altered; log the model again.",
            )
        data = files.read(_FILE)
        xgb = _xgboost()
        kinds = {
            "booster": xgb.Booster,
            "classifier": xgb.XGBClassifier,
            "regressor": xgb.XGBRegressor,
            "ranker": xgb.XGBRanker,
        }
        model = kinds[wrapper]()
        try:
            model.load_model(bytearray(data))
        except (xgb.core.XGBoostError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnsafeModelError(
                f"{what} holds a file XGBoost cannot read: {first}", hint="Log the model again."
            ) from exc
        if wrapper == "classifier":
            return _XGBoostClassifier(model, wrapper=wrapper)
        return _XGBoostModel(model, wrapper=wrapper)
