"""`modelyard pipeline ...` and `modelyard init --ci github`: run, show, graph, resume, sweep; exit codes for CI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from tests.cli.conftest import Invoke

FLOW = """
from pathlib import Path

import modelyard as my
from modelyard.pipelines.gates import GateCheck, GateReport


@my.step
def prepare(rows: int = 5) -> list:
    return list(range(rows))


@my.step
def train(data: list, depth: int = 3, flag: str = "") -> dict:
    if flag and Path(flag).exists():
        raise RuntimeError("train is broken: " + Path(flag).read_text())
    return {"depth": depth, "total": sum(data)}


@my.step
def evaluate(model: dict, threshold: float = 0.5) -> dict:
    return {"score": model["total"] * threshold - abs(model["depth"] - 6)}


@my.step
def gate(model: dict, minimum: float = 0.0) -> GateReport:
    passed = model["total"] >= minimum
    check = GateCheck(name="total", passed=passed, detail="total of the data", observed=model["total"], limit=minimum)
    return GateReport(passed=passed, checks=(check,), baseline=None)


@my.pipeline
def flow(rows: int = 5, flag: str = ""):
    data = prepare(rows)
    model = train(data, flag=flag)
    evaluate(model)


@my.pipeline
def gated(rows: int = 5, minimum: float = 0.0):
    model = train(prepare(rows))
    gate(model, minimum=minimum)


@my.pipeline
def broken(rows: int = 5):
    train(prepare(rows), depth="deep")
"""


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "flow.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    return path


def _json(text: str) -> dict:
    return json.loads(text)


def test_run_prints_steps_and_a_second_run_is_all_cache_hits(invoke: Invoke, flow_file: Path) -> None:
    first = invoke("pipeline", "run", f"{flow_file}:flow", "--runner", "inline")
    assert first.exit_code == 0, first.stderr
    for name in ("prepare", "train", "evaluate"):
        assert name in first.stdout
    again = invoke("pipeline", "run", f"{flow_file}:flow", "--runner", "inline", "--json")
    assert again.exit_code == 0
    record = _json(again.stdout)
    assert [s["cache_hit"] for s in record["steps"]] == [True, True, True]
    assert record["succeeded"] is True


def test_set_config_and_force_choose_what_runs(invoke: Invoke, flow_file: Path, tmp_path: Path) -> None:
    assert invoke("pipeline", "run", f"{flow_file}:flow", "--runner", "inline").exit_code == 0
    changed = _json(
        invoke(
            "pipeline", "run", f"{flow_file}:flow", "--runner", "inline", "--set", "evaluate.threshold=0.9", "--json"
        ).stdout
    )
    assert [s["cache_hit"] for s in changed["steps"]] == [True, True, False]
    config = tmp_path / "params.toml"
    config.write_text("rows = 7\n[train]\ndepth = 6\n[run]\nrunner = 'inline'\n", encoding="utf-8")
    configured = _json(invoke("pipeline", "run", f"{flow_file}:flow", "--config", str(config), "--json").stdout)
    assert [s["cache_hit"] for s in configured["steps"]] == [False, False, False]
    forced = _json(
        invoke("pipeline", "run", f"{flow_file}:flow", "--config", str(config), "--force", "train", "--json").stdout
    )
    # train runs again; its output is the same, so evaluate (same input digest) is still a cache hit
    assert [s["cache_hit"] for s in forced["steps"]] == [True, False, True]
    assert forced["steps"][1]["outputs"][0]["digest"] == configured["steps"][1]["outputs"][0]["digest"]


def test_a_failing_step_exits_1_and_resume_reuses_what_finished(
    invoke: Invoke, flow_file: Path, tmp_path: Path
) -> None:
    flag = tmp_path / "broken.txt"
    flag.write_text("disk full", encoding="utf-8")
    failed = invoke("pipeline", "run", f"{flow_file}:flow", "--runner", "inline", "--set", f"flag={flag}")
    assert failed.exit_code == 1
    assert "Error [step-failed]" in failed.stderr
    assert "train is broken: disk full" in failed.stderr
    assert "modelyard pipeline resume" in failed.stderr
    run_id = failed.stderr.split("modelyard pipeline resume ")[1].split()[0]
    shown = _json(invoke("pipeline", "show", run_id[:10], "--json").stdout)
    assert [s["status"] for s in shown["steps"]] == ["succeeded", "failed", "skipped"]
    flag.unlink()
    resumed = invoke("pipeline", "resume", run_id, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    record = _json(resumed.stdout)
    assert record["resumed_from"] == run_id
    assert [(s["status"], s["cache_hit"]) for s in record["steps"]] == [
        ("cached", True),
        ("succeeded", False),
        ("succeeded", False),
    ]
    done = invoke("pipeline", "resume", record["id"])
    assert done.exit_code == 2
    assert "nothing to resume" in done.stderr


def test_a_failed_gate_exits_1_with_the_report(invoke: Invoke, flow_file: Path) -> None:
    passed = invoke("pipeline", "run", f"{flow_file}:gated", "--runner", "inline")
    assert passed.exit_code == 0
    assert "gates: passed" in passed.stderr
    failed = invoke("pipeline", "run", f"{flow_file}:gated", "--runner", "inline", "--set", "gate.minimum=100")
    assert failed.exit_code == 1
    assert "gates: FAILED" in failed.stderr
    assert "FAIL  total" in failed.stderr
    assert "Error [gate-failed]" in failed.stderr
    assert "gate 'gate' (total) failed" in failed.stderr


def test_a_definition_error_names_the_step_and_input_before_running(invoke: Invoke, flow_file: Path) -> None:
    done = invoke("pipeline", "run", f"{flow_file}:broken", "--runner", "inline")
    assert done.exit_code == 1
    assert "Error [pipeline]" in done.stderr
    assert "step 'train' input 'depth' wants int, got 'deep'" in done.stderr
    unknown = invoke("pipeline", "run", f"{flow_file}:flow", "--set", "trian.depth=3")
    assert "did you mean 'train'" in unknown.stderr.lower()
    missing = invoke("pipeline", "run", f"{flow_file}:nope")
    assert missing.exit_code == 2
    assert "has no 'nope'" in missing.stderr


def test_list_shows_pipeline_runs_newest_first(invoke: Invoke, flow_file: Path) -> None:
    empty = invoke("pipeline", "list")
    assert empty.exit_code == 0
    assert "No pipeline runs yet" in empty.stderr
    first = _json(invoke("pipeline", "run", f"{flow_file}:flow", "--runner", "inline", "--json").stdout)
    second = _json(invoke("pipeline", "run", f"{flow_file}:gated", "--runner", "inline", "--json").stdout)
    listed = _json(invoke("pipeline", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    assert listed[0]["gates"] == "passed"
    assert listed[1]["cache_hits"] == "0"
    only = _json(invoke("pipeline", "list", "flow", "--json").stdout)
    assert [r["id"] for r in only] == [first["id"]]
    table = invoke("pipeline", "list")
    assert first["id"][:8] in table.stdout
    assert "succeeded" in table.stdout


def test_graph_as_text_dot_and_from_a_run(invoke: Invoke, flow_file: Path, tmp_path: Path) -> None:
    text = invoke("pipeline", "graph", f"{flow_file}:flow")
    assert text.exit_code == 0
    assert "train -> [output]" in text.stdout
    assert "from  data<-prepare" in text.stdout
    dot = invoke("pipeline", "graph", f"{flow_file}:flow", "--format", "dot", "-o", str(tmp_path / "g.dot"))
    assert dot.exit_code == 0
    assert '"prepare" -> "train" [label="data"];' in (tmp_path / "g.dot").read_text()
    run = _json(invoke("pipeline", "run", f"{flow_file}:flow", "--runner", "inline", "--json").stdout)
    from_run = invoke("pipeline", "graph", run["id"], "--format", "dot")
    assert '"train" -> "evaluate"' in from_run.stdout
    svg = invoke("pipeline", "graph", f"{flow_file}:flow", "--format", "svg", "-o", str(tmp_path / "g.svg"))
    assert svg.exit_code == 0
    drawing = ElementTree.parse(tmp_path / "g.svg").getroot()  # well-formed XML
    assert drawing.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in drawing.iter("{http://www.w3.org/2000/svg}text")]
    assert {"prepare", "train", "evaluate", "data", "model"} <= set(texts)  # steps and the inputs on the edges
    assert len(list(drawing.iter("{http://www.w3.org/2000/svg}path"))) == 3  # the arrowhead, and 2 data edges
    from_run_svg = invoke("pipeline", "graph", run["id"], "--format", "svg")
    assert from_run_svg.stdout.startswith("<svg")


def test_sweep_reports_the_best_trial(invoke: Invoke, flow_file: Path) -> None:
    done = invoke(
        "pipeline", "sweep", f"{flow_file}:flow", "--grid", "train.depth=4,6,8", "--metric", "evaluate.score",
        "--runner", "inline", "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    result = _json(done.stdout)
    assert len(result["trials"]) == 3
    best = next(t for t in result["trials"] if t["number"] == result["best"])
    assert best["params"] == {"train.depth": 6}
    assert all(t["run_id"] for t in result["trials"])
    bad = invoke("pipeline", "sweep", f"{flow_file}:flow", "--range", "train.depth=9:3", "--metric", "evaluate.score")
    assert bad.exit_code == 2
    assert "LOW < HIGH" in bad.stderr


def test_init_writes_a_github_workflow_that_runs_the_pipeline(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    monkeypatch.chdir(project)
    done = invoke(
        "init", "--ci", "github", "--pipeline", "train.py:training", "--config", "params.toml", "--extras", "sklearn"
    )
    assert done.exit_code == 0, done.stderr
    workflow = yaml.safe_load((project / ".github/workflows/modelyard.yml").read_text())
    steps = workflow["jobs"]["pipeline"]["steps"]
    commands = "\n".join(str(s.get("run", "")) for s in steps)
    assert "pip install -e '.[sklearn]'" in commands
    assert "modelyard pipeline run train.py:training --config params.toml --json" in commands
    assert workflow["jobs"]["pipeline"]["env"]["MODELYARD_URI"] == "${{ secrets.MODELYARD_URI }}"
    again = invoke("init", "--ci", "github", "--pipeline", "train.py:training")
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    assert invoke("init", "--ci", "github", "--pipeline", "train.py:training", "--force").exit_code == 0
