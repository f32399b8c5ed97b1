"""The Python environment of this process: installed distributions, which of them are imported, a digest.

Shared by tracking (a run records its environment) and the registry (a model package records its
requirements). Computed once per process and cheap afterwards; nothing here starts a subprocess.
"""

from __future__ import annotations

import functools
import getpass
import importlib.metadata
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import blake3

__all__ = ["current_user", "distributions_of", "environment_digest", "imported_packages", "installed_version"]


def _key(name: str) -> str:
    """A distribution's canonical name (PEP 503): ``Scikit_Learn`` and ``scikit-learn`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class _Installed:
    name: str  # canonical
    version: str
    modules: tuple[str, ...]  # the top-level modules it provides


def _top_levels(info: Path) -> tuple[str, ...]:
    """Top-level modules of a distribution: ``top_level.txt``, else the first parts of the paths in RECORD."""
    try:
        declared = (info / "top_level.txt").read_text(encoding="utf-8").split()
    except OSError:
        declared = []
    if declared:
        return tuple(sorted(set(declared)))
    try:
        record = (info / "RECORD").read_text(encoding="utf-8")
    except OSError:
        return ()
    found: set[str] = set()
    for line in record.splitlines():
        first = line.split(",", 1)[0].split("/", 1)[0]
        if first.endswith(".py"):
            found.add(first[:-3])
        elif "/" in line.split(",", 1)[0] and first.isidentifier():
            found.add(first)  # a package folder (dist-info, __pycache__, ../bin are not identifiers)
    return tuple(sorted(found))


def _from_metadata(info: Path) -> _Installed | None:
    """The slow path (egg-info, odd folder names): parse the distribution's metadata."""
    dist = importlib.metadata.PathDistribution(info)
    name, version = dist.metadata["Name"], dist.version
    if not name or not version:
        return None
    modules = {m.split(".")[0] for m in (dist.read_text("top_level.txt") or "").split()}
    return _Installed(name=_key(name), version=version, modules=tuple(sorted(modules)) or _top_levels(info))


@functools.lru_cache(maxsize=1)
def _distributions() -> tuple[_Installed, ...]:
    """Every distribution on ``sys.path`` (the first of a name wins, as imports do), from folder names.

    ``importlib.metadata`` parses every METADATA file with the email parser (~0.3 s for 300 distributions,
    twice over for names and for modules); a ``name-version.dist-info`` folder already says both.
    """
    found: dict[str, _Installed] = {}
    for entry in sys.path:
        try:
            children = sorted(os.scandir(entry or "."), key=lambda e: e.name)
        except OSError:
            continue
        for child in children:
            if not child.name.endswith((".dist-info", ".egg-info")) or not child.is_dir():
                continue
            stem, _, version = child.name.rpartition(".")[0].partition("-")
            if child.name.endswith(".dist-info") and version[:1].isdigit() and "-" not in version:
                dist: _Installed | None = _Installed(
                    name=_key(stem), version=version, modules=_top_levels(Path(child.path))
                )
            else:
                dist = _from_metadata(Path(child.path))
            if dist is not None and dist.name not in found:
                found[dist.name] = dist
    return tuple(sorted(found.values(), key=lambda d: d.name))


def _installed() -> tuple[tuple[str, str], ...]:
    return tuple((d.name, d.version) for d in _distributions())


@functools.lru_cache(maxsize=1)
def _module_distributions() -> dict[str, tuple[str, ...]]:
    mapping: dict[str, list[str]] = {}
    for dist in _distributions():
        for module in dist.modules:
            mapping.setdefault(module, []).append(dist.name)
    return {module: tuple(names) for module, names in mapping.items()}


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
