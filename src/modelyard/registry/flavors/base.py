"""What a flavor is: how one kind of model is detected, saved to bytes and loaded back.

A flavor never opens files itself: ``save`` returns named byte strings and ``load`` reads them through
``PackageFiles``, which verifies each file against the manifest's digest. A flavor declares the formats it
writes: ``safe_formats`` cannot run code when loaded; ``code_formats`` (pickle) can, and the loader guard
(``registry.loading``) hands them to the flavor only for a package whose digest was explicitly trusted.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.errors import InvalidInputError
from modelyard.registry.models import PackageManifest

__all__ = [
    "Flavor",
    "NativeModel",
    "PackageFiles",
    "Saved",
    "model_modules",
    "qualified_name",
    "require",
    "wrapper_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Saved:
    """A model turned into bytes by its flavor."""

    format: str
    files: dict[str, bytes]
    model_class: str
    methods: tuple[str, ...] = ("predict",)
    options: dict[str, Any] = field(default_factory=dict)
    modules: tuple[str, ...] = ()  # modules the model's classes come from: their distributions are requirements


class PackageFiles(Protocol):
    """The verified files of one package (or of one of its representations), as the guard hands them over."""

    @property
    def manifest(self) -> PackageManifest:
        """The package's manifest."""
        ...

    @property
    def flavor(self) -> str:
        """The flavor of the files being loaded (the package's, or its representation's)."""
        ...

    @property
    def format(self) -> str:
        """The format of the files being loaded (the package's, or its representation's)."""
        ...

    @property
    def trusted(self) -> bool:
        """Whether the package's digest has an explicit trust grant."""
        ...

    def read(self, name: str) -> bytes:
        """A file's bytes, verified against its digest. Raises UnsafeModelError for a name not in the manifest."""
        ...


class NativeModel(Protocol):
    """What a flavor's ``load`` returns: something that predicts on prepared input."""

    def predict(self, data: Any) -> Any:
        """Predict on input already validated against the signature."""
        ...


class Flavor(Protocol):
    """One kind of model. Register instances with ``Loaders.register``; nothing else loads packages."""

    name: str
    safe_formats: frozenset[str]
    code_formats: frozenset[str]
    distributions: tuple[str, ...]  # what loading needs installed, e.g. ("scikit-learn", "skops")

    def detect(self, model: object) -> bool:
        """Whether ``model`` is of this flavor (checked by class module names; imports nothing)."""
        ...

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """Serialize ``model``; code-executing formats only when ``trusted``."""
        ...

    def load(self, files: PackageFiles) -> NativeModel:
        """Rebuild the model from verified files (the guard has approved the format)."""
        ...


def qualified_name(kind: type) -> str:
    """``module.QualName`` of a class."""
    return f"{kind.__module__}.{kind.__qualname__}"


def model_modules(model: object) -> tuple[str, ...]:
    """Modules of the model's class and its bases (for requirements)."""
    return tuple(sorted({kind.__module__ for kind in type(model).__mro__ if kind.__module__ != "builtins"}))


def require(module: str, *, extra: str, models: str) -> Any:
    """Import the library a flavor needs, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InvalidInputError(
            f"{module.partition('.')[0]} is not installed, so {models} models cannot be stored or loaded.",
            hint=f"pip install 'modelyard[{extra}]'.",
        ) from exc


def wrapper_of(model: object, package: str, wrappers: Mapping[str, str]) -> str | None:
    """The short name of a library's own model class (``wrappers``: qualified name -> short name), or None.

    Only classes from ``package`` count: a user's subclass would lose its own methods when rebuilt.
    """
    if not type(model).__module__.startswith(f"{package}."):
        return None
    for kind in type(model).__mro__:
        found = wrappers.get(qualified_name(kind))
        if found is not None:
            return found
    return None
