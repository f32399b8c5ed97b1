"""Pipeline benchmark: a 3-stage pipeline (prepare -> train -> evaluate), DVC 3.67 as the anchor.

Work: ``bench/pipeline_work.py`` (plain functions, shared by every side): prepare a seeded frame of ``--rows``
rows x 20 float64 features + a binary label, train a ``HistGradientBoostingClassifier`` (about 1 s at 200,000
rows), evaluate ROC AUC and the accuracy at a threshold. ``pipeline_work.schedule(rows)`` is the sequence of
timed runs every side performs: the first run (all three steps), 5 no-op runs, 3 changes of
``evaluate.threshold`` (only the last step depends on it) and 3 changes of ``train.max_depth`` (train and
evaluate run again).

DVC runs in its own venv (``bench/.venvs/dvc-pipeline``: ``DVC_PACKAGES`` of ``bench/anchors/dvc_data.py`` plus
the workload's libraries pinned to this interpreter's versions, created on first use) through
``bench/anchors/dvc_pipeline.py``, which times ``dvc repro`` in a fresh git + DVC repo under ``--workdir``.
The table shows each figure, DVC's figure in ``shared/BENCHMARKS.md`` ("Data versioning and pipelines") and
the goal from there; the lines below it split DVC's time into what its stage scripts spent (imports included)
and the rest (DVC itself, the interpreter start of each stage).

modelyard is measured in the same run on the same workload, as three more columns, each in a fresh home under
``--workdir``/``modelyard``: the pipeline is ``bench/pipeline_flow.py:flow`` (the three functions as steps, the
same parameters as DVC's ``params.yaml``, set per run as step parameters), every run of the same schedule:

- ``modelyard in-process``: ``flow.run(runner="inline", client=...)`` in this process (one client, opened
  untimed); the first run pays the imports of numpy, pandas and scikit-learn, as DVC's stages do every time;
- ``modelyard CLI``: ``modelyard --uri HOME pipeline run bench/pipeline_flow.py:flow --runner inline --set ...
  --json`` as a subprocess (wall clock: interpreter start and every import included);
- ``modelyard local runner``: ``flow.run()`` in this process with the default runner (``local``: steps in
  spawned worker processes, started for each pipeline run), so its first run shows the worker start-up cost.

Each timed run starts after an untimed ``os.sync()`` (as DVC's); each run's steps that did not come from the
cache are checked against the schedule's ``reruns``, and its metrics against DVC's. The ratio columns are
DVC / modelyard (how many times faster modelyard is). When the CLI no-op misses its goal (0.3 s), one more
no-op runs under ``python -X importtime`` and one under ``bench/pipeline_cli_profile.py`` (wall-clock timers
around modelyard internals), and the notes say where its time goes.

Then the fan-out: ``bench/pipeline_flow.py:fanout`` (a source step, ``FANOUT`` = 20 independent pure-Python
CPU-bound steps of about ``--fanout-step-seconds`` each, calibrated here, and a join step) with
``cache=False``, once on ``runner="inline"`` (serial) and once on ``runner="local"`` with one worker per CPU;
the speed-up is the serial wall time over the parallel one (the goal: close to the CPU count).

Usage (from the repo root, with the project's venv)::

    .venv/bin/python bench/pipelines.py                       # 200,000 rows: ~3 min (DVC ~30 s, fan-out ~50 s)
    .venv/bin/python bench/pipelines.py --rows 20000          # smoke run
    .venv/bin/python bench/pipelines.py --skip-dvc --skip-fanout   # modelyard's three columns alone
    .venv/bin/python bench/pipelines.py --json results.json   # the report (default: bench/.work/pipelines.json)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pipeline_work as work
from _anchor import BENCH_DIR, WORK_DIR, ensure_venv, run_json, write_report
from anchors.dvc_data import DVC_PACKAGES
from rich.console import Console
from rich.markup import escape
from rich.table import Table

ANCHOR_SCRIPT = BENCH_DIR / "anchors" / "dvc_pipeline.py"
FLOW_FILE = BENCH_DIR / "pipeline_flow.py"  # the modelyard pipelines (imported as pipeline_flow in this process)
PROFILE_SCRIPT = BENCH_DIR / "pipeline_cli_profile.py"
REPO_DIR = BENCH_DIR.parent
DVC_VENV = "dvc-pipeline"
ANCHOR = "DVC"  # the side the ratios are taken against
PHASES = 4  # first, noop, last_param, train_param: the anchor's timeout counts them

out = Console(width=None if sys.stdout.isatty() else 180)  # a file or pipe gets the whole table, unwrapped
err = Console(stderr=True, soft_wrap=True)


def _log(message: str) -> None:
    err.print(f"[dim]\\[bench][/dim] {message}", highlight=False)


def pipeline_packages() -> list[str]:
    """The DVC venv's packages: the data benchmark's DVC pins + the workload's libraries at this venv's versions."""
    return [*DVC_PACKAGES, *(f"{name}=={version}" for name, version in work.library_versions().items())]


def measure_dvc(
    rows: int, *, workdir: Path = WORK_DIR / "pipelines" / "dvc", max_seconds: float = 300.0
) -> dict[str, Any]:
    """Ensure the DVC pipeline venv, run the anchor script there on ``rows`` rows, return its figures.

    Raises ``RuntimeError`` when the script fails; failures of single phases are in the result's ``errors``.
    """
    started = time.perf_counter()
    python = ensure_venv(DVC_VENV, pipeline_packages())
    venv_s = time.perf_counter() - started
    args = [f"--rows={rows}", f"--workdir={workdir}", f"--max-seconds={max_seconds}"]
    _log(f"DVC anchor: {python} {ANCHOR_SCRIPT.name} {' '.join(args)}")
    result = run_json(python, ANCHOR_SCRIPT, args, timeout_s=PHASES * max_seconds + 300)
    result |= {"venv_ready_s": venv_s, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    return result


# --- modelyard ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Side:
    """One modelyard column: how the schedule's runs are made."""

    key: str  # its key in the JSON report and its home folder under <workdir>/modelyard
    label: str  # its column in the table
    runner: str  # "inline" or "local"
    cli: bool  # True: one `modelyard pipeline run` subprocess per run; False: flow.run() in this process


SIDES = [
    Side("inline", "modelyard in-process", "inline", cli=False),
    Side("cli", "modelyard CLI", "inline", cli=True),
    Side("local", "modelyard local runner", "local", cli=False),
]
CLI_SIDE = "modelyard CLI"
CLI_NOOP_GOAL_S = 0.3


def _cli_command() -> list[str]:
    """The ``modelyard`` console script of this venv (or ``python -m modelyard.cli.main``)."""
    script = Path(sys.executable).with_name("modelyard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "modelyard.cli.main"]


def _flat(params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"train": {"max_depth": 6}}`` -> ``{"train.max_depth": 6}``: step parameters for ``flow.run(**...)``."""
    return {f"{step}.{name}": value for step, values in params.items() for name, value in values.items()}


def _sets(params: dict[str, dict[str, Any]]) -> list[str]:
    """The same parameters as ``--set STEP.KEY=VALUE`` options (values in JSON: read back as YAML scalars)."""
    return [item for key, value in _flat(params).items() for item in ("--set", f"{key}={json.dumps(value)}")]


def flow_command(home: Path, params: dict[str, dict[str, Any]], runner: str = "inline") -> list[str]:
    """The CLI command of one run of ``flow`` with ``params``, from the repo root."""
    entry = f"{FLOW_FILE.relative_to(REPO_DIR)}:flow"
    return [*_cli_command(), "--uri", str(home), "pipeline", "run", entry, "--runner", runner, *_sets(params), "--json"]


def _json_document(text: str) -> dict[str, Any]:
    """The JSON object a ``--json`` command printed (anything a step printed before it is skipped)."""
    start = text.find("{\n")
    document = json.loads(text[start if start >= 0 else 0 :])
    if not isinstance(document, dict):
        raise RuntimeError(f"expected a JSON object, got {type(document).__name__}")
    return document


def _run_cli(home: Path, run: Any, timeout_s: float) -> tuple[float, dict[str, Any]]:
    command = flow_command(home, run.params)
    os.sync()
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout_s, check=False, env=_cli_env()
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"exit code {done.returncode}: {done.stderr.strip()[-800:]}")
    document = _json_document(done.stdout)
    steps = {s["name"]: {"cache_hit": s["cache_hit"], "s": s["duration_s"]} for s in document["steps"]}
    return seconds, {"run_id": document["id"], "steps": steps}


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}  # --uri alone says where
    env.pop("PYTHONPATH", None)
    return env


def _run_inline(client: Any, side: Side, run: Any) -> tuple[float, dict[str, Any]]:
    import pipeline_flow

    os.sync()
    started = time.perf_counter()
    result = pipeline_flow.flow.run(runner=side.runner, client=client, **_flat(run.params))
    seconds = time.perf_counter() - started
    steps = {s.name: {"cache_hit": s.cache_hit, "s": s.duration.total_seconds()} for s in result.steps}
    return seconds, {"run_id": str(result.id), "steps": steps, "metrics": result.load("evaluate")}


def _ran(record: dict[str, Any]) -> list[str]:
    return [name for name, step in record["steps"].items() if not step["cache_hit"]]


def _phase(side: Side, client: Any, home: Path, res: dict[str, Any], runs: list[Any], max_seconds: float) -> None:
    """Time every run of one phase (bounded by ``max_seconds``); ``<phase>_s`` is the median."""
    phase = runs[0].phase
    samples: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for run in runs:
        if samples and time.perf_counter() > deadline:
            res["cut_short"][phase] = True
            break
        if side.cli:
            seconds, record = _run_cli(home, run, timeout_s=max_seconds)
        else:
            seconds, record = _run_inline(client, side, run)
        record |= {"phase": phase, "s": seconds, "ran": _ran(record), "expected": list(run.reruns)}
        record["params"] = run.params
        res["runs"].append(record)
        samples.append(seconds)
        res[f"{phase}_samples"], res[f"{phase}_s"] = samples, statistics.median(samples)
        inside = sum(s["s"] for s in record["steps"].values())
        ran = ", ".join(record["ran"]) or "nothing"
        _log(f"{side.label} {phase}: {seconds:.3f} s, ran {ran} ({inside:.2f} s in steps)")
        if record["ran"] != list(run.reruns):
            raise RuntimeError(f"ran {record['ran']}, expected {list(run.reruns)}")


def _read_back(client: Any, res: dict[str, Any]) -> None:
    """Untimed: the metrics of each CLI run, and the digest of the frame the first run prepared."""
    runs = res["runs"]
    for record in runs:
        if "metrics" not in record:
            record["metrics"] = client.pipelines.get(record["run_id"]).load("evaluate")
    if runs:
        res["data_digest"] = work.digest(client.pipelines.get(runs[0]["run_id"]).load("prepare"))


def source_state() -> dict[str, Any]:
    """The commit of this checkout and the files of ``src/`` that differ from it (what modelyard ran)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "src")
    return {"commit": git("rev-parse", "HEAD"), "src_changes": changed.splitlines() if changed else []}


def measure_modelyard(rows: int, side: Side, home: Path, max_seconds: float) -> dict[str, Any]:
    """Every run of ``pipeline_work.schedule(rows)`` on one side, in a fresh home; the same keys as DVC's."""
    import modelyard
    from modelyard.client import Client

    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    res: dict[str, Any] = {
        "tool": "modelyard", "version": modelyard.__version__, "side": side.key, "runner": side.runner,
        "cli": side.cli, "home": str(home), "libraries": work.library_versions(), "runs": [], "errors": {},
        "cut_short": {}, "skipped": {}, "source": source_state(),
    }  # fmt: skip
    by_phase: dict[str, list[Any]] = {}
    for run in work.schedule(rows):
        by_phase.setdefault(run.phase, []).append(run)
    client = None if side.cli else Client(str(home))
    try:
        for phase, runs in by_phase.items():
            if phase != "first" and "first_s" not in res:
                res["skipped"][phase] = "the first run failed"
                continue
            try:
                _phase(side, client, home, res, runs, max_seconds)
            except Exception as exc:  # one phase failing still reports the others
                res["errors"][phase] = f"{type(exc).__name__}: {exc}"
                res.setdefault("tracebacks", {})[phase] = traceback.format_exc()
                _log(f"[red]{side.label} {phase} failed[/red]: {escape(res['errors'][phase][:500])}")
        client = client or Client(str(home))
        try:
            _read_back(client, res)
        except Exception as exc:
            res["errors"]["read_back"] = f"{type(exc).__name__}: {exc}"
    finally:
        if client is not None:
            client.close()
    res["total_s"] = time.perf_counter() - started
    return res


# --- where the CLI no-op's time goes -----------------------------------------------------------------------------


def _importtime_tree(stderr: str) -> tuple[float, list[tuple[int, float, str]]]:
    """(total seconds of top-level imports, [(depth, seconds, module)] parents first) from ``-X importtime``."""
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append(((len(match.group(3)) - 1) // 2, int(match.group(2)) / 1e6, match.group(4)))
    total = sum(s for depth, s, _ in rows if depth == 0)
    return total, list(reversed(rows))  # importtime prints a module after its imports


def profile_cli_noop(home: Path, params: dict[str, dict[str, Any]], timeout_s: float) -> dict[str, Any]:
    """One no-op under ``-X importtime`` and one under ``pipeline_cli_profile.py`` (timers); wall clock of both."""
    command = flow_command(home, params)
    profile: dict[str, Any] = {"command": command}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command], cwd=REPO_DIR, capture_output=True, text=True,
        timeout=timeout_s, check=False, env=_cli_env(),
    )  # fmt: skip
    profile["importtime_wall_s"] = time.perf_counter() - started
    total, tree = _importtime_tree(done.stderr)
    profile["imports_s"] = total
    profile["imports"] = [{"depth": d, "s": s, "module": m} for d, s, m in tree if d <= 2 and s >= 0.004]
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-profile-") as folder:
        out = Path(folder) / "timings.json"
        started = time.perf_counter()
        timed = subprocess.run(
            [sys.executable, str(PROFILE_SCRIPT), str(out), *command[len(_cli_command()) :]], cwd=REPO_DIR,
            capture_output=True, text=True, timeout=timeout_s, check=False, env=_cli_env(),
        )  # fmt: skip
        profile["timers_wall_s"] = time.perf_counter() - started
        if timed.returncode == 0 and out.exists():
            profile["timers"] = json.loads(out.read_text())
        else:
            profile["timers_error"] = timed.stderr.strip()[-800:]
    ran = [] if done.returncode else [s["name"] for s in _json_document(done.stdout)["steps"] if not s["cache_hit"]]
    if done.returncode != 0 or ran:
        profile["warning"] = f"the profiled run was not a no-op (exit {done.returncode}, ran {ran})"
    return profile


def _profile_notes(profile: dict[str, Any]) -> list[str]:
    lines = [
        f"CLI no-op breakdown (one more no-op each): wall {_fmt(profile['importtime_wall_s'])} under -X importtime, "
        f"{_fmt(profile.get('timers_wall_s'))} with timers; imports {_fmt(profile['imports_s'])} in all "
        "(as -X importtime counts them; these modules and what they import, cumulative):"
    ]
    for item in profile["imports"]:
        if item["depth"] <= 1 and item["s"] >= 0.01:
            lines.append(f"  {'  ' * item['depth']}{item['module']} {_fmt(item['s'])}")
    timers = profile.get("timers")
    if timers:
        lines.append(
            f"timers (wall {_fmt(profile['timers_wall_s'])}): interpreter start and exit "
            f"{_fmt(profile['timers_wall_s'] - timers['process_s'])}, modelyard modules imported before the command "
            f"to patch them {_fmt(timers['preload_imports_s'])}, the command {_fmt(timers['main_s'])}:"
        )
        for label in timers["order"]:
            entry = timers["timers"].get(label)
            if entry:
                calls = f" ({entry['calls']} calls)" if entry["calls"] > 1 else ""
                lines.append(f"  {label} {_fmt(entry['s'])}{calls}")
    elif profile.get("timers_error"):
        lines.append(f"[red]timers failed[/red]: {escape(profile['timers_error'])}")
    if profile.get("warning"):
        lines.append(f"[yellow]{profile['warning']}[/yellow]")
    return lines


# --- the fan-out -------------------------------------------------------------------------------------------------


def calibrate(step_seconds: float) -> tuple[int, float]:
    """(iterations of ``pipeline_flow.lcg`` that take about ``step_seconds`` here, iterations per second)."""
    import pipeline_flow

    probe = 400_000
    best = min(_timed(lambda: pipeline_flow.lcg(1, probe)) for _ in range(3))
    rate = probe / best
    return max(10_000, int(round(step_seconds * rate, -4))), rate


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure_fanout(home: Path, step_seconds: float, max_seconds: float) -> dict[str, Any]:
    """``fanout`` with ``cache=False``: serial (inline) then parallel (local, one worker per CPU)."""
    import pipeline_flow

    from modelyard.client import Client

    workers = os.cpu_count() or 1
    # bound: the serial run is about FANOUT x step_seconds; shrink the steps when that would pass max_seconds
    step_seconds = min(step_seconds, max_seconds / (pipeline_flow.FANOUT * 1.5))
    iterations, rate = calibrate(step_seconds)
    res: dict[str, Any] = {
        "steps": pipeline_flow.FANOUT, "iterations": iterations, "lcg_per_s": rate, "workers": workers,
        "step_seconds_target": step_seconds, "errors": {},
    }  # fmt: skip
    _log(f"fan-out: {pipeline_flow.FANOUT} steps x {iterations:,} iterations (~{step_seconds:.1f} s each), cache off")
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    client = Client(str(home))
    try:
        for key, runner in (("serial", "inline"), ("parallel", "local")):
            started = time.perf_counter()
            try:
                run = pipeline_flow.fanout.run(
                    runner=runner, workers=workers, cache=False, client=client, iterations=iterations
                )
            except Exception as exc:
                res["errors"][key] = f"{type(exc).__name__}: {exc}"
                continue
            spins = [s.duration.total_seconds() for s in run.steps if s.name.startswith("spin")]
            res[key] = {
                "runner": runner, "s": time.perf_counter() - started, "spin_s_sum": sum(spins),
                "spin_s_min": min(spins), "spin_s_max": max(spins), "ran": sum(not s.cache_hit for s in run.steps),
                "join": run.load("join"),
            }  # fmt: skip
            _log(f"fan-out {key} ({runner}): {res[key]['s']:.2f} s, steps {min(spins):.2f}-{max(spins):.2f} s")
    finally:
        client.close()
    if "serial" in res and "parallel" in res:
        res["speedup"] = res["serial"]["s"] / res["parallel"]["s"]
        res["ideal"] = min(workers, pipeline_flow.FANOUT)
        res["same_result"] = res["serial"]["join"] == res["parallel"]["join"]
    return res


def _fanout_notes(fan: dict[str, Any]) -> list[str]:
    lines = []
    for key in ("serial", "parallel"):
        part = fan.get(key)
        if part:
            lines.append(
                f"fan-out {key} ({part['runner']} runner): {_fmt(part['s'])} wall; each of the {fan['steps']} CPU "
                f"steps {part['spin_s_min']:.2f}-{part['spin_s_max']:.2f} s, {part['spin_s_sum']:.1f} s in all"
            )
    if "speedup" in fan:
        same = "same join result" if fan["same_result"] else "[red]join results differ[/red]"
        lines.append(
            f"fan-out speed-up: {fan['speedup']:.2f}x on {fan['workers']} worker processes (ideal {fan['ideal']}x, "
            f"efficiency {fan['speedup'] / fan['ideal']:.0%}); {fan['iterations']:,} LCG iterations per step; {same}"
        )
    for key, message in fan.get("errors", {}).items():
        lines.append(f"[red]fan-out {key} failed[/red]: {escape(message[:500])}")
    return lines


# --- the table --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    key: str  # the same key in every side's result
    label: str
    reference: str  # DVC in shared/BENCHMARKS.md
    goal: str


FIGURES = [
    Figure("first_s", "first run (all 3 steps)", "1.8 s", "-"),
    Figure("noop_s", "no-op, nothing changed (median of 5)", "0.68 s", "<= 0.1 s in-process, <= 0.3 s CLI"),
    Figure("last_param_s", "evaluate.threshold changed: evaluate runs (median of 3)", "0.89 s", "-"),
    Figure("train_param_s", "train.max_depth changed: train + evaluate run (median of 3)", "-", "-"),
]

_RUN_PHASES = {"first_s": "first", "noop_s": "noop", "last_param_s": "last_param", "train_param_s": "train_param"}


def _fmt(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio >= 1:
        return f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"
    return f"1/{1 / ratio:,.1f}" if ratio > 0.1 else f"1/{1 / ratio:,.0f}"


def compare(results: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per figure: every side's value and, for each side but the anchor, anchor / side (its speed-up)."""
    rows = []
    for figure in FIGURES:
        values = {name: (result or {}).get(figure.key) for name, result in results.items()}
        values = {name: v if isinstance(v, int | float) else None for name, v in values.items()}
        theirs = values.get(ANCHOR)
        ratios = {
            name: theirs / v if v and theirs is not None else None for name, v in values.items() if name != ANCHOR
        }
        rows.append(
            {
                "id": figure.key,
                "label": figure.label,
                "reference_dvc": figure.reference,
                "values": values,
                "ratios": ratios,
                "goal": figure.goal,
            }
        )
    return rows


def _dvc_notes(dvc: dict[str, Any], rows: int) -> list[str]:
    """Where DVC's time goes: its stage scripts (imports included) and the rest (DVC, interpreter starts)."""
    runs = dvc.get("runs") or []
    lines = []
    for phase in _RUN_PHASES.values():
        mine = [run for run in runs if run["phase"] == phase]
        if not mine:
            continue
        total = statistics.median(run["s"] for run in mine)
        inside = statistics.median(sum(run["stage_s"].values()) for run in mine)
        imports = statistics.median(sum(run["stage_import_s"].values()) for run in mine)
        ran = ", ".join(mine[0]["ran"]) or "no stage"
        lines.append(
            f"DVC {phase}: `dvc repro` {_fmt(total)} = {_fmt(inside)} in the stage scripts ({ran}; "
            f"{_fmt(imports)} of it imports) + {_fmt(total - inside)} DVC and interpreter starts (medians)"
        )
    lines.extend(_samples_line("DVC", dvc, digits=2))
    first = next((run for run in runs if run["phase"] == "first"), None)
    if first and first.get("metrics"):
        m = first["metrics"]
        lines.append(
            f"workload: {rows:,} rows, data.parquet {dvc.get('data_bytes', 0) / 1e6:.1f} MB, "
            f"model.pkl {dvc.get('model_bytes', 0) / 1e6:.2f} MB; first run AUC {m['auc']:.6f}, "
            f"accuracy {m['accuracy']:.4f} at {m['threshold']}; data digest {str(dvc.get('data_digest'))[:16]}"
        )
    here = work.library_versions()
    if dvc.get("libraries") and dvc["libraries"] != here:
        lines.append(f"[yellow]DVC venv libraries differ from this venv's: {dvc['libraries']} vs {here}[/yellow]")
    for phase, message in (dvc.get("errors") or {}).items():
        lines.append(f"[red]DVC {phase} failed[/red]: {escape(message.splitlines()[0][:300])}")
    cut = [p for p, c in (dvc.get("cut_short") or {}).items() if c]
    if cut:
        lines.append(f"[yellow]DVC phases cut short by --max-seconds: {', '.join(cut)}[/yellow]")
    if dvc.get("skipped"):
        lines.append("DVC skipped: " + escape(", ".join(f"{p} ({why})" for p, why in dvc["skipped"].items())))
    lines.append(
        f"DVC {dvc.get('dvc_version', '?')} on {dvc.get('filesystem', '?')}: venv ready in "
        f"{dvc.get('venv_ready_s', 0):.1f} s, anchor script {dvc.get('total_s', 0):.1f} s"
    )
    return lines


def _samples_line(name: str, result: dict[str, Any], *, digits: int) -> list[str]:
    """One line with every timed sample of a side's repeated runs (none when it has none)."""
    samples = {k: result[f"{k}_samples"] for k in ("noop", "last_param", "train_param") if f"{k}_samples" in result}
    if not samples:
        return []
    text = "; ".join(f"{k} " + ", ".join(f"{s:.{digits}f}" for s in v) for k, v in samples.items())
    return [f"{name} samples: {text} (seconds)"]


def _side_notes(name: str, res: dict[str, Any]) -> list[str]:
    """Where a modelyard side's time goes: the steps that ran (outputs stored included) and the rest."""
    runs = res.get("runs") or []
    lines = []
    for phase in _RUN_PHASES.values():
        mine = [run for run in runs if run["phase"] == phase]
        if not mine:
            continue
        total = statistics.median(run["s"] for run in mine)
        inside = statistics.median(
            sum(step["s"] for step in run["steps"].values() if not step["cache_hit"]) for run in mine
        )
        ran = ", ".join(mine[0]["ran"]) or "no step"
        lines.append(
            f"{name} {phase}: {_fmt(total)} = {_fmt(inside)} in the steps that ran ({ran}; inputs loaded and outputs "
            f"stored included) + {_fmt(total - inside)} outside them (medians)"
        )
    lines.extend(_samples_line(name, res, digits=3))
    for phase, message in (res.get("errors") or {}).items():
        lines.append(f"[red]{name} {phase} failed[/red]: {escape(message.splitlines()[0][:300])}")
    cut = [p for p, c in (res.get("cut_short") or {}).items() if c]
    if cut:
        lines.append(f"[yellow]{name} phases cut short by --max-seconds: {', '.join(cut)}[/yellow]")
    if res.get("skipped"):
        lines.append(f"{name} skipped: " + escape(", ".join(f"{p} ({why})" for p, why in res["skipped"].items())))
    return lines


_METRICS = ("auc", "accuracy", "positive_rate", "rows")


def same_results(dvc: dict[str, Any] | None, res: dict[str, Any]) -> str | None:
    """Whether a side computed DVC's metrics for every run (matched by parameters) and prepared the same data."""
    if not dvc or not dvc.get("runs") or not res.get("runs"):
        return None
    theirs = {json.dumps(run["params"], sort_keys=True): run.get("metrics") for run in dvc["runs"]}
    differ = []
    for run in res["runs"]:
        expected = theirs.get(json.dumps(run["params"], sort_keys=True))
        got = run.get("metrics")
        if expected is None:
            continue
        if not got or any(abs(float(expected[k]) - float(got[k])) > 1e-9 for k in _METRICS):
            differ.append(run["phase"])
    digest = "same data digest" if res.get("data_digest") == dvc.get("data_digest") else "[red]data differs[/red]"
    if differ:
        return f"[red]metrics differ from DVC's in runs: {', '.join(differ)}[/red]; {digest}"
    return f"[green]same metrics as DVC in all {len(res['runs'])} runs[/green], {digest}"


def print_table(
    table_rows: list[dict[str, Any]], results: dict[str, dict[str, Any] | None], rows: int, load: list[float]
) -> None:
    table = Table(title=f"Pipelines: 3 stages on {rows:,} rows, wall clock", title_justify="left")
    table.add_column("figure")
    table.add_column("DVC (doc)", justify="right", style="dim")
    for name, result in results.items():
        version = (result or {}).get("dvc_version") if name == ANCHOR else None
        table.add_column(f"{name} {version}" if version else name, justify="right")
    others = [name for name in results if name != ANCHOR]
    for name in others:
        table.add_column(f"{ANCHOR} / {name.removeprefix('modelyard ')}", justify="right")
    table.add_column("goal", justify="right")
    for row in table_rows:
        table.add_row(
            row["label"],
            row["reference_dvc"],
            *(_fmt(row["values"][name]) for name in results),
            *(_fmt_ratio(row["ratios"][name]) for name in others),
            row["goal"],
        )
    out.print(table)
    mine = [r for n, r in results.items() if n != ANCHOR and r]
    source = mine[0].get("source", {}) if mine else {}
    changes = f", {len(source['src_changes'])} uncommitted files in src/" if source.get("src_changes") else ""
    out.print(
        f"DVC (doc): DVC's figure in shared/BENCHMARKS.md; modelyard {mine[0].get('version') if mine else '?'} at "
        f"{str(source.get('commit'))[:10]}{changes}; ratios are DVC / modelyard (how many times faster modelyard is)",
        highlight=False,
    )
    dvc = results.get(ANCHOR)
    if dvc:
        for line in _dvc_notes(dvc, rows):
            out.print(line, highlight=False, soft_wrap=True)
    for name, result in results.items():
        if name != ANCHOR and result:
            for line in _side_notes(name, result):
                out.print(line, highlight=False, soft_wrap=True)
            verdict = same_results(dvc, result)
            if verdict:
                out.print(f"{name}: {verdict}", highlight=False, soft_wrap=True)
    if load:
        out.print(f"load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs")


# --- main -------------------------------------------------------------------------------------------------------


def print_fanout(fan: dict[str, Any]) -> None:
    table = Table(
        title=f"Fan-out: source -> {fan['steps']} independent CPU-bound steps -> join, cache=False",
        title_justify="left",
    )
    for column in ("runner", "wall", "each CPU step", "CPU steps in all", "speed-up", "goal"):
        table.add_column(column, justify="left" if column == "runner" else "right")
    for key in ("serial", "parallel"):
        part = fan.get(key)
        if not part:
            continue
        runner = "inline (serial)" if key == "serial" else f"local, {fan['workers']} workers"
        speedup = f"{fan['speedup']:.2f}x" if key == "parallel" and "speedup" in fan else "-"
        goal = f"close to {fan['ideal']}x" if key == "parallel" else "-"
        table.add_row(
            runner,
            _fmt(part["s"]),
            f"{part['spin_s_min']:.2f}-{part['spin_s_max']:.2f} s",
            f"{part['spin_s_sum']:.1f} s",
            speedup,
            goal,
        )
    out.print(table)
    for line in _fanout_notes(fan):
        out.print(line, highlight=False, soft_wrap=True)


# --- main -------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=work.ROWS, help="rows of the prepared frame")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="time bound of each phase")
    parser.add_argument("--workdir", type=Path, default=WORK_DIR / "pipelines", help="scratch folder (wiped)")
    parser.add_argument("--json", type=Path, default=WORK_DIR / "pipelines.json", help="write the report here")
    parser.add_argument(
        "--fanout-step-seconds", type=float, default=1.5, help="CPU time of each fan-out step (calibrated)"
    )
    parser.add_argument("--skip-dvc", action="store_true", help="modelyard only (no ratios): for a smoke run")
    parser.add_argument("--skip-fanout", action="store_true", help="leave out the fan-out pipeline")
    return parser.parse_args(argv)


def _measure_sides(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, dict[str, Any] | None], bool]:
    # One entry per side, in column order; each returns the figure keys of FIGURES.
    measure: dict[str, Callable[[int], dict[str, Any]]] = {}
    if not args.skip_dvc:
        measure[ANCHOR] = lambda rows: measure_dvc(rows, workdir=workdir / "dvc", max_seconds=args.max_seconds)
    for side in SIDES:
        home = workdir / "modelyard" / side.key
        measure[side.label] = lambda rows, side=side, home=home: measure_modelyard(rows, side, home, args.max_seconds)
    results: dict[str, dict[str, Any] | None] = {}
    failed = False
    for name, run in measure.items():
        side_started = time.perf_counter()
        try:
            results[name] = run(args.rows)
        except Exception as exc:  # a benchmark reports the failure and still prints the other sides' figures
            failed = True
            results[name] = None
            err.print(f"[red]{name} side failed:[/red] {escape(f'{type(exc).__name__}: {exc}')}", highlight=False)
        failed = failed or bool((results[name] or {}).get("errors"))
        _log(f"{name} side done in {time.perf_counter() - side_started:.1f} s")
    return results, failed


def _maybe_profile(args: argparse.Namespace, cli: dict[str, Any] | None) -> dict[str, Any] | None:
    """Profile one more CLI no-op when the measured ones missed the goal (on the CLI side's home, last params)."""
    if not cli or not isinstance(cli.get("noop_s"), float) or cli["noop_s"] <= CLI_NOOP_GOAL_S:
        return None
    _log(f"CLI no-op {cli['noop_s']:.2f} s > {CLI_NOOP_GOAL_S} s: profiling one more")
    try:
        return profile_cli_noop(Path(cli["home"]), work.schedule(args.rows)[-1].params, timeout_s=args.max_seconds)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    workdir = args.workdir.resolve()
    load = [os.getloadavg()[0]]
    if load[0] > (os.cpu_count() or 1) / 2:
        _log(f"[yellow]the machine is busy (load average {load[0]:.1f}): timings will be noisy[/yellow]")

    results, failed = _measure_sides(args, workdir)
    profile = _maybe_profile(args, results.get(CLI_SIDE))
    fan = None
    if not args.skip_fanout:
        fan = measure_fanout(workdir / "modelyard" / "fanout", args.fanout_step_seconds, args.max_seconds)
        failed = failed or bool(fan["errors"])
    load.append(os.getloadavg()[0])

    table_rows = compare(results)
    print_table(table_rows, results, args.rows, load)
    if profile:
        failure = [f"[red]profile failed[/red]: {escape(str(profile.get('error')))}"]
        for line in _profile_notes(profile) if "error" not in profile else failure:
            out.print(line, highlight=False, soft_wrap=True)
    if fan:
        print_fanout(fan)
    write_report(
        args.json,
        "pipelines",
        started=started,
        machine={"load_average_start_end": load},
        rows=args.rows,
        schedule=[asdict(run) for run in work.schedule(args.rows)],
        figures=table_rows,
        dvc=results.get(ANCHOR),
        modelyard={side.key: results.get(side.label) for side in SIDES},
        cli_noop_profile=profile,
        fanout=fan,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
