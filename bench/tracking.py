"""Tracking benchmark: modelyard against MLflow 3.17 (SQLite backend, in-process client), same work and run.

Work (full size): 200 runs x 20 params x 10 metrics x 50 steps (500 metric points per run), then searches at
200 and 2,000 runs. MLflow runs in its own venv (``bench/.venvs/mlflow``, created on first use) through
``bench/anchors/mlflow_tracking.py``; modelyard runs in this interpreter. The table shows each figure for both
tools, the ratio modelyard / MLflow and the goal from ``shared/BENCHMARKS.md``.

MLflow's one-call-at-a-time API manages ~150 points/s, so its simple phase does only ``--mlflow-simple-runs``
runs (10 by default, 5,000 points) and the table compares rates: the label says so. Every loop stops at its
count or at ``--max-seconds`` per phase; figures from a phase cut short by time say how many runs it did.

Usage (from the repo root, with the project's venv)::

    .venv/bin/python bench/tracking.py                   # full size, ~3 min for MLflow plus modelyard
    .venv/bin/python bench/tracking.py --quick           # smoke run, well under a minute
    .venv/bin/python bench/tracking.py --only mlflow     # the anchor alone (cached: bench/.work/mlflow.json)
    .venv/bin/python bench/tracking.py --skip-mlflow     # modelyard alone, MLflow figures from that cache
    .venv/bin/python bench/tracking.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _anchor import BENCH_DIR, WORK_DIR, ensure_venv, run_json, write_report
from rich.console import Console
from rich.table import Table

MLFLOW_PACKAGES = ["mlflow==3.17.2"]
ANCHOR_SCRIPT = BENCH_DIR / "anchors" / "mlflow_tracking.py"
MLFLOW_CACHE = WORK_DIR / "mlflow.json"

FILTER = "metrics.m0 > 0.5 and params.p0 = 'x'"
ORDER_METRIC = "metrics.m1 DESC"
ORDER_LIST = "attributes.start_time DESC"

out = Console(width=None if sys.stdout.isatty() else 150)  # a file or pipe gets the whole table, unwrapped
err = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """The work of one benchmark run."""

    runs: int  # runs of the simple (modelyard) and batch phases; the experiment size of the first search
    mlflow_simple_runs: int  # MLflow's simple phase is slow: a few runs give its rate
    params: int
    metrics: int
    steps: int
    search_runs: int  # the experiment size of the second search and the listing
    max_seconds: float  # time bound of each phase


FULL = Sizes(runs=200, mlflow_simple_runs=10, params=20, metrics=10, steps=50, search_runs=2000, max_seconds=600)
QUICK = Sizes(runs=20, mlflow_simple_runs=2, params=20, metrics=10, steps=50, search_runs=200, max_seconds=60)


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """One row of the table: how to read, compare and judge a figure."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    goal: str
    goal_ratio: float | None = None  # modelyard / MLflow must reach this (>= if higher is better, else <=)
    goal_value: float | None = None  # or modelyard's own value must be at most this
    reference: float  # MLflow's figure in shared/BENCHMARKS.md (Nov 2026, +-30%)

    def is_met(self, value: float | None, ratio: float | None) -> bool | None:
        """Whether the goal is met; None when the figures needed are missing."""
        if self.goal_value is not None:
            return None if value is None else value <= self.goal_value
        if ratio is None or self.goal_ratio is None:
            return None
        return ratio >= self.goal_ratio if self.higher_is_better else ratio <= self.goal_ratio


def _faster(key: str, label: str, unit: str, factor: int, reference: float) -> Figure:
    higher = unit.endswith("/s")
    goal = f">= {factor}x" if higher else f"<= 1/{factor}"
    return Figure(
        key=key,
        label=label,
        unit=unit,
        higher_is_better=higher,
        goal=goal,
        goal_ratio=factor if higher else 1 / factor,
        reference=reference,
    )


FIGURES = [
    _faster("simple_points_per_s", "log_metric one call at a time", "points/s", 100, 154),
    _faster("batch_points_per_s", "batch logging (MLflow: log_batch per run)", "points/s", 20, 3710),
    _faster("search_ms_200", "filtered + ordered search, {small} runs", "ms", 20, 51),
    _faster("search_ms_2000", "filtered + ordered search, {large} runs", "ms", 20, 531),
    _faster("list_1000_ms", "list 1,000 runs ordered, at {large} runs", "ms", 20, 1325),
    _faster("first_page_100_ms", "first page of 100, at {large} runs", "ms", 20, 305),
    Figure(
        key="db_bytes_per_point",
        label="database size per metric point",
        unit="bytes",
        higher_is_better=False,
        goal="smaller",
        goal_ratio=1.0,
        reference=245,
    ),
    Figure(
        key="import_s",
        label="import time (fresh interpreter)",
        unit="s",
        higher_is_better=False,
        goal="<= 0.2 s",
        goal_value=0.2,
        reference=1.8,
    ),
]


# --- the workload; keep identical to bench/anchors/mlflow_tracking.py ---------------------------------------
# (the table's "same results" line compares the search results of both tools, which catches any drift here)
def metric_value(run: int, metric: int, step: int) -> float:
    """A deterministic value in [0, 1): both tools store exactly the same numbers."""
    mixed = (run * 1_000_003 + metric * 10_007 + step * 101 + 12_345) * 2_654_435_761 % 4_294_967_296
    return mixed / 4_294_967_296


def param_value(run: int, param: int) -> str:
    """``p0`` alternates 'x'/'y' (the filter's param); the others are short numeric strings."""
    if param == 0:
        return "x" if run % 2 == 0 else "y"
    return f"{0.001 * (param + 1) * (run % 13 + 1):.6g}"


# ------------------------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    err.print(f"[dim]\\[bench][/dim] {message}", highlight=False)


def _median_ms(call: Callable[[], object], repeat: int = 5) -> tuple[float, list[float], object]:
    samples: list[float] = []
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), samples, result


def measure_import(python: str, module: str, repeat: int = 3) -> dict[str, Any]:
    """Median wall time of ``python -c "import <module>"`` in a fresh interpreter."""
    samples: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([python, "-c", f"import {module}"], check=True, timeout=120)
        samples.append(time.perf_counter() - started)
    return {"import_s": statistics.median(samples), "import_samples_s": samples}


# --- MLflow ------------------------------------------------------------------------------------------------


def run_mlflow(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    """Ensure the MLflow venv, run the anchor script there, cache and return its figures."""
    started = time.perf_counter()
    python = ensure_venv("mlflow", MLFLOW_PACKAGES)
    venv_s = time.perf_counter() - started
    args = [
        f"--workdir={workdir}",
        f"--runs={sizes.runs}",
        f"--simple-runs={sizes.mlflow_simple_runs}",
        f"--params={sizes.params}",
        f"--metrics={sizes.metrics}",
        f"--steps={sizes.steps}",
        f"--search-runs={sizes.search_runs}",
        f"--max-seconds={sizes.max_seconds}",
    ]
    _log(f"MLflow anchor: {python} {ANCHOR_SCRIPT.name} {' '.join(args)}")
    result = run_json(python, ANCHOR_SCRIPT, args, timeout_s=3 * sizes.max_seconds + 900)
    result |= {"venv_ready_s": venv_s, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    MLFLOW_CACHE.parent.mkdir(parents=True, exist_ok=True)
    MLFLOW_CACHE.write_text(json.dumps(result, indent=1))
    return result


def cached_mlflow(sizes: Sizes) -> dict[str, Any] | None:
    """The last MLflow result, if any; warns when it was measured at other sizes."""
    try:
        result: dict[str, Any] = json.loads(MLFLOW_CACHE.read_text())
    except (OSError, ValueError):
        _log(f"no cached MLflow result in {MLFLOW_CACHE}: showing modelyard alone")
        return None
    cached_sizes = result.get("sizes", {})
    wanted = asdict(sizes)
    wanted["simple_runs"] = wanted.pop("mlflow_simple_runs")
    differs = {k: (v, wanted[k]) for k, v in cached_sizes.items() if k in wanted and v != wanted[k]}
    if differs:
        _log(f"[yellow]cached MLflow result was measured at other sizes (cached, now): {differs}[/yellow]")
    _log(f"MLflow figures from {MLFLOW_CACHE} (measured {result.get('measured_at', '?')})")
    result["cached"] = True
    return result


# --- modelyard ---------------------------------------------------------------------------------------------


def _my_simple(sizes: Sizes) -> dict[str, Any]:
    import modelyard as my

    deadline = time.perf_counter() + sizes.max_seconds
    runs_done = 0
    started = time.perf_counter()
    for run in range(sizes.runs):
        with my.start_run(experiment="simple"):
            for p in range(sizes.params):
                my.log_param(f"p{p}", param_value(run, p))
            for step in range(sizes.steps):
                for m in range(sizes.metrics):
                    my.log_metric(f"m{m}", metric_value(run, m, step), step=step)
        runs_done += 1
        if time.perf_counter() > deadline:
            _log(f"modelyard simple: time bound reached after {runs_done} runs")
            break
    seconds = time.perf_counter() - started
    points = runs_done * sizes.metrics * sizes.steps
    _log(f"modelyard simple: {runs_done} runs, {points} points in {seconds:.2f} s")
    return {
        "simple_points_per_s": points / seconds,
        "simple_runs": runs_done,
        "simple_points": points,
        "simple_s": seconds,
    }


def _my_batch(sizes: Sizes) -> dict[str, Any]:
    import modelyard as my

    deadline = time.perf_counter() + sizes.max_seconds
    runs_done = 0
    started = time.perf_counter()
    for run in range(sizes.runs):
        with my.start_run(experiment="bench"):
            my.log_params({f"p{p}": param_value(run, p) for p in range(sizes.params)})
            for step in range(sizes.steps):
                my.log_metrics({f"m{m}": metric_value(run, m, step) for m in range(sizes.metrics)}, step=step)
        runs_done += 1
        if time.perf_counter() > deadline:
            _log(f"modelyard batch: time bound reached after {runs_done} runs")
            break
    seconds = time.perf_counter() - started
    points = runs_done * sizes.metrics * sizes.steps
    _log(f"modelyard batch: {runs_done} runs, {points} points in {seconds:.2f} s")
    return {
        "batch_points_per_s": points / seconds,
        "batch_runs": runs_done,
        "batch_points": points,
        "batch_s": seconds,
    }


def _my_fill(sizes: Sizes, first_run: int) -> int:
    """Add runs (3 params, 10 metrics, one step) until "bench" holds ``search_runs``; return the count."""
    import modelyard as my

    deadline = time.perf_counter() + sizes.max_seconds
    run = first_run
    while run < sizes.search_runs and time.perf_counter() < deadline:
        with my.start_run(experiment="bench"):
            my.log_params({f"p{p}": param_value(run, p) for p in range(min(3, sizes.params))})
            my.log_metrics({f"m{m}": metric_value(run, m, 0) for m in range(sizes.metrics)}, step=0)
        run += 1
    return run


def _my_search(label: str) -> dict[str, Any]:
    import modelyard as my

    ms, samples, page = _median_ms(
        lambda: my.search_runs("bench", filter=FILTER, order_by=[ORDER_METRIC], max_results=1000)
    )
    runs = list(getattr(page, "runs", []))
    _log(f"modelyard search ({label}): {ms:.2f} ms median, {len(runs)} matches")
    return {
        f"search_ms_{label}": ms,
        f"search_samples_ms_{label}": samples,
        f"search_matches_{label}": len(runs),
        f"search_top_m1_{label}": [round(r.metric("m1") or 0.0, 9) for r in runs[:5]],
    }


def _my_list() -> dict[str, Any]:
    import modelyard as my

    list_ms, list_samples, listed = _median_ms(lambda: my.search_runs("bench", order_by=[ORDER_LIST], max_results=1000))
    page_ms, page_samples, page = _median_ms(lambda: my.search_runs("bench", order_by=[ORDER_LIST], max_results=100))
    return {
        "list_1000_ms": list_ms,
        "list_1000_samples_ms": list_samples,
        "list_count": len(getattr(listed, "runs", [])),
        "first_page_100_ms": page_ms,
        "first_page_100_samples_ms": page_samples,
        "first_page_count": len(getattr(page, "runs", [])),
    }


def _db_bytes(folder: Path) -> int:
    db = folder / "modelyard.db"
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def run_modelyard(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    """The same work as the MLflow anchor, in this interpreter, in a fresh embedded home ``<workdir>``."""
    import modelyard as my

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "tool": "modelyard",
        "version": my.__version__,
        "python": platform.python_version(),
        "backend": "embedded (SQLite + blobs folder), in-process",
        "sizes": asdict(sizes),
    }
    client = my.connect(workdir)
    try:
        result |= _my_simple(sizes)
        result |= _my_batch(sizes)
    finally:
        client.close()
    stored = result["simple_points"] + result["batch_points"]
    result |= {
        "db_bytes": _db_bytes(workdir),
        "db_points": stored,
        "db_bytes_per_point": _db_bytes(workdir) / stored,
    }
    client = my.connect(workdir)
    try:
        result |= _my_search("200")
        held = _my_fill(sizes, result["batch_runs"])
        _log(f"modelyard fill: experiment holds {held} runs")
        result |= _my_search("2000")
        result |= _my_list()
    finally:
        client.close()
    result |= {"search_runs_small": result["batch_runs"], "search_runs_large": held}
    result |= measure_import(sys.executable, "modelyard")
    result["total_s"] = time.perf_counter() - started
    return result


# --- report ------------------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:,.0f} {unit}"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio >= 1:
        return f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"
    return f"1/{1 / ratio:,.1f}" if ratio > 0.1 else f"1/{1 / ratio:,.0f}"


def _label(figure: Figure, mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> str:
    source = mine or mlflow or {}
    label = figure.label.format(
        small=source.get("search_runs_small", "?"), large=f"{source.get('search_runs_large', 0):,}"
    )
    if figure.key == "simple_points_per_s" and mlflow:
        label += f" (MLflow: {mlflow.get('simple_runs', '?')} runs, rate)"
    return label


def compare(mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per figure: both values, ratio modelyard / MLflow, goal, and whether it is met."""
    rows = []
    for figure in FIGURES:
        theirs = mlflow.get(figure.key) if mlflow else None
        ours = mine.get(figure.key) if mine else None
        ratio = ours / theirs if ours is not None and theirs else None
        rows.append(
            {
                "key": figure.key,
                "label": _label(figure, mlflow, mine),
                "unit": figure.unit,
                "reference_mlflow": figure.reference,
                "mlflow": theirs,
                "modelyard": ours,
                "ratio": ratio,
                "goal": figure.goal,
                "met": figure.is_met(ours, ratio),
            }
        )
    return rows


def same_results(mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> str | None:
    """Whether both tools' searches found the same number of runs with the same top values of m1."""
    if not mlflow or not mine:
        return None
    keys = [f"search_{what}_{n}" for n in ("200", "2000") for what in ("matches", "top_m1")]
    differ = [k for k in keys if mlflow.get(k) != mine.get(k)]
    if not differ:
        return "[green]same search results in both tools[/green]"
    detail = ", ".join(f"{k}: MLflow {mlflow.get(k)} / modelyard {mine.get(k)}" for k in differ)
    return f"[red]search results differ[/red] ({detail})"


def print_table(rows: list[dict[str, Any]], mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> None:
    version = mlflow.get("version", "?") if mlflow else "not run"
    cached = " (cached)" if mlflow and mlflow.get("cached") else ""
    table = Table(title="Tracking: modelyard vs MLflow (SQLite, in-process)", title_justify="left")
    table.add_column("figure")
    table.add_column("MLflow (BENCHMARKS.md)", justify="right", style="dim")
    table.add_column(f"MLflow {version}{cached}", justify="right")
    table.add_column("modelyard", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("goal", justify="right")
    table.add_column("met", justify="center")
    for row in rows:
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[row["met"]]
        table.add_row(
            row["label"],
            _fmt(row["reference_mlflow"], row["unit"]),
            _fmt(row["mlflow"], row["unit"]),
            _fmt(row["modelyard"], row["unit"]),
            _fmt_ratio(row["ratio"]),
            row["goal"],
            met,
        )
    out.print(table)
    if mlflow and "venv_ready_s" in mlflow:
        out.print(f"MLflow venv ready in {mlflow['venv_ready_s']:.1f} s; anchor script {mlflow['total_s']:.1f} s")
    if mine:
        out.print(f"modelyard {mine['version']}: {mine['total_s']:.1f} s")
    verdict = same_results(mlflow, mine)
    if verdict:
        out.print(verdict)


# --- main --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--only", choices=["mlflow", "modelyard"], help="measure one tool only")
    parser.add_argument(
        "--skip-mlflow",
        action="store_true",
        help="measure modelyard only; MLflow figures from the last cached run",
    )
    parser.add_argument("--mlflow-simple-runs", type=int, help="runs of MLflow's one-call-at-a-time phase")
    parser.add_argument("--max-seconds", type=float, help="time bound of each phase")
    parser.add_argument("--workdir", type=Path, default=WORK_DIR / "tracking", help="scratch folder (wiped)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.mlflow_simple_runs is not None:
        sizes = replace(sizes, mlflow_simple_runs=args.mlflow_simple_runs)
    if args.max_seconds is not None:
        sizes = replace(sizes, max_seconds=args.max_seconds)
    skip_mlflow = args.skip_mlflow or args.only == "modelyard"
    started = time.perf_counter()

    mlflow: dict[str, Any] | None = None
    if not skip_mlflow:
        mlflow = run_mlflow(sizes, args.workdir / "mlflow")
        _log(f"MLflow part done in {time.perf_counter() - started:.1f} s")
    else:
        mlflow = cached_mlflow(sizes)

    mine: dict[str, Any] | None = None
    failed = False
    if args.only != "mlflow":
        try:
            mine = run_modelyard(sizes, args.workdir / "modelyard")
        except Exception:  # a benchmark reports the failure and still prints the anchor's figures
            failed = True
            err.print("[red]modelyard side failed:[/red]")
            err.print(traceback.format_exc(), highlight=False, markup=False)

    rows = compare(mlflow, mine)
    print_table(rows, mlflow, mine)
    if args.json:
        write_report(
            args.json, "tracking", started=started, sizes=asdict(sizes), figures=rows, mlflow=mlflow, modelyard=mine
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
