"""Model registry benchmark: modelyard against MLflow 3.17 (SQLite backend, in-process client), same work and run.

Work: two scikit-learn pipelines (ColumnTransformer: StandardScaler on 6 numeric columns + OneHotEncoder on 2
string columns, then ``logreg``: LogisticRegression, or ``forest``: RandomForestClassifier(n_estimators=50,
max_depth=8)), fitted on a seeded pandas frame of 5,000 rows. The workload comes from one place,
``bench/anchors/mlflow_registry.py``, which this script imports, so both tools fit the very same models. For
each pipeline, both tools (each on a fresh store in a temp folder):

1. log the model with defaults and ``input_example=X.head(5)``, each call in a run of its own; then with
   explicit requirements (``scikit-learn==<installed>``: no requirement inference);
2. register a version of it, N times (50 at full size: the versions the search below finds);
3. set the alias ``production``, cycling over the versions;
4. search the versions of the model (MLflow: ``search_model_versions("name='...'")``; modelyard:
   ``my.models.search(name, limit=N)``);
5. load by alias, warm: the loads after the first one. MLflow (``mlflow.pyfunc.load_model("models:/n@a")``)
   has no cache and deserializes every time; modelyard serves the warm load from a cache keyed by the
   immutable package digest, so the table also shows modelyard's ``cache=False`` load (a full deserialize)
   against the same MLflow figure; then ``predict`` on 100 rows with the loaded model.

MLflow runs in its own venv (``bench/.venvs/mlflow``, shared with ``bench/tracking.py``, created on first use)
through ``bench/anchors/mlflow_registry.py``; modelyard runs in this interpreter. MLflow 3.17 saves scikit-learn
models with skops by default and refuses to log the forest (``sklearn.tree._tree.Tree`` is not a trusted
type): the anchor records that error, measures with the ``skops_trusted_types`` it needs, and the table's label
says so. The table shows each figure for both tools, the ratio modelyard / MLflow, MLflow's figure in
``shared/BENCHMARKS.md`` (on the logreg rows) and the goals from there: log_model with defaults <= 100 ms, warm
load <= 10 ms. Figures are medians in ms of ``time.perf_counter`` around the one call; one untimed log_model
on each side first loads the lazy imports. Every loop stops at its count or at ``--max-seconds`` per phase.

Usage (from the repo root, with the project's venv)::

    .venv/bin/python bench/registry.py                   # full size, ~1.5 min for MLflow plus modelyard
    .venv/bin/python bench/registry.py --quick           # smoke run, well under a minute
    .venv/bin/python bench/registry.py --only mlflow     # the anchor alone (cached: bench/.work/mlflow-registry.json)
    .venv/bin/python bench/registry.py --skip-mlflow     # modelyard alone, MLflow figures from that cache
    .venv/bin/python bench/registry.py --json results.json --workdir /tmp/reg   # keep the stores in /tmp/reg
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _anchor import BENCH_DIR, WORK_DIR, ensure_venv, run_json, write_report
from anchors.mlflow_registry import (
    ALIAS,
    CASES,
    EXAMPLE_ROWS,
    MLFLOW_PACKAGES,
    PREDICT_ROWS,
    fit_models,
    library_versions,
    prediction_digest,
    requirements,
)
from rich.console import Console
from rich.markup import escape
from rich.table import Table

ANCHOR_SCRIPT = BENCH_DIR / "anchors" / "mlflow_registry.py"
MLFLOW_CACHE = WORK_DIR / "mlflow-registry.json"
PHASES_PER_CASE = 8  # log x2, register, alias, search, load x2, predict: the anchor's timeout counts them

out = Console(width=None if sys.stdout.isatty() else 170)  # a file or pipe gets the whole table, unwrapped
err = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """The work of one benchmark run (the same for both tools)."""

    rows: int  # rows of the training frame
    log_repeats: int  # log_model calls with defaults, per case
    explicit_repeats: int  # log_model calls with explicit requirements, per case
    registrations: int  # versions registered per case; the search finds them all
    alias_repeats: int
    loads: int  # loads after the first one, per kind of load
    predicts: int
    searches: int
    max_seconds: float  # time bound of each phase


FULL = Sizes(
    rows=5000,
    log_repeats=5,
    explicit_repeats=10,
    registrations=50,
    alias_repeats=20,
    loads=10,
    predicts=20,
    searches=10,
    max_seconds=120,
)
QUICK = Sizes(
    rows=5000,
    log_repeats=2,
    explicit_repeats=3,
    registrations=10,
    alias_repeats=5,
    loads=3,
    predicts=5,
    searches=3,
    max_seconds=30,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """One row of the table per case: both figures are medians in ms, lower is better."""

    key: str  # modelyard's result key is f"{key}_ms_{case}"
    mlflow_key: str  # MLflow's is f"{mlflow_key}_ms_{case}"
    label: str
    goal: str = "-"
    goal_value: float | None = None  # modelyard's own value must be at most this
    reference: float | None = None  # MLflow's figure in shared/BENCHMARKS.md (Nov 2026, +-30%), scikit-learn

    def is_met(self, value: float | None) -> bool | None:
        if self.goal_value is None or value is None:
            return None
        return value <= self.goal_value


FIGURES = [
    Figure(
        key="log_defaults",
        mlflow_key="log_defaults",
        label="log_model, defaults (input_example: 5 rows)",
        goal="<= 100 ms",
        goal_value=100,
        reference=4400,
    ),
    Figure(key="log_explicit", mlflow_key="log_explicit", label="log_model, explicit requirements", reference=71),
    Figure(
        key="register", mlflow_key="register", label="register a version ({registered} registrations)", reference=20
    ),
    Figure(key="alias", mlflow_key="alias", label="set alias", reference=8.6),
    Figure(key="search", mlflow_key="search", label="search the versions of one model ({found} versions)"),
    Figure(
        key="load_warm",
        mlflow_key="load",
        label="load by alias, warm (modelyard: served from a cache keyed by the immutable package digest; "
        "MLflow: pyfunc.load_model, no cache)",
        goal="<= 10 ms",
        goal_value=10,
        reference=38,
    ),
    Figure(
        key="load_nocache",
        mlflow_key="load",
        label="load by alias, cache=False (full deserialize; MLflow: the same warm pyfunc.load_model)",
        reference=38,
    ),
    Figure(key="predict_100", mlflow_key="predict_100", label=f"predict {PREDICT_ROWS} rows with the loaded model"),
]


def _log(message: str) -> None:
    err.print(f"[dim]\\[bench][/dim] {message}", highlight=False)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _bounded(label: str, count: int, max_seconds: float) -> Iterator[int]:
    """0..count-1, stopping early once ``max_seconds`` have passed since the first (a loop always runs once)."""
    deadline = time.perf_counter() + max_seconds
    for i in range(count):
        yield i
        if time.perf_counter() > deadline and i + 1 < count:
            _log(f"{label}: time bound reached after {i + 1} of {count}")
            return


def _repeat(label: str, count: int, max_seconds: float, call: Callable[[], Any]) -> tuple[list[float], Any]:
    """Time ``call()`` up to ``count`` times within ``max_seconds``: the samples in ms and the last result."""
    samples: list[float] = []
    result: Any = None
    for _ in _bounded(label, count, max_seconds):
        started = time.perf_counter()
        result = call()
        samples.append(_ms_since(started))
    return samples, result


def _figure(key: str, case: str, samples: list[float]) -> dict[str, Any]:
    return {f"{key}_ms_{case}": statistics.median(samples), f"{key}_samples_ms_{case}": samples}


# --- MLflow ------------------------------------------------------------------------------------------------


def _anchor_args(sizes: Sizes) -> list[str]:
    return [f"--{name.replace('_', '-')}={value}" for name, value in asdict(sizes).items()]


def run_mlflow(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    """Ensure the MLflow venv, run the anchor script there, cache and return its figures."""
    started = time.perf_counter()
    python = ensure_venv("mlflow", MLFLOW_PACKAGES)
    venv_s = time.perf_counter() - started
    args = [f"--workdir={workdir}", *_anchor_args(sizes)]
    _log(f"MLflow anchor: {python} {ANCHOR_SCRIPT.name} {' '.join(args)}")
    timeout_s = len(CASES) * PHASES_PER_CASE * sizes.max_seconds + 900
    result = run_json(python, ANCHOR_SCRIPT, args, timeout_s=timeout_s)
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
    wanted = asdict(sizes)
    differs = {k: (v, wanted[k]) for k, v in result.get("sizes", {}).items() if k in wanted and v != wanted[k]}
    if differs:
        _log(f"[yellow]cached MLflow result was measured at other sizes (cached, now): {differs}[/yellow]")
    _log(f"MLflow figures from {MLFLOW_CACHE} (measured {result.get('measured_at', '?')})")
    result["cached"] = True
    return result


# --- modelyard ---------------------------------------------------------------------------------------------


class RegistryApiMissing(RuntimeError):
    """modelyard does not (yet) have the registry API this benchmark measures."""


def check_registry_api(my: Any) -> None:
    """Fail with one clear message when a function of the registry contract is missing or does not import."""
    missing: list[str] = []
    for name in ("connect", "start_run", "log_model", "register_model", "set_alias", "models"):
        try:
            getattr(my, name)
        except Exception as exc:  # AttributeError, or the module behind a lazy name failing to import
            missing.append(f"my.{name} ({type(exc).__name__}: {exc})")
    if not any(m.startswith("my.models ") for m in missing):
        missing += [f"my.models.{attr}" for attr in ("load", "search") if not hasattr(my.models, attr)]
    if missing:
        raise RegistryApiMissing(
            "modelyard's model registry API (src/modelyard/registry) is not there yet; missing: "
            + "; ".join(missing)
            + ". Measure the anchor alone with --only mlflow."
        )


def _my_log(case: str, model: Any, frame: Any, sizes: Sizes) -> tuple[dict[str, Any], Any]:
    import modelyard as my

    example = frame.head(EXAMPLE_ROWS)

    def log(**options: Any) -> tuple[float, Any]:
        with my.start_run(experiment="bench"):
            started = time.perf_counter()
            info = my.log_model(model, name="model", input_example=example, **options)
            return _ms_since(started), info

    samples: list[float] = []
    info: Any = None
    for _ in _bounded(f"{case} log defaults", sizes.log_repeats, sizes.max_seconds):
        ms, info = log()
        samples.append(ms)
    explicit: list[float] = []
    reqs = requirements()
    for _ in _bounded(f"{case} log explicit", sizes.explicit_repeats, sizes.max_seconds):
        explicit.append(log(requirements=reqs)[0])
    result = _figure("log_defaults", case, samples) | _figure("log_explicit", case, explicit)
    result |= {
        "requirements": reqs,
        f"model_uri_{case}": str(info.uri),
        f"package_digest_{case}": str(info.digest),
        f"flavor_{case}": str(info.flavor),
    }
    _log(
        f"modelyard {case}: log_model defaults {result[f'log_defaults_ms_{case}']:,.1f} ms, "
        f"explicit requirements {result[f'log_explicit_ms_{case}']:,.1f} ms"
    )
    return result, info


def _my_registry(case: str, info: Any, sizes: Sizes) -> dict[str, Any]:
    import modelyard as my

    name = f"bench-{case}"
    versions: list[int] = []
    samples: list[float] = []
    for _ in _bounded(f"{case} register", sizes.registrations, sizes.max_seconds):
        started = time.perf_counter()
        version = my.register_model(name, info)
        samples.append(_ms_since(started))
        versions.append(int(version.version))
    result = _figure("register", case, samples) | {f"registered_versions_{case}": len(versions)}

    samples = []
    for i in _bounded(f"{case} alias", sizes.alias_repeats, sizes.max_seconds):
        target = versions[i % len(versions)]
        started = time.perf_counter()
        my.set_alias(name, ALIAS, target)
        samples.append(_ms_since(started))
    result |= _figure("alias", case, samples)
    my.set_alias(name, ALIAS, versions[-1])  # the loads read this one

    samples, found = _repeat(
        f"{case} search", sizes.searches, sizes.max_seconds, lambda: my.models.search(name, limit=len(versions))
    )
    result |= _figure("search", case, samples) | {f"search_found_{case}": len(list(found or []))}
    _log(
        f"modelyard {case}: register {result[f'register_ms_{case}']:.2f} ms, alias {result[f'alias_ms_{case}']:.2f} "
        f"ms, search {result[f'search_ms_{case}']:.2f} ms ({result[f'search_found_{case}']} of {len(versions)})"
    )
    return result


def _my_load(case: str, frame: Any, sizes: Sizes) -> dict[str, Any]:
    import modelyard as my

    uri = f"bench-{case}@{ALIAS}"
    started = time.perf_counter()
    my.models.load(uri)  # the first load fills the cache
    result: dict[str, Any] = {f"load_first_ms_{case}": _ms_since(started)}
    samples, predictor = _repeat(f"{case} load warm", sizes.loads, sizes.max_seconds, lambda: my.models.load(uri))
    result |= _figure("load_warm", case, samples)
    samples, _ = _repeat(
        f"{case} load cache=False", sizes.loads, sizes.max_seconds, lambda: my.models.load(uri, cache=False)
    )
    result |= _figure("load_nocache", case, samples)

    rows = frame.head(PREDICT_ROWS)
    samples, predictions = _repeat(
        f"{case} predict", sizes.predicts, sizes.max_seconds, lambda: predictor.predict(rows)
    )
    result |= _figure("predict_100", case, samples) | {f"predictions_{case}": prediction_digest(predictions)}
    _log(
        f"modelyard {case}: load first {result[f'load_first_ms_{case}']:.1f} ms, warm "
        f"{result[f'load_warm_ms_{case}']:.3f} ms, cache=False {result[f'load_nocache_ms_{case}']:.1f} ms, "
        f"predict {PREDICT_ROWS} {result[f'predict_100_ms_{case}']:.2f} ms"
    )
    return result


def run_modelyard(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    """The same work as the MLflow anchor, in this interpreter, in a fresh embedded home ``<workdir>``."""
    import modelyard as my

    check_registry_api(my)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    frame, models = fit_models(sizes.rows)
    _log(f"modelyard: fitted {', '.join(CASES)} on {sizes.rows:,} rows in {time.perf_counter() - started:.1f} s")
    result: dict[str, Any] = {
        "tool": "modelyard",
        "version": my.__version__,
        "python": platform.python_version(),
        "libraries": library_versions(),
        "backend": "embedded (SQLite + blobs folder), in-process",
        "sizes": asdict(sizes),
    }
    client = my.connect(workdir)
    try:
        warm = time.perf_counter()
        with my.start_run(experiment="bench"):
            my.log_model(
                models[CASES[0]], name="model", input_example=frame.head(EXAMPLE_ROWS), requirements=requirements()
            )
        result["first_log_model_ms"] = _ms_since(warm)
        for case in CASES:
            logged, info = _my_log(case, models[case], frame, sizes)
            result |= logged
            result |= _my_registry(case, info, sizes)
            result |= _my_load(case, frame, sizes)
    finally:
        client.close()
    result["total_s"] = time.perf_counter() - started
    return result


# --- report ------------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 0.1:
        return f"{value * 1000:,.1f} µs"
    if value < 1:
        return f"{value:.3f} ms"
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio >= 1:
        return f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"
    return f"1/{1 / ratio:,.1f}" if ratio > 0.1 else f"1/{1 / ratio:,.0f}"


def _label(figure: Figure, case: str, mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> str:
    source = mine or mlflow or {}
    label = figure.label.format(
        registered=source.get(f"registered_versions_{case}", "?"), found=source.get(f"search_found_{case}", "?")
    )
    needed = (mlflow or {}).get(f"log_defaults_needed_{case}")
    if figure.key in ("log_defaults", "log_explicit") and needed:
        label += f" [MLflow: defaults fail, measured with {needed}]"
    return label


def compare(mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per case and figure: both values, ratio modelyard / MLflow, goal, and whether it is met."""
    rows = []
    for case in CASES:
        for figure in FIGURES:
            theirs = mlflow.get(f"{figure.mlflow_key}_ms_{case}") if mlflow else None
            ours = mine.get(f"{figure.key}_ms_{case}") if mine else None
            ratio = ours / theirs if ours is not None and theirs else None
            rows.append(
                {
                    "case": case,
                    "key": f"{figure.key}_ms_{case}",
                    "label": _label(figure, case, mlflow, mine),
                    "unit": "ms",
                    "reference_mlflow": figure.reference if case == CASES[0] else None,
                    "mlflow": theirs,
                    "modelyard": ours,
                    "ratio": ratio,
                    "goal": figure.goal,
                    "met": figure.is_met(ours),
                }
            )
    return rows


def same_results(mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> str | None:
    """Whether both tools' loaded models predict the same labels and their searches found the same count."""
    if not mlflow or not mine:
        return None
    keys = [f"{what}_{case}" for case in CASES for what in ("predictions", "search_found")]
    differ = [k for k in keys if mlflow.get(k) != mine.get(k)]
    if not differ:
        return "[green]same predictions and search counts in both tools[/green]"
    detail = ", ".join(f"{k}: MLflow {mlflow.get(k)} / modelyard {mine.get(k)}" for k in differ)
    return f"[red]results differ[/red] ({escape(detail)})"


def _versions_line(side: str, result: dict[str, Any]) -> str:
    libraries = ", ".join(f"{k} {v}" for k, v in result.get("libraries", {}).items())
    return f"{side}: {result.get('tool')} {result.get('version')}, Python {result.get('python')}, {libraries}"


def print_notes(mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> None:
    out.print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs")
    for side, result in (("MLflow venv", mlflow), ("this venv", mine)):
        if result:
            out.print(_versions_line(side, result), highlight=False)
    if mlflow and mine and mlflow.get("libraries") != mine.get("libraries"):
        out.print("[yellow]the two venvs have different library versions: the models may differ[/yellow]")
    for case in CASES:
        error = (mlflow or {}).get(f"log_defaults_error_{case}")
        if error:
            first = error.splitlines()[0]
            needed = mlflow.get(f"log_defaults_needed_{case}") if mlflow else None
            out.print(f"MLflow {case} log_model with defaults failed: {escape(first)}", highlight=False)
            out.print(f"  measured with {escape(str(needed))} (full text in the JSON)", highlight=False)
    if mlflow and f"load_sklearn_ms_{CASES[0]}" in mlflow:
        flavor = ", ".join(f"{case} {_fmt(mlflow.get(f'load_sklearn_ms_{case}'))}" for case in CASES)
        out.print(f"MLflow mlflow.sklearn.load_model by alias (warm, no pyfunc wrapper): {flavor}")
    first = [
        f"{side} {_fmt(result.get('first_log_model_ms'))}"
        for side, result in (("MLflow", mlflow), ("modelyard", mine))
        if result
    ]
    out.print(f"first log_model (untimed warm-up, pays lazy imports): {', '.join(first)}")
    if mine:
        first_loads = ", ".join(f"{case} {_fmt(mine.get(f'load_first_ms_{case}'))}" for case in CASES)
        out.print(f"modelyard first load by alias (fills the cache): {first_loads}")


def print_table(rows: list[dict[str, Any]], mlflow: dict[str, Any] | None, mine: dict[str, Any] | None) -> None:
    version = mlflow.get("version", "?") if mlflow else "not run"
    cached = " (cached)" if mlflow and mlflow.get("cached") else ""
    table = Table(title="Model registry: modelyard vs MLflow (SQLite, in-process)", title_justify="left")
    table.add_column("model")
    table.add_column("figure (median)")
    table.add_column("MLflow (BENCHMARKS.md)", justify="right", style="dim")
    table.add_column(f"MLflow {version}{cached}", justify="right")
    table.add_column("modelyard", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("goal", justify="right")
    table.add_column("met", justify="center")
    previous = None
    for row in rows:
        if previous is not None and row["case"] != previous:
            table.add_section()
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[row["met"]]
        table.add_row(
            row["case"] if row["case"] != previous else "",
            escape(row["label"]),
            _fmt(row["reference_mlflow"]),
            _fmt(row["mlflow"]),
            _fmt(row["modelyard"]),
            _fmt_ratio(row["ratio"]),
            row["goal"],
            met,
        )
        previous = row["case"]
    out.print(table)
    print_notes(mlflow, mine)
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
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    parser.add_argument("--only", choices=["mlflow", "modelyard"], help="measure one tool only")
    parser.add_argument(
        "--skip-mlflow",
        action="store_true",
        help="measure modelyard only; MLflow figures from the last cached run",
    )
    parser.add_argument("--max-seconds", type=float, help="time bound of each phase")
    parser.add_argument(
        "--workdir", type=Path, help="scratch folder, wiped first and kept (default: a temp folder, removed)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    return parser.parse_args(argv)


def _measure(args: argparse.Namespace, sizes: Sizes, workdir: Path) -> tuple[Any, Any, bool]:
    started = time.perf_counter()
    mlflow: dict[str, Any] | None = None
    if args.skip_mlflow or args.only == "modelyard":
        mlflow = cached_mlflow(sizes)
    else:
        mlflow = run_mlflow(sizes, workdir / "mlflow")
        _log(f"MLflow part done in {time.perf_counter() - started:.1f} s")

    mine: dict[str, Any] | None = None
    failed = False
    if args.only != "mlflow":
        try:
            mine = run_modelyard(sizes, workdir / "modelyard")
        except RegistryApiMissing as exc:
            failed = True
            err.print(f"[red]modelyard side not measured:[/red] {escape(str(exc))}")
        except Exception:  # a benchmark reports the failure and still prints the anchor's figures
            failed = True
            err.print("[red]modelyard side failed:[/red]")
            err.print(traceback.format_exc(), highlight=False, markup=False)
    return mlflow, mine, failed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.max_seconds is not None:
        sizes = replace(sizes, max_seconds=args.max_seconds)
    started = time.perf_counter()
    if args.workdir is not None:
        workdir = args.workdir.resolve()
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-registry-"))
    try:
        mlflow, mine, failed = _measure(args, sizes, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    rows = compare(mlflow, mine)
    print_table(rows, mlflow, mine)
    if args.json:
        write_report(
            args.json, "registry", started=started, sizes=asdict(sizes), figures=rows, mlflow=mlflow, modelyard=mine
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
