"""Anchor environments for benchmarks: one virtualenv per anchor tool, and a JSON protocol for scripts in it.

Every benchmark measures its anchor (MLflow, DVC, ...) in the same run as modelyard, on the same work. The
anchor lives in its own virtualenv under ``bench/.venvs/<name>`` so that its (often large) dependency tree
never touches the project's environment. ``ensure_venv`` creates it once and then only checks a marker file,
so a second call takes milliseconds. ``run_json`` runs a script inside that venv; the script prints its
figures as one JSON object on its last stdout line, and anything else (progress, logs) on stderr.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
WORK_DIR = BENCH_DIR / ".work"
_MARKER = "modelyard-bench-packages.json"
_INSTALL_TIMEOUT_S = 1800.0


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _base_python() -> str:
    """The interpreter to create venvs with: ``python3`` on PATH, else the one running this code."""
    return shutil.which("python3") or sys.executable


def _read_marker(marker: Path) -> list[str] | None:
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    packages = data.get("packages") if isinstance(data, dict) else None
    return packages if isinstance(packages, list) else None


def ensure_venv(name: str, packages: list[str]) -> Path:
    """Create ``bench/.venvs/<name>`` if missing, install the pinned ``packages`` there, return its python.

    Idempotent: a marker file records the package list of the last successful install; when it matches and the
    interpreter exists, nothing runs. A changed package list re-installs into the same venv. A file lock keeps
    two benchmark processes from installing at once.
    """
    root = VENVS_DIR / name
    python = root / "bin" / "python"
    marker = root / _MARKER
    wanted = sorted(packages)
    if python.exists() and _read_marker(marker) == wanted:
        return python

    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    with (VENVS_DIR / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and _read_marker(marker) == wanted:  # another process finished it meanwhile
            return python
        started = time.perf_counter()
        if not python.exists():
            _log(f"creating venv {root}")
            if root.exists():
                shutil.rmtree(root)
            subprocess.run([_base_python(), "-m", "venv", str(root)], check=True, timeout=300)
        marker.unlink(missing_ok=True)
        _log(f"installing {' '.join(wanted)} into {root} (one time; may take a few minutes)")
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *wanted],
            check=True,
            timeout=_INSTALL_TIMEOUT_S,
            env=env,
        )
        marker.write_text(json.dumps({"packages": wanted, "install_s": time.perf_counter() - started}))
        _log(f"venv {name} ready in {time.perf_counter() - started:.1f} s")
    return python


def run_json(python: Path, script: Path, args: list[str], timeout_s: float) -> dict[str, Any]:
    """Run ``script`` with ``python`` and return the JSON object it prints on its last non-empty stdout line.

    The script's stderr passes through so its progress shows live. Raises ``RuntimeError`` when the script
    fails, times out, or its last line is not a JSON object.
    """
    command = [str(python), str(script), *args]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{script.name} did not finish within {timeout_s:.0f} s: {' '.join(command)}") from exc
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} exited with {done.returncode} (its stderr is above): {' '.join(command)}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{script.name} printed nothing on stdout; expected one JSON object")
    try:
        result = json.loads(lines[-1])
    except ValueError as exc:
        raise RuntimeError(f"{script.name}'s last stdout line is not JSON: {lines[-1][:200]!r}") from exc
    if not isinstance(result, dict):
        raise RuntimeError(f"{script.name}'s last stdout line is JSON but not an object: {lines[-1][:200]!r}")
    return result


def write_report(
    path: Path, benchmark: str, *, started: float, machine: dict[str, Any] | None = None, **parts: Any
) -> None:
    """Write a benchmark's ``--json`` report: the command, the machine, ``parts`` (sizes, figures, both sides)."""
    import platform

    report = {
        "benchmark": benchmark,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            **(machine or {}),
        },
        **parts,
        "wall_s": time.perf_counter() - started,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    _log(f"results written to {path}")
