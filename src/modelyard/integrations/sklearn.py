"""Autologging for scikit-learn: every ``fit`` logs params, the training score and the fitted model.

``autolog()`` wraps ``fit`` on every estimator class defined so far and, through
``BaseEstimator.__init_subclass__``, on classes defined later. Only the outermost ``fit`` logs: a pipeline's
steps and a search's inner fits do not each start runs, and only estimators that predict are logged (a
``LabelBinarizer`` fitted inside a metric is not a model). The model is logged with ``log_model`` as the run's
``model`` (skops, no pickle; signature and input example from the first five training rows), ready for
``register_model(name, "runs:/<run id>/model")``.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable
from typing import Any

from modelyard._api import current_client
from modelyard.errors import ConfigError, InvalidInputError

__all__ = ["autolog"]

_WRAPPED = "__modelyard_autolog__"
_ORIGINAL = "__modelyard_original__"
_inside_fit: contextvars.ContextVar[bool] = contextvars.ContextVar("modelyard_sklearn_fit", default=False)
_MAX_PARAM_CHARS = 500


def _sklearn() -> Any:
    try:
        import sklearn.base
    except ImportError as exc:
        raise ConfigError(
            "scikit-learn is not installed, so it cannot be autologged.",
            hint="pip install 'modelyard[sklearn]'.",
        ) from exc
    return sklearn.base


def _params(estimator: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in sorted(estimator.get_params(deep=True).items()):
        text = type(value).__name__ if hasattr(value, "get_params") else repr(value)
        out[key] = text if len(text) <= _MAX_PARAM_CHARS else text[: _MAX_PARAM_CHARS - 3] + "..."
    return out


def _log_fit(estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any], log_models: bool) -> None:
    client = current_client()
    client.log_params(_params(estimator))
    client.set_tags({"estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}"})
    x = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if x is not None and y is not None and hasattr(estimator, "score"):
        client.log_metric("training_score", float(estimator.score(x, y)))
    if log_models:
        example: Any = None if x is None else (x.head(5) if hasattr(x, "head") else x[:5])
        try:
            client.log_model(estimator, "model", input_example=example)
        except InvalidInputError as exc:  # a model no safe flavor can hold must not break the user's fit
            name = type(estimator).__name__
            logging.getLogger("modelyard").warning("autolog did not log the %s model: %s", name, exc)


def _wrap(fit: Callable[..., Any], log_models: bool) -> Callable[..., Any]:
    @functools.wraps(fit)
    def fit_and_log(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside_fit.get() or not callable(getattr(self, "predict", None)):
            # Only models are logged: label encoders fitted by metrics, scalers fitted alone are not.
            return fit(self, *args, **kwargs)
        token = _inside_fit.set(True)
        try:
            client = current_client()
            own = client.active_run() is None
            run = client.start_run(name=type(self).__name__) if own else None
            try:
                result = fit(self, *args, **kwargs)
                _log_fit(self, args, kwargs, log_models)
            except BaseException:
                if run is not None:
                    client.end_run("FAILED")
                raise
            if run is not None:
                client.end_run()
            return result
        finally:
            _inside_fit.reset(token)

    setattr(fit_and_log, _WRAPPED, True)
    return fit_and_log


def _patch(cls: type, log_models: bool) -> None:
    fit = cls.__dict__.get("fit")
    if callable(fit) and not getattr(fit, _WRAPPED, False):
        cls.fit = _wrap(fit, log_models)  # type: ignore[attr-defined]


def _unpatch(cls: type) -> None:
    fit = cls.__dict__.get("fit")
    if getattr(fit, _WRAPPED, False):
        cls.fit = fit.__wrapped__  # type: ignore[attr-defined, union-attr]  # set by functools.wraps


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


def autolog(*, log_models: bool = True, disable: bool = False) -> None:
    """Log every scikit-learn ``fit`` to modelyard.

    Inside an active run the fit logs into it; otherwise each outermost fit gets a run of its own (in the
    ``default`` experiment). Logged: every param of ``get_params(deep=True)``, the ``training_score``
    (``estimator.score`` on the training data), the ``estimator_class`` tag and, with ``log_models``, the
    fitted estimator as the run's model ``runs:/<run id>/model`` (``log_model``: skops, never pickle).

    Args:
        log_models: also log the fitted estimator (``log_model``).
        disable: undo an earlier ``autolog()``: every ``fit`` is the library's own again.

    Example:
        >>> my.autolog()                                        # doctest: +SKIP
        >>> with my.start_run(experiment="flights"):            # doctest: +SKIP
        ...     RandomForestClassifier().fit(X, y)

    Added in 0.1.
    """
    base = _sklearn().BaseEstimator
    hook = base.__dict__.get("__init_subclass__")
    if disable:
        for cls in _subclasses(base):
            _unpatch(cls)
        if getattr(hook, _WRAPPED, False):
            original_hook = getattr(hook, _ORIGINAL)
            if original_hook is None:
                delattr(base, "__init_subclass__")
            else:
                base.__init_subclass__ = original_hook
        return
    for cls in _subclasses(base):
        _patch(cls, log_models)
    if getattr(hook, _WRAPPED, False):
        return
    original = base.__init_subclass__

    def init_subclass(cls: Any, /, **kwargs: Any) -> None:
        original.__func__(cls, **kwargs)
        _patch(cls, log_models)

    wrapped: Any = classmethod(init_subclass)
    setattr(init_subclass, _WRAPPED, True)
    setattr(wrapped, _WRAPPED, True)
    setattr(wrapped, _ORIGINAL, hook)
    base.__init_subclass__ = wrapped
