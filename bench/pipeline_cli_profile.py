"""Run one ``modelyard`` CLI command with wall-clock timers around named modelyard internals; write them as JSON.

``bench/pipelines.py`` runs its CLI no-op through this script when that figure misses its goal, to say where
the time goes without a profiler's overhead (cProfile doubles it; py-spy and pyinstrument are not in the
venv). The script first imports what it needs to patch (timed as one block), then replaces each function of
``TIMERS`` by a wrapper that adds its wall-clock time and call count, in its module and in every loaded
``modelyard`` module that imported it by name (``from x import f``), then calls the CLI's root group with the
remaining arguments. Timers nest: a label's indent says which timer it is inside of. A name that does not
exist (modelyard changed) is skipped and listed under ``missing``.

Usage (from the repo root, with the project's venv)::

    .venv/bin/python bench/pipeline_cli_profile.py TIMINGS.json --uri HOME pipeline run FILE.py:NAME --json
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

import functools  # noqa: E402 - the first line takes the start time
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

# (label, module, qualname); the label's leading spaces show the nesting
TIMERS = [
    ("open the client (Client.__init__)", "modelyard.client", "Client.__init__"),
    ("load the pipeline file (load_entry)", "modelyard.pipelines.loading", "load_entry"),
    ("Pipelines.run", "modelyard.pipelines.runs", "Pipelines.run"),
    ("  resolve params (config, --set)", "modelyard.pipelines.definitions", "Pipeline.resolve"),
    ("  trace the graph", "modelyard.pipelines.definitions", "Pipeline.graph"),
    ("  create_run (pipeline run + one per step)", "modelyard.client", "Client.create_run"),
    ("    capture_context", "modelyard.tracking.environment", "capture_context"),
    ("      git state (3 subprocesses)", "modelyard.tracking.environment", "_git_state"),
    ("      installed distributions (environment digest)", "modelyard._environment", "_installed"),
    ("      importlib.metadata.packages_distributions()", "modelyard._environment", "_module_distributions"),
    ("  spec artifact", "modelyard.pipelines.records", "spec_artifact"),
    ("  plan + cache key (code fingerprints)", "modelyard.pipelines.planning", "Planner.plan"),
    ("  step-cache lookup + outputs present", "modelyard.pipelines.runs", "Pipelines._reusable"),
    ("  execute a step (inputs, the function, outputs, records)", "modelyard.pipelines.execution", "execute"),
    ("    load inputs (Outputs.load)", "modelyard.pipelines.outputs", "Outputs.load"),
    ("      import skops.io (scikit-learn models)", "modelyard.registry.flavors.sklearn", "_skops"),
    ("    store outputs (Outputs.save)", "modelyard.pipelines.outputs", "Outputs.save"),
    ("  finish (tags, end run)", "modelyard.pipelines.runs", "Pipelines._finish"),
    ("close the client", "modelyard.client", "Client.close"),
]
_PRELOAD = sorted({module for _, module, _ in TIMERS} | {"modelyard.cli.main"})

timings: dict[str, list[float]] = {}


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            entry = timings.setdefault(label, [0.0, 0])
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    return timed


def _patch(label: str, module_name: str, qualname: str) -> bool:
    try:
        owner: Any = importlib.import_module(module_name)
        *path, name = qualname.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)
    except (ImportError, AttributeError):
        return False
    wrapper = _timed(label, original)
    setattr(owner, name, wrapper)
    if not path:  # a module-level function: also where it was imported by name
        for module in list(sys.modules.values()):
            space = getattr(module, "__dict__", {})
            if getattr(module, "__name__", "").startswith("modelyard") and space.get(name) is original:
                setattr(module, name, wrapper)
    return True


def main() -> int:
    out = Path(sys.argv[1])
    args = sys.argv[2:]
    preload = time.perf_counter()
    for module in _PRELOAD:
        importlib.import_module(module)
    preload_s = time.perf_counter() - preload
    missing = [f"{m}:{q}" for label, m, q in TIMERS if not _patch(label, m, q)]
    from modelyard.cli.main import main as cli

    started = time.perf_counter()
    code = 0
    try:
        cli.main(args=args, prog_name="modelyard", standalone_mode=False)
    except SystemExit as exc:
        code = int(exc.code or 0)
    main_s = time.perf_counter() - started
    report = {
        "preload_imports_s": preload_s,
        "preloaded": _PRELOAD,
        "main_s": main_s,
        "process_s": time.perf_counter() - _STARTED,  # from this file's first line: no interpreter start
        "timers": {label: {"s": s, "calls": int(n)} for label, (s, n) in timings.items()},
        "order": [label for label, _, _ in TIMERS],
        "missing": missing,
        "exit_code": code,
    }
    out.write_text(json.dumps(report, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(main())
