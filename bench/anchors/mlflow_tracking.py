"""MLflow tracking anchor: run INSIDE the MLflow venv (bench/.venvs/mlflow), prints one JSON object on stdout.

Measures MLflow's SQLite backend with the in-process client (no server), on the workload of
``bench/tracking.py``: runs x params x metrics x steps. Phases, in order, all in ``<workdir>/mlflow.db``:

1. simple: ``mlflow.log_param`` / ``mlflow.log_metric(key, value, step=s)``, one call per value, in
   ``--simple-runs`` runs (MLflow manages ~150 points/s here, so the driver passes a small count and the
   rate is what matters);
2. batch: ``--runs`` runs, each one ``MlflowClient.log_batch`` call carrying its params and every metric point
   (chunked to MLflow's 1,000-entity limit per call); then the database size per stored metric point;
3. a filtered + ordered search at ``--runs`` runs; then more runs (a few params, 10 metrics, one step, via
   ``log_batch``) until the experiment holds ``--search-runs`` runs; the same search again, a listing of
   1,000 runs and a first page of 100 (median of 5 each);
4. ``import mlflow`` in a fresh interpreter (median of 3).

Keys are named for the full size (``search_ms_200`` is the search at ``--runs`` runs, ``search_ms_2000``
at ``--search-runs``); ``search_runs_small`` / ``search_runs_large`` hold the real counts. Progress goes to
stderr. Every loop stops at its count or at ``--max-seconds`` per phase, whichever comes first; the output
records how many runs each phase really did.

The workload (values, param strings) must stay identical to the modelyard side in ``bench/tracking.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Telemetry off: it would only add background work to the anchor (and there is no network for it anyway).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.pop("MLFLOW_TRACKING_URI", None)

FILTER = "metrics.m0 > 0.5 and params.p0 = 'x'"
ORDER_METRIC = "metrics.m1 DESC"
ORDER_LIST = "attributes.start_time DESC"
MAX_BATCH_ENTITIES = 1000  # MLflow's limit: 1,000 metrics+params+tags per log_batch, at most 100 params
MAX_BATCH_PARAMS = 100


# --- the workload; keep identical to bench/tracking.py -----------------------------------------------------
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
    print(f"[mlflow-anchor] {message}", file=sys.stderr, flush=True)


def _median_ms(call: Callable[[], object], repeat: int = 5) -> tuple[float, list[float], object]:
    samples: list[float] = []
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), samples, result


def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def _clean_workdir(workdir: Path) -> None:
    """Remove only what an earlier run of this script wrote."""
    import shutil

    for name in ("mlflow.db", "mlflow.db-wal", "mlflow.db-shm", "mlflow.db-journal"):
        (workdir / name).unlink(missing_ok=True)
    shutil.rmtree(workdir / "mlartifacts", ignore_errors=True)


def phase_simple(experiment_id: str, args: argparse.Namespace) -> dict[str, Any]:
    import mlflow

    deadline = time.perf_counter() + args.max_seconds
    runs_done = 0
    started = time.perf_counter()
    for run in range(args.simple_runs):
        with mlflow.start_run(experiment_id=experiment_id):
            for p in range(args.params):
                mlflow.log_param(f"p{p}", param_value(run, p))
            for step in range(args.steps):
                for m in range(args.metrics):
                    mlflow.log_metric(f"m{m}", metric_value(run, m, step), step=step)
        runs_done += 1
        if time.perf_counter() > deadline:
            _log(f"simple: time bound reached after {runs_done} runs")
            break
    seconds = time.perf_counter() - started
    points = runs_done * args.metrics * args.steps
    _log(f"simple: {runs_done} runs, {points} points in {seconds:.1f} s = {points / seconds:,.0f} points/s")
    return {
        "simple_points_per_s": points / seconds,
        "simple_runs": runs_done,
        "simple_points": points,
        "simple_s": seconds,
    }


def _batch_chunks(params: list[Any], metrics: list[Any]) -> list[tuple[list[Any], list[Any]]]:
    """Split into log_batch calls within MLflow's limits; params ride along with the first metrics."""
    chunks: list[tuple[list[Any], list[Any]]] = []
    params_left, metrics_left = list(params), list(metrics)
    while params_left or metrics_left or not chunks:
        chunk_params = params_left[:MAX_BATCH_PARAMS]
        params_left = params_left[MAX_BATCH_PARAMS:]
        room = MAX_BATCH_ENTITIES - len(chunk_params)
        chunks.append((chunk_params, metrics_left[:room]))
        metrics_left = metrics_left[room:]
    return chunks


def phase_batch(experiment_id: str, args: argparse.Namespace) -> dict[str, Any]:
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    deadline = time.perf_counter() + args.max_seconds
    runs_done = calls = 0
    started = time.perf_counter()
    for run in range(args.runs):
        params = [Param(f"p{p}", param_value(run, p)) for p in range(args.params)]
        now_ms = int(time.time() * 1000)
        metrics = [
            Metric(f"m{m}", metric_value(run, m, step), now_ms, step)
            for step in range(args.steps)
            for m in range(args.metrics)
        ]
        with mlflow.start_run(experiment_id=experiment_id) as active:
            for chunk_params, chunk_metrics in _batch_chunks(params, metrics):
                client.log_batch(active.info.run_id, metrics=chunk_metrics, params=chunk_params)
                calls += 1
        runs_done += 1
        if time.perf_counter() > deadline:
            _log(f"batch: time bound reached after {runs_done} runs")
            break
    seconds = time.perf_counter() - started
    points = runs_done * args.metrics * args.steps
    _log(f"batch: {runs_done} runs, {points} points in {seconds:.1f} s = {points / seconds:,.0f} points/s")
    return {
        "batch_points_per_s": points / seconds,
        "batch_runs": runs_done,
        "batch_points": points,
        "batch_s": seconds,
        "batch_calls": calls,
    }


def phase_fill(experiment_id: str, first_run: int, target_runs: int, args: argparse.Namespace) -> int:
    """Add runs (3 params, 10 metrics, one step) until the experiment holds ``target_runs``; return that."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    deadline = time.perf_counter() + args.max_seconds
    run = first_run
    started = time.perf_counter()
    while run < target_runs and time.perf_counter() < deadline:
        now_ms = int(time.time() * 1000)
        created = client.create_run(experiment_id)
        client.log_batch(
            created.info.run_id,
            metrics=[Metric(f"m{m}", metric_value(run, m, 0), now_ms, 0) for m in range(args.metrics)],
            params=[Param(f"p{p}", param_value(run, p)) for p in range(min(3, args.params))],
        )
        client.set_terminated(created.info.run_id)
        run += 1
    _log(f"fill: {run - first_run} runs in {time.perf_counter() - started:.1f} s, experiment holds {run}")
    return run


def measure_search(experiment_id: str, label: str) -> dict[str, Any]:
    import mlflow

    ms, samples, found = _median_ms(
        lambda: mlflow.search_runs(
            experiment_ids=[experiment_id],
            filter_string=FILTER,
            order_by=[ORDER_METRIC],
            output_format="list",
            max_results=1000,
        )
    )
    matches = found if isinstance(found, list) else []
    _log(f"search ({label}): {ms:.1f} ms median, {len(matches)} matches")
    return {
        f"search_ms_{label}": ms,
        f"search_samples_ms_{label}": samples,
        f"search_matches_{label}": len(matches),
        # The first matches in order, to check that both tools found the same runs in the same order.
        f"search_top_m1_{label}": [round(r.data.metrics["m1"], 9) for r in matches[:5]],
    }


def measure_list(experiment_id: str) -> dict[str, Any]:
    import mlflow

    def listing(limit: int) -> Callable[[], object]:
        return lambda: mlflow.search_runs(
            experiment_ids=[experiment_id], order_by=[ORDER_LIST], output_format="list", max_results=limit
        )

    list_ms, list_samples, listed = _median_ms(listing(1000))
    page_ms, page_samples, page = _median_ms(listing(100))
    _log(f"list 1000: {list_ms:.1f} ms median; first page of 100: {page_ms:.1f} ms median")
    return {
        "list_1000_ms": list_ms,
        "list_1000_samples_ms": list_samples,
        "list_count": len(listed) if isinstance(listed, list) else 0,
        "first_page_100_ms": page_ms,
        "first_page_100_samples_ms": page_samples,
        "first_page_count": len(page) if isinstance(page, list) else 0,
    }


def measure_import(repeat: int = 3) -> dict[str, Any]:
    samples: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mlflow"], check=True, timeout=120)
        samples.append(time.perf_counter() - started)
    _log(f"import mlflow: {statistics.median(samples):.2f} s median")
    return {"import_s": statistics.median(samples), "import_samples_s": samples}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=200, help="runs of the batch phase")
    parser.add_argument("--simple-runs", type=int, default=10, help="runs of the one-call-per-value phase")
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--search-runs", type=int, default=2000, help="runs in the experiment for the 2nd search")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="time bound of each phase")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.metrics < 2 or args.params < 1:
        raise SystemExit("need at least 2 metrics (m0 filters, m1 orders) and 1 param (p0)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    _clean_workdir(args.workdir)
    db = args.workdir / "mlflow.db"

    started = time.perf_counter()
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{db}")
    artifacts = (args.workdir / "mlartifacts").as_uri()
    # Creating the first experiment builds the schema (Alembic migrations): setup, not timed.
    simple_id = mlflow.create_experiment("simple", artifact_location=artifacts)
    bench_id = mlflow.create_experiment("bench", artifact_location=artifacts)
    _log(f"mlflow {mlflow.__version__} ready in {time.perf_counter() - started:.1f} s (import + schema)")

    out: dict[str, Any] = {
        "tool": "mlflow",
        "version": mlflow.__version__,
        "python": platform.python_version(),
        "backend": "sqlite, in-process client",
        "sizes": {k: getattr(args, k) for k in ("runs", "simple_runs", "params", "metrics", "steps", "search_runs")},
    }
    out |= phase_simple(simple_id, args)
    out |= phase_batch(bench_id, args)
    stored = out["simple_points"] + out["batch_points"]
    out |= {"db_bytes": _db_bytes(db), "db_points": stored, "db_bytes_per_point": _db_bytes(db) / stored}
    small = out["batch_runs"]
    out |= measure_search(bench_id, "200")
    held = phase_fill(bench_id, small, args.search_runs, args)
    out |= measure_search(bench_id, "2000")
    out |= measure_list(bench_id)
    out |= {"search_runs_small": small, "search_runs_large": held}
    out |= measure_import()
    out["total_s"] = time.perf_counter() - started
    print(json.dumps(out))


if __name__ == "__main__":
    main()
