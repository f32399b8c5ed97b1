"""MLflow registry anchor: run INSIDE the MLflow venv (bench/.venvs/mlflow), prints one JSON object on stdout.

    MLFLOW_PACKAGES = ["mlflow==3.17.2"]

(the module constant below; the same list as ``bench/tracking.py``, so both benchmarks share one venv: MLflow
brings scikit-learn, pandas and skops). This file imports only the standard library at module level, so
``bench/registry.py`` imports the workload from it (``fit_models``, ``requirements``, ...) and both tools fit
exactly the same models on exactly the same frame.

Measures MLflow's model logging and registry with a SQLite backend (``<workdir>/mlflow.db``), a local artifact
root (``<workdir>/mlartifacts``) and the in-process client (no server). For each case (``logreg``: a
ColumnTransformer + LogisticRegression pipeline; ``forest``: the same with RandomForestClassifier(50 trees,
depth 8)), fitted on a seeded frame of ``--rows`` rows (6 numeric + 2 string columns), in order:

1. ``mlflow.sklearn.log_model(model, name="model", input_example=X.head(5))`` with defaults, each inside a
   run of its own (``--log-repeats``). If that fails (MLflow 3.17 saves with skops by default and refuses
   types it does not trust, such as the forest's ``sklearn.tree._tree.Tree``), the error text is recorded
   (``log_defaults_error_<case>``) and the loop goes on with what the model needs (``skops_trusted_types``
   from ``skops.io.get_untrusted_types``), recorded in ``log_defaults_needed_<case>``;
2. the same with ``pip_requirements=requirements()`` (the installed scikit-learn, pinned: no requirement
   inference; ``--explicit-repeats``);
3. ``mlflow.register_model(<model uri of the last default log>, name)`` ``--registrations`` times;
4. ``MlflowClient.set_registered_model_alias(name, "production", v)`` cycling over the versions;
5. ``MlflowClient.search_model_versions("name='<name>'")`` over the registered versions (``--searches``);
6. ``mlflow.pyfunc.load_model("models:/<name>@production")``: the first load, then ``--loads`` more (the warm
   figure: MLflow has no model cache, every load deserializes); ``mlflow.sklearn.load_model`` the same way;
   ``predict`` on 100 rows (``--predicts``) with the pyfunc model, and a digest of its predictions.

Before the first case, one untimed log_model (explicit requirements, first case) loads MLflow's lazy modules,
so no timed figure pays them; its time is recorded as ``first_log_model_ms``. Figures are medians in ms of
``time.perf_counter`` around the one call; every ``<phase>_samples_ms_<case>`` is kept. MLflow's INFO logging
is lowered to WARNING, and the two lines ``register_model`` prints per call go to a buffer, not the terminal.
Each loop stops at its count or at ``--max-seconds`` per phase, whichever comes first, and the output records
how many it did. Progress goes to stderr; the last stdout line is the JSON object (see ``run_json`` in
``bench/_anchor.py``).

Usage (the driver ``bench/registry.py`` runs this; by hand, from the repo root)::

    bench/.venvs/mlflow/bin/python bench/anchors/mlflow_registry.py --workdir /tmp/reg [--log-repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MLFLOW_PACKAGES = ["mlflow==3.17.2"]

CASES = ("logreg", "forest")
NUMERIC = [f"num{i}" for i in range(6)]
CATEGORICAL = ["region", "plan"]
ALIAS = "production"
EXAMPLE_ROWS = 5
PREDICT_ROWS = 100
SEED = 20261101


# --- the workload: shared with bench/registry.py (it imports these) -----------------------------------------
def make_frame(rows: int, seed: int = SEED) -> tuple[Any, Any]:
    """A seeded frame: 6 numeric columns, 2 string columns; a binary target that depends on both."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(loc=i, scale=1 + i / 3, size=rows) for i, name in enumerate(NUMERIC)})
    frame["region"] = rng.choice(["north", "south", "east", "west", "centre"], size=rows)
    frame["plan"] = rng.choice([f"plan-{i:02d}" for i in range(12)], size=rows)
    score = (
        frame["num0"]
        - 0.5 * (frame["num1"] - 1)
        + 0.3 * (frame["num2"] - 2) * (frame["num3"] - 3) / 4
        + (frame["region"] == "north") * 0.8
        - (frame["plan"].isin(["plan-03", "plan-07", "plan-11"])) * 0.9
        + rng.normal(scale=0.7, size=rows)
    )
    target = (score > 0.2).astype("int64").to_numpy()
    return frame, target


def make_model(case: str) -> Any:
    """The unfitted pipeline of one case: scaling + one-hot encoding, then the classifier."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    if case == "logreg":
        classifier: Any = LogisticRegression(max_iter=1000)
    elif case == "forest":
        classifier = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0)
    else:
        raise ValueError(f"unknown case {case!r}; expected one of {CASES}")
    return Pipeline([("prep", prep), ("clf", classifier)])


def fit_models(rows: int) -> tuple[Any, dict[str, Any]]:
    """The frame and every case's pipeline fitted on it."""
    frame, target = make_frame(rows)
    return frame, {case: make_model(case).fit(frame, target) for case in CASES}


def requirements() -> list[str]:
    """The explicit requirements both tools get in the explicit variant: the installed scikit-learn, pinned."""
    import sklearn

    return [f"scikit-learn=={sklearn.__version__}"]


def prediction_digest(predictions: Any) -> dict[str, Any]:
    """Positives and a short digest of the predicted labels: both tools must predict the same."""
    import numpy as np

    labels = np.asarray(predictions).ravel().astype("int64")
    return {"positives": int(labels.sum()), "sha256": hashlib.sha256(labels.tobytes()).hexdigest()[:16]}


def library_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    return {"scikit-learn": sklearn.__version__, "pandas": pandas.__version__, "numpy": numpy.__version__}


# ------------------------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[mlflow-anchor] {message}", file=sys.stderr, flush=True)


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


def _trusted_types(model: Any) -> list[str]:
    """The types skops refuses to load from ``model``: what ``skops_trusted_types`` must name."""
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def phase_log(
    case: str, model: Any, frame: Any, experiment_id: str, args: argparse.Namespace
) -> tuple[dict[str, Any], Any]:
    """log_model with defaults, then with explicit requirements, each call in a run of its own.

    When the defaults fail (the first call), the error is recorded and every call from then on, in both
    variants, passes what the model needs; the failed call is not a sample.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    out: dict[str, Any] = {}
    needed: dict[str, Any] = {}
    example = frame.head(EXAMPLE_ROWS)

    def log(**options: Any) -> tuple[float, Any]:
        with mlflow.start_run(experiment_id=experiment_id):
            started = time.perf_counter()
            info = mlflow.sklearn.log_model(model, name="model", input_example=example, **needed, **options)
            return _ms_since(started), info

    samples: list[float] = []
    info: Any = None
    for _ in _bounded(f"{case} log defaults", args.log_repeats, args.max_seconds):
        try:
            ms, info = log()
        except MlflowException as exc:
            if needed:
                raise
            needed["skops_trusted_types"] = _trusted_types(model)
            out[f"log_defaults_error_{case}"] = str(exc).strip()
            out[f"log_defaults_needed_{case}"] = ", ".join(f"{k}={v!r}" for k, v in needed.items())
            _log(f"{case}: log_model with defaults FAILED: {str(exc).splitlines()[0][:200]}")
            _log(f"{case}: measuring with {out[f'log_defaults_needed_{case}']} from now on")
            ms, info = log()
        samples.append(ms)
    out |= _figure("log_defaults", case, samples) | {f"model_uri_{case}": info.model_uri}

    pip_requirements = requirements()
    explicit: list[float] = []
    for _ in _bounded(f"{case} log explicit", args.explicit_repeats, args.max_seconds):
        explicit.append(log(pip_requirements=pip_requirements)[0])
    out |= _figure("log_explicit", case, explicit) | {"requirements": pip_requirements}
    _log(
        f"{case}: log_model defaults {out[f'log_defaults_ms_{case}']:,.0f} ms (median of {len(samples)}), "
        f"explicit requirements {out[f'log_explicit_ms_{case}']:,.1f} ms (median of {len(explicit)})"
    )
    return out, info


@contextlib.contextmanager
def _without_registration_chatter() -> Iterator[None]:
    """Keep ``register_model``'s two lines per call ("Created version ...") out of stderr; pass the rest on.

    MLflow still prints them (into a buffer), so the timed work is unchanged.
    """
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    finally:
        chatter = re.compile(r"^(Successfully registered model|Registered model .* already exists|Created version)")
        for line in buffer.getvalue().splitlines():
            if not chatter.match(line):
                print(line, file=sys.stderr)


def phase_registry(case: str, info: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Register versions, set the alias, then search the versions."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    name = f"bench-{case}"
    versions: list[int] = []
    samples: list[float] = []
    with _without_registration_chatter():
        for _ in _bounded(f"{case} register", args.registrations, args.max_seconds):
            started = time.perf_counter()
            version = mlflow.register_model(info.model_uri, name)
            samples.append(_ms_since(started))
            versions.append(int(version.version))
    out = _figure("register", case, samples) | {f"registered_versions_{case}": len(versions)}

    samples = []
    for i in _bounded(f"{case} alias", args.alias_repeats, args.max_seconds):
        target = versions[i % len(versions)]
        started = time.perf_counter()
        client.set_registered_model_alias(name, ALIAS, target)
        samples.append(_ms_since(started))
    out |= _figure("alias", case, samples)
    client.set_registered_model_alias(name, ALIAS, versions[-1])  # the loads read this one

    samples, found = _repeat(
        f"{case} search",
        args.searches,
        args.max_seconds,
        lambda: client.search_model_versions(filter_string=f"name='{name}'", max_results=len(versions)),
    )
    out |= _figure("search", case, samples) | {f"search_found_{case}": len(list(found or []))}
    _log(
        f"{case}: register {out[f'register_ms_{case}']:.1f} ms, alias {out[f'alias_ms_{case}']:.1f} ms, "
        f"search {out[f'search_ms_{case}']:.1f} ms ({out[f'search_found_{case}']} of {len(versions)} versions)"
    )
    return out


def phase_load(case: str, frame: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Load by alias (pyfunc, then the sklearn flavor), predict 100 rows."""
    import mlflow.pyfunc
    import mlflow.sklearn

    uri = f"models:/bench-{case}@{ALIAS}"
    started = time.perf_counter()
    mlflow.pyfunc.load_model(uri)
    out: dict[str, Any] = {f"load_first_ms_{case}": _ms_since(started)}
    samples, predictor = _repeat(f"{case} load", args.loads, args.max_seconds, lambda: mlflow.pyfunc.load_model(uri))
    out |= _figure("load", case, samples)

    mlflow.sklearn.load_model(uri)  # first load of the flavor, untimed
    samples, _ = _repeat(f"{case} sklearn load", args.loads, args.max_seconds, lambda: mlflow.sklearn.load_model(uri))
    out |= _figure("load_sklearn", case, samples)

    rows = frame.head(PREDICT_ROWS)
    samples, predictions = _repeat(f"{case} predict", args.predicts, args.max_seconds, lambda: predictor.predict(rows))
    out |= _figure("predict_100", case, samples) | {f"predictions_{case}": prediction_digest(predictions)}
    _log(
        f"{case}: load first {out[f'load_first_ms_{case}']:.0f} ms, warm {out[f'load_ms_{case}']:.1f} ms "
        f"(sklearn flavor {out[f'load_sklearn_ms_{case}']:.1f} ms), predict 100 {out[f'predict_100_ms_{case}']:.2f} ms"
    )
    return out


def _clean_workdir(workdir: Path) -> None:
    """Remove only what an earlier run of this script wrote."""
    import shutil

    for name in ("mlflow.db", "mlflow.db-wal", "mlflow.db-shm", "mlflow.db-journal"):
        (workdir / name).unlink(missing_ok=True)
    shutil.rmtree(workdir / "mlartifacts", ignore_errors=True)


def _quiet_mlflow() -> None:
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column.*")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=5000, help="rows of the training frame")
    parser.add_argument("--log-repeats", type=int, default=5, help="log_model calls with defaults, per case")
    parser.add_argument("--explicit-repeats", type=int, default=10, help="log_model calls with explicit reqs")
    parser.add_argument("--registrations", type=int, default=50, help="versions registered per case")
    parser.add_argument("--alias-repeats", type=int, default=20)
    parser.add_argument("--loads", type=int, default=10, help="warm loads after the first one")
    parser.add_argument("--predicts", type=int, default=20)
    parser.add_argument("--searches", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time bound of each phase")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Telemetry off: it would only add background work to the anchor (and there is no network for it anyway).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    args.workdir.mkdir(parents=True, exist_ok=True)
    _clean_workdir(args.workdir)

    started = time.perf_counter()
    frame, models = fit_models(args.rows)
    _log(f"fitted {', '.join(CASES)} on {args.rows:,} rows in {time.perf_counter() - started:.1f} s")

    import mlflow
    import mlflow.sklearn

    _quiet_mlflow()
    mlflow.set_tracking_uri(f"sqlite:///{args.workdir / 'mlflow.db'}")
    # Creating the experiment builds the schema (Alembic migrations): setup, not timed.
    experiment_id = mlflow.create_experiment("bench", artifact_location=(args.workdir / "mlartifacts").as_uri())
    warm = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.sklearn.log_model(
            models[CASES[0]], name="model", input_example=frame.head(EXAMPLE_ROWS), pip_requirements=requirements()
        )
    out: dict[str, Any] = {
        "tool": "mlflow",
        "version": mlflow.__version__,
        "python": platform.python_version(),
        "libraries": library_versions(),
        "backend": "sqlite + local artifact root, in-process client",
        "sizes": {
            k: getattr(args, k)
            for k in (
                "rows",
                "log_repeats",
                "explicit_repeats",
                "registrations",
                "alias_repeats",
                "loads",
                "predicts",
                "searches",
            )
        },
        "first_log_model_ms": _ms_since(warm),
    }
    _log(f"mlflow {mlflow.__version__} ready in {time.perf_counter() - started:.1f} s (fit, import, schema, warm-up)")
    for case in CASES:
        logged, info = phase_log(case, models[case], frame, experiment_id, args)
        out |= logged
        out |= phase_registry(case, info, args)
        out |= phase_load(case, frame, args)
    out["total_s"] = time.perf_counter() - started
    print(json.dumps(out))


if __name__ == "__main__":
    main()
