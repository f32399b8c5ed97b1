"""What a run records about the process that started it: git state, command line, Python, packages, host.

Computed once per process (the answers do not change while it runs) and cheap afterwards. Git is asked with
three short subprocess calls; nothing fails when git or a repository is missing.
"""

from __future__ import annotations

import functools
import os
import platform
import shlex
import socket
import subprocess
import sys

from modelyard._environment import current_user, environment_digest, imported_packages
from modelyard.tracking.models import RunContext

__all__ = ["capture_context"]


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


def capture_context() -> RunContext:
    """Return the context of the current process for a new run."""
    commit, dirty, branch = _git_state(os.getcwd())
    return RunContext(
        git_commit=commit,
        git_dirty=dirty,
        git_branch=branch,
        command=shlex.join([os.path.basename(sys.executable), *sys.argv]),
        python_version=platform.python_version(),
        environment_digest=environment_digest(),
        packages=imported_packages(),
        host=socket.gethostname(),
        user=current_user(),
    )
