"""What a run records about the process that started it: git state, command line, Python, packages, host.

Computed once per process (the answers do not change while it runs) and cheap afterwards. Git is asked with
three short subprocess calls; nothing fails when git or a repository is missing.
"""

from __future__ import annotations

import functools
import getpass
import importlib.metadata
import os
import platform
import shlex
import socket
import subprocess
import sys

import blake3

from modelyard.tracking.models import RunContext

__all__ = ["capture_context", "environment_digest", "imported_packages"]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=5, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=8)
def _git_state(cwd: str) -> tuple[str | None, bool | None, str | None]:
    commit = _git("-C", cwd, "rev-parse", "HEAD")
    if commit is None:
        return None, None, None
    status = _git("-C", cwd, "status", "--porcelain", "--untracked-files=no")
    branch = _git("-C", cwd, "rev-parse", "--abbrev-ref", "HEAD")
    return commit, (bool(status) if status is not None else None), branch


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower().replace("_", "-")] = dist.version
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
    mapping = _module_distributions()
    versions = dict(_installed())
    found: dict[str, str] = {}
    for module in {name.partition(".")[0] for name in list(sys.modules)}:
        for dist in mapping.get(module, ()):
            key = dist.lower().replace("_", "-")
            if key in versions:
                found[key] = versions[key]
    return tuple(sorted(found.items()))


def capture_context() -> RunContext:
    """Return the context of the current process for a new run."""
    commit, dirty, branch = _git_state(os.getcwd())
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return RunContext(
        git_commit=commit,
        git_dirty=dirty,
        git_branch=branch,
        command=shlex.join([os.path.basename(sys.executable), *sys.argv]),
        python_version=platform.python_version(),
        environment_digest=environment_digest(),
        packages=imported_packages(),
        host=socket.gethostname(),
        user=user,
    )
