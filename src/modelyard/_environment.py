"""The Python environment of this process: installed distributions, which of them are imported, a digest.

Shared by tracking (a run records its environment) and the registry (a model package records its
requirements). Computed once per process and cheap afterwards; nothing here starts a subprocess.
"""

from __future__ import annotations

import functools
import getpass
import importlib.metadata
import sys
from collections.abc import Iterable

import blake3

__all__ = ["current_user", "distributions_of", "environment_digest", "imported_packages", "installed_version"]


def _key(name: str) -> str:
    return name.lower().replace("_", "-")


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[_key(name)] = dist.version
    return tuple(sorted(found.items()))


@functools.lru_cache(maxsize=1)
def _module_distributions() -> dict[str, tuple[str, ...]]:
    return {module: tuple(dists) for module, dists in importlib.metadata.packages_distributions().items()}


@functools.lru_cache(maxsize=1)
def environment_digest() -> str:
    """A blake3 digest of the Python version and every installed distribution's name and version."""
    text = sys.version + "\n" + "\n".join(f"{name}=={version}" for name, version in _installed())
    return "blake3:" + blake3.blake3(text.encode()).hexdigest()


def imported_packages() -> dict[str, str]:
    """Installed versions of the distributions whose top-level modules this process has imported."""
    return dict(_imported_packages(len(sys.modules)))


@functools.lru_cache(maxsize=4)
def _imported_packages(module_count: int) -> tuple[tuple[str, str], ...]:
    """Cached by the number of loaded modules: it only changes when something new is imported."""
    del module_count
    return tuple(distributions_of(list(sys.modules)).items())


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (``scikit-learn``), or None."""
    return dict(_installed()).get(_key(distribution))


def distributions_of(modules: Iterable[str]) -> dict[str, str]:
    """Installed distributions (name -> version) that provide these modules' top-level packages."""
    mapping = _module_distributions()
    versions = dict(_installed())
    found: dict[str, str] = {}
    for module in {name.partition(".")[0] for name in modules}:
        for dist in mapping.get(module, ()):
            key = _key(dist)
            if key in versions:
                found[key] = versions[key]
    return dict(sorted(found.items()))


def current_user() -> str | None:
    """The login name of this process's user, or None where there is none (containers without a passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
