"""DVC pipeline anchor: run INSIDE the DVC pipeline venv (bench/.venvs/dvc-pipeline), prints one JSON object.

The venv holds the DVC of the data benchmark (``DVC_PACKAGES`` of ``bench/anchors/dvc_data.py``: dvc==3.67.1,
dvc-s3==3.3.0) plus the workload's libraries (``LIBRARIES`` of ``bench/pipeline_work.py``: numpy, pandas,
pyarrow, scipy, scikit-learn), pinned to the versions of the project's venv so that both tools compute the same
numbers; ``bench/pipelines.py`` builds that list (``PIPELINE_PACKAGES``) and creates the venv. It is a venv of
its own so that ``bench/.venvs/dvc`` keeps exactly the data benchmark's packages.

The pipeline is ``bench/pipeline_work.py``'s prepare -> train -> evaluate as a user writes it for DVC: three
stage scripts (``stages/*.py``, written into the repo) that read their parameters from ``params.yaml``, import
``pipeline_work`` (its folder is on ``PYTHONPATH`` in each stage's ``cmd``; it is not a dependency of the
stages: it is outside the repo) and exchange files: prepare writes ``data.parquet``, train reads it and writes
``model.pkl`` (pickle), evaluate reads both and writes ``metrics.json`` (a DVC metric, ``cache: false``). Each
stage depends on its script, its inputs and its parameters (``prepare.rows``/``prepare.seed``,
``train.max_depth``, ``evaluate.threshold``). The stages run with this venv's python.

Measured with the ``dvc`` CLI of this venv, one subprocess per command as a user types them, in a fresh git +
DVC repo (``--workdir``/``repo``; DVC's global/system config and site cache in ``--workdir``/``dvc-home``):
every run of ``pipeline_work.schedule(rows)`` in order, each one ``dvc repro`` after writing that run's
``params.yaml`` (untimed, as an editor saves it):

- ``first``: the first ``dvc repro`` (all three stages run), then ``git commit`` of the pipeline (untimed);
- ``noop``: ``dvc repro`` with nothing changed, 5 times (median and samples);
- ``last_param``: after changing ``evaluate.threshold`` (only evaluate runs), 3 new values (median);
- ``train_param``: after changing ``train.max_depth`` (train and evaluate run), 3 new values (median).

Each run records the stages DVC ran (its ``Running stage '...'`` lines) and checks them against the schedule's
``reruns``, the seconds each stage script spent from its first line to its last (``stage-times.jsonl``, written
by the stages; not a DVC file), and the metrics it produced. After the first run the anchor also reads
``data.parquet`` back (untimed) for its ``pipeline_work.digest``. Only the ``dvc repro`` commands are timed
(``time.perf_counter`` around Popen + communicate, after an untimed ``os.sync()``: the helpers of
``dvc_data.py``). Each phase is bounded by ``--max-seconds``; see ``dvc_data.py`` for ``errors``,
``cut_short`` and ``skipped``.

Usage (from the repo root)::

    bench/.venvs/dvc-pipeline/bin/python bench/anchors/dvc_pipeline.py --workdir WORK [--rows 200000]
        [--max-seconds 300] [--workload-dir bench]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from dvc_data import (  # this script runs with bench/anchors as sys.path[0]
    DVC_PACKAGES,
    Context,
    Phase,
    PhaseError,
    Report,
    _dvc_command,
    _environment,
    _excerpt,
    _filesystem,
    new_repo,
)

_WORK_NAMES = ("repo", "dvc-home")
_TIMES = "stage-times.jsonl"
_RUNNING = re.compile(r"Running stage '([^']+)'")
Result = dict[str, Any]

_STAGE_SCRIPT = '''\
"""DVC stage {name} of the pipeline benchmark (written by bench/anchors/dvc_pipeline.py)."""

import time

_started = time.perf_counter()

import json
import pickle

import pandas as pd
import pipeline_work as work
import yaml
{imports}

_imported = time.perf_counter()

with open("params.yaml") as handle:
    params = yaml.safe_load(handle)
{body}
record = {{"stage": "{name}", "s": time.perf_counter() - _started, "import_s": _imported - _started}}
with open("{times}", "a") as handle:
    handle.write(json.dumps(record) + "\\n")
'''

_STAGE_IMPORTS = {  # what each stage computes with, imported up front as a user's script does
    "prepare": "import numpy",
    "train": "import sklearn.ensemble",
    "evaluate": "import sklearn.ensemble\nimport sklearn.metrics",
}

_STAGE_BODIES = {
    "prepare": """
frame = work.prepare(rows=params["prepare"]["rows"], seed=params["prepare"]["seed"])
frame.to_parquet("data.parquet", index=False)
""",
    "train": """
frame = pd.read_parquet("data.parquet")
model = work.train(frame, max_depth=params["train"]["max_depth"])
with open("model.pkl", "wb") as handle:
    pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
""",
    "evaluate": """
frame = pd.read_parquet("data.parquet")
with open("model.pkl", "rb") as handle:
    model = pickle.load(handle)
metrics = work.evaluate(model, frame, threshold=params["evaluate"]["threshold"])
with open("metrics.json", "w") as handle:
    json.dump(metrics, handle, indent=1)
""",
}

# name -> (deps besides its script, params, outs as dvc.yaml lines)
_STAGES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "prepare": ([], ["prepare.rows", "prepare.seed"], ["    outs:", "      - data.parquet"]),
    "train": (["data.parquet"], ["train.max_depth"], ["    outs:", "      - model.pkl"]),
    "evaluate": (
        ["data.parquet", "model.pkl"],
        ["evaluate.threshold"],
        ["    metrics:", "      - metrics.json:", "          cache: false"],
    ),
}


def _log(message: str) -> None:
    print(f"[dvc-pipeline] {message}", file=sys.stderr, flush=True)


def _yaml_params(params: dict[str, dict[str, Any]]) -> str:
    """``params.yaml`` for the nested dict of scalars (JSON scalars are YAML scalars)."""
    lines = []
    for section, values in params.items():
        lines.append(f"{section}:")
        lines += [f"  {key}: {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _dvc_yaml(python: str, workload_dir: Path) -> str:
    lines = ["stages:"]
    for name, (deps, params, outs) in _STAGES.items():
        cmd = f"PYTHONPATH={shlex.quote(str(workload_dir))} {shlex.quote(python)} stages/{name}.py"
        lines += [f"  {name}:", f"    cmd: {json.dumps(cmd)}", "    deps:", f"      - stages/{name}.py"]
        lines += [f"      - {dep}" for dep in deps]
        lines += ["    params:", *(f"      - {param}" for param in params), *outs]
    return "\n".join(lines) + "\n"


def write_pipeline(ctx: Context, workload_dir: Path, params: dict[str, dict[str, Any]]) -> None:
    """The user's files: stage scripts, dvc.yaml, params.yaml, .gitignore; committed. Untimed."""
    repo = ctx.repo
    (repo / "stages").mkdir()
    for name, body in _STAGE_BODIES.items():
        script = _STAGE_SCRIPT.format(name=name, imports=_STAGE_IMPORTS[name], body=body, times=_TIMES)
        (repo / "stages" / f"{name}.py").write_text(script)
    # sys.executable, not resolved: the venv's bin/python, so the stages run in this venv
    (repo / "dvc.yaml").write_text(_dvc_yaml(str(Path(sys.executable).absolute()), workload_dir))
    (repo / "params.yaml").write_text(_yaml_params(params))
    with (repo / ".gitignore").open("a") as handle:
        handle.write(f"/{_TIMES}\n")
    ctx.git("add", "-A")
    ctx.git("commit", "-q", "-m", "pipeline")


def _stage_times(repo: Path) -> tuple[dict[str, float], dict[str, float]]:
    """({stage: seconds from its script's first line to its last}, {stage: seconds of those in its imports})."""
    path = repo / _TIMES
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    return {r["stage"]: r["s"] for r in records}, {r["stage"]: r["import_s"] for r in records}


def _metrics(repo: Path) -> Result | None:
    try:
        metrics: Result = json.loads((repo / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    return metrics


def repro(ctx: Context, res: Result, run: Any) -> float:
    """Write ``run.params`` (untimed), time one ``dvc repro``, record it in ``res["runs"]``; return the seconds."""
    params_file = ctx.repo / "params.yaml"
    text = _yaml_params(run.params)
    if params_file.read_text() != text:
        params_file.unlink()  # a fresh file, as an editor saves it
        params_file.write_text(text)
    (ctx.repo / _TIMES).unlink(missing_ok=True)
    seconds, output = ctx.dvc_timed("repro")
    ran = _RUNNING.findall(output)
    stage_s, import_s = _stage_times(ctx.repo)
    record = {
        "phase": run.phase,
        "s": seconds,
        "ran": ran,
        "expected": list(run.reruns),
        "stage_s": stage_s,
        "stage_import_s": import_s,
        "metrics": _metrics(ctx.repo),
        "params": run.params,
    }
    res.setdefault("runs", []).append(record)
    _log(
        f"{run.phase}: dvc repro {seconds:.2f} s, ran {', '.join(ran) or 'nothing'} "
        f"({sum(stage_s.values()):.2f} s inside the stages, {sum(import_s.values()):.2f} s of it imports)"
    )
    if ran != list(run.reruns):
        res.setdefault("unexpected_runs", []).append({"phase": run.phase, "ran": ran, "expected": list(run.reruns)})
        raise PhaseError(f"dvc repro ran {ran}, expected {list(run.reruns)}: {_excerpt(output)}")
    return seconds


def phase_first(ctx: Context, res: Result, work: ModuleType, workload_dir: Path, rows: int) -> None:
    runs = work.schedule(rows)
    new_repo(ctx, ctx.repo)
    write_pipeline(ctx, workload_dir, runs[0].params)
    res["first_s"] = repro(ctx, res, runs[0])
    res["first_stage_s"] = res["runs"][-1]["stage_s"]
    res["first_stage_import_s"] = res["runs"][-1]["stage_import_s"]
    ctx.git("add", "-A")
    ctx.git("commit", "-q", "-m", "first run")
    code = (
        f"import sys; sys.path.insert(0, {str(workload_dir)!r}); import pandas, pipeline_work as w; "
        "print(w.digest(pandas.read_parquet('data.parquet')))"
    )
    digest = ctx.run([sys.executable, "-c", code], ctx.repo)[1]
    res["data_digest"] = digest.strip()
    res["data_bytes"] = (ctx.repo / "data.parquet").stat().st_size
    res["model_bytes"] = (ctx.repo / "model.pkl").stat().st_size


def phase_runs(ctx: Context, res: Result, runs: list[Any], key: str) -> None:
    """Time every run of one phase; ``key``_s is the median, ``key``_samples all of them."""
    samples: list[float] = []
    res[f"{key}_samples"] = samples
    for run in runs:
        samples.append(repro(ctx, res, run))
        res[f"{key}_s"] = statistics.median(samples)
    _log(f"{key}: median {res[f'{key}_s']:.2f} s of {', '.join(f'{s:.2f}' for s in samples)}")


def phases(work: ModuleType, workload_dir: Path, rows: int) -> list[Phase]:
    runs = work.schedule(rows)

    def of(phase: str) -> list[Any]:
        return [run for run in runs if run.phase == phase]

    return [
        Phase("first", lambda ctx, res: phase_first(ctx, res, work, workload_dir, rows)),
        Phase("noop", lambda ctx, res: phase_runs(ctx, res, of("noop"), "noop"), ("first",)),
        Phase("last_param", lambda ctx, res: phase_runs(ctx, res, of("last_param"), "last_param"), ("first",)),
        Phase("train_param", lambda ctx, res: phase_runs(ctx, res, of("train_param"), "train_param"), ("first",)),
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, required=True, help="scratch folder (emptied of earlier runs)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the prepared frame")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="time bound of each phase")
    parser.add_argument(
        "--workload-dir",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="the folder of pipeline_work.py (default: bench/)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    workdir, workload_dir = args.workdir.resolve(), args.workload_dir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for name in _WORK_NAMES:  # only what an earlier run of this script wrote
        shutil.rmtree(workdir / name, ignore_errors=True)
    env = _environment(workdir)
    env.pop("PYTHONPATH", None)  # DVC itself runs without the workload folder; the stages get it in their cmd
    ctx = Context(dvc=_dvc_command(), env=env, source=workload_dir, workdir=workdir, max_seconds=args.max_seconds)
    report = Report(out={"tool": "dvc", "python": platform.python_version(), "rows": args.rows})
    try:
        sys.path.insert(0, str(workload_dir))
        import pipeline_work as work

        report.out["dvc_version"] = ctx.dvc_timed("--version", cwd=workdir)[1].strip()
        report.out |= {
            "libraries": work.library_versions(),
            "dvc_packages": DVC_PACKAGES,
            "filesystem": _filesystem(workdir),
            "cpus": os.cpu_count(),
            "workdir": str(workdir),
        }
        _log(f"dvc {report.out['dvc_version']}: 3-stage pipeline on {args.rows:,} rows in {ctx.repo}")
        for phase in phases(work, workload_dir, args.rows):
            report.run(ctx, phase)
    except Exception as exc:  # setup failed (no dvc, no workload): still print a JSON object
        report.errors["setup"] = f"{type(exc).__name__}: {exc}"
        _log(f"setup FAILED: {report.errors['setup']}")
    report.finish(started)


if __name__ == "__main__":
    main()
