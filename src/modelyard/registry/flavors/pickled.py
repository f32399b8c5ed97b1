"""Pickle, for models nothing else can store, and only for trusted packages.

A package is written as pickle only when the caller trusts it, and read only through the loader guard after
it found a trust grant for the package's digest.

This module is the only place modelyard unpickles, and the guard is the only caller of ``load``.
"""

from __future__ import annotations

import pickle

from modelyard.registry.flavors.base import NativeModel, PackageFiles, Saved, qualified_name

__all__ = ["PythonFlavor", "load", "save"]

_FILE = "model.pkl"


def save(model: object, *, methods: tuple[str, ...], modules: tuple[str, ...]) -> Saved:
    """Pickle ``model`` (protocol 5)."""
    return Saved(
        format="pickle",
        files={_FILE: pickle.dumps(model, protocol=5)},
        model_class=qualified_name(type(model)),
        methods=methods,
        modules=modules,
    )


def load(files: PackageFiles) -> NativeModel:
    """Unpickle a trusted package's model (the guard has checked the grant)."""
    if not files.trusted:  # defence in depth: the guard refuses first
        from modelyard.errors import UnsafeModelError

        raise UnsafeModelError("Refusing to unpickle an untrusted package.", hint="Trust it first.")
    return pickle.loads(files.read(_FILE))  # type: ignore[no-any-return]


class PythonFlavor:
    """Any object with ``predict``: pickled, so only with ``trusted=True``; detected last."""

    name = "python"
    safe_formats: frozenset[str] = frozenset()  # nothing safe can hold arbitrary Python objects
    code_formats = frozenset({"pickle"})
    distributions: tuple[str, ...] = ()

    def detect(self, model: object) -> bool:
        """Any object with a callable ``predict``."""
        return callable(getattr(model, "predict", None))

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """Pickle the object, only when the caller trusts the package."""
        del example
        if not trusted:
            from modelyard.errors import InvalidInputError

            raise InvalidInputError(
                f"A {qualified_name(type(model))} can only be stored as pickle, which runs code when loaded.",
                hint="Log it with my.log_model(model, trusted=True) to trust this one package, "
                "or use a flavor with a safe format (docs/models.md).",
            )
        methods = ("predict", "predict_proba") if callable(getattr(model, "predict_proba", None)) else ("predict",)
        from modelyard.registry.flavors.base import model_modules

        return save(model, methods=methods, modules=model_modules(model))

    def load(self, files: PackageFiles) -> NativeModel:
        """Unpickle (the guard has checked the grant)."""
        return load(files)
