"""Pipeline definitions: traced graphs that follow the data, checks before anything runs, params, drawings."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import CycleError, InvalidInputError, PipelineError
from modelyard.pipelines.definitions import Pipeline
from modelyard.pipelines.graphs import Upstream
from modelyard.pipelines.steps import StepOutput
from tests.pipelines import flows

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator


@my.step
def count_rows(frame: pd.DataFrame) -> int:
    return len(frame)


@my.step
def halves(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    middle = len(frame) // 2
    return frame.iloc[:middle], frame.iloc[middle:]


@my.step(outputs=("train", "test"))
def split(frame: pd.DataFrame, ratio: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = int(len(frame) * ratio)
    return frame.iloc[:cut], frame.iloc[cut:]


@my.step
def fit(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    return {"train": len(train), "test": len(test)}


@my.step
def knobs(depth: int = 3, lr: float = 0.1, flag: bool = False, layers: list[int] | None = None) -> dict:
    return {"depth": depth, "lr": lr, "flag": flag, "layers": layers}


@my.step
def base(n: int = 1) -> int:
    return n


@my.step
def scaled(base: int, factor: int = 2) -> int:
    return base * factor


@my.step
def ping(pong: int) -> int:
    return pong


@my.step
def pong(ping: int) -> int:
    return ping


@my.step
def split_for(frame: pd.DataFrame, model: BaseEstimator | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A step whose annotations name a type imported only for type checkers."""
    return frame, frame


def assert_nothing_ran(client: Client, pipeline: str, marker: Path) -> None:
    """The definition error came before any run was created or any step body ran."""
    assert pipeline not in [e.name for e in client.list_experiments()]
    assert flows.marks(marker) == []


# -- tracing ---------------------------------------------------------------------------------------------------
def test_the_graph_follows_the_data() -> None:
    graph = flows.training.graph(rows=5)
    assert list(graph.nodes) == ["prepare", "train", "evaluate"]
    assert graph.order == ["prepare", "train", "evaluate"]
    assert graph.nodes["prepare"].upstream == set()
    assert graph.nodes["train"].inputs["frame"] == Upstream("prepare", "output")
    assert graph.nodes["evaluate"].inputs["model"] == Upstream("train", "output")
    assert graph.nodes["evaluate"].inputs["frame"] == Upstream("prepare", "output")
    assert graph.nodes["prepare"].inputs["rows"] == 5  # the pipeline parameter reached the step
    assert graph.nodes["train"].inputs["depth"] == 3  # the step's default
    assert graph.dependents("prepare") == {"train", "evaluate"}
    assert graph.dependents("evaluate") == set()


def test_multiple_outputs_from_a_tuple_annotation_and_from_outputs(local_yard: Client) -> None:
    assert halves.output_names == ("output_0", "output_1")
    assert split.output_names == ("train", "test")

    def flow(rows: int = 10) -> None:
        first, second = halves(flows.prepare(rows))
        fit(first, second)
        train_part, test_part = split(flows.prepare(rows), ratio=0.7)
        fit(train_part, test_part)

    graph = Pipeline(flow).graph()
    assert graph.nodes["fit"].inputs == {
        "train": Upstream("halves", "output_0"),
        "test": Upstream("halves", "output_1"),
    }
    assert graph.nodes["fit_2"].inputs == {"train": Upstream("split", "train"), "test": Upstream("split", "test")}
    run = Pipeline(flow).run(runner="inline", client=local_yard)
    assert len(run.load("split", "train")) == 7
    assert len(run.load("split", "test")) == 3
    assert run.load("fit") == {"train": 5, "test": 5}
    assert run.load("fit_2") == {"train": 7, "test": 3}


def test_outputs_must_name_every_value_of_the_returned_tuple() -> None:
    def three() -> tuple[int, int, int]:
        return 1, 2, 3

    with pytest.raises(InvalidInputError, match=r"declares outputs \('a', 'b'\) but returns 3 values"):
        my.step(outputs=("a", "b"))(three)


def test_calling_a_step_again_gives_it_a_numbered_key() -> None:
    def flow() -> None:
        for rows in (1, 2, 3):
            count_rows(flows.prepare(rows))

    graph = Pipeline(flow).graph()
    assert list(graph.nodes) == ["prepare", "count_rows", "prepare_2", "count_rows_2", "prepare_3", "count_rows_3"]
    assert graph.nodes["count_rows_3"].inputs["frame"] == Upstream("prepare_3", "output")
    assert graph.nodes["prepare_2"].inputs["rows"] == 2


# -- errors before anything runs --------------------------------------------------------------------------------
def test_a_missing_required_input_is_named_before_anything_runs(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    def missing(marker: str) -> None:
        frame = flows.prepare(marker=marker)
        flows.evaluate(frame=frame, marker=marker)  # no model

    with pytest.raises(PipelineError, match=re.escape("step 'evaluate' input 'model' is not provided")):
        Pipeline(missing).run(runner="inline", client=local_yard, marker=str(marker))
    assert_nothing_ran(local_yard, "missing", marker)


def test_an_output_type_that_does_not_fit_the_input_is_named(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    def mismatched(marker: str) -> None:
        rows = count_rows(flows.prepare(marker=marker))
        flows.train(rows, marker=marker)  # an int where a DataFrame is wanted

    expected = "step 'train' input 'frame' wants DataFrame, but step 'count_rows' output 'output' is int"
    with pytest.raises(PipelineError, match=re.escape(expected)):
        Pipeline(mismatched).run(runner="inline", client=local_yard, marker=str(marker))
    assert_nothing_ran(local_yard, "mismatched", marker)


def test_a_literal_of_the_wrong_type_is_named(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    def literal(marker: str) -> None:
        flows.train(flows.prepare(marker=marker), depth="deep", marker=marker)

    with pytest.raises(PipelineError, match=re.escape("step 'train' input 'depth' wants int, got 'deep'")):
        Pipeline(literal).run(runner="inline", client=local_yard, marker=str(marker))
    with pytest.raises(PipelineError, match=re.escape("step 'train' input 'depth' wants int, got 'deep'")):
        flows.training.run(runner="inline", client=local_yard, overrides=["train.depth=deep"], marker=str(marker))
    assert_nothing_ran(local_yard, "literal", marker)
    assert_nothing_ran(local_yard, "training", marker)


@pytest.mark.parametrize(
    ("how", "expected", "hint"),
    [
        (
            {"config": {"trian": {"depth": 4}}},
            "config names step 'trian', which the pipeline does not call. Did you mean 'train'?",
            None,
        ),
        (
            {"overrides": ["train.dpeth=4"]},
            "config sets train.dpeth, but step 'train' has no parameter 'dpeth'. Did you mean 'depth'?",
            None,
        ),
        (
            {"overrides": ["rwos=4"]},
            "Pipeline parameter 'rwos' is not a parameter of the pipeline function.",
            "Did you mean 'rows'?",
        ),
        (
            {"overrides": ["train.frame=4"]},
            "config sets train.frame, but that input is the output of step 'prepare'.",
            None,
        ),
        ({"overrides": ["run.runnr=inline"]}, "Unknown run setting 'run.runnr'.", None),
    ],
    ids=["unknown-step", "unknown-param", "unknown-pipeline-param", "override-of-a-step-output", "unknown-run-key"],
)
def test_config_that_names_nothing_real_is_refused(
    local_yard: Client, tmp_path: Path, how: dict[str, Any], expected: str, hint: str | None
) -> None:
    marker = tmp_path / "marker"
    with pytest.raises(PipelineError, match=re.escape(expected)) as caught:
        flows.training.run(runner="inline", client=local_yard, marker=str(marker), **how)
    if hint is not None:
        assert hint in (caught.value.hint or "")
    assert_nothing_ran(local_yard, "training", marker)


def test_a_cycle_of_steps_wired_by_name_is_a_cycle_error() -> None:
    looped = Pipeline.from_steps("looped", [ping, pong])
    with pytest.raises(CycleError, match=r"Pipeline 'looped' has a cycle: (ping -> pong -> ping|pong -> ping -> pong)"):
        looped.graph()


def test_steps_wired_by_name(local_yard: Client) -> None:
    wired = Pipeline.from_steps("wired", [base, scaled])
    graph = wired.graph(**{"scaled.factor": 5})
    assert graph.order == ["base", "scaled"]
    assert graph.nodes["scaled"].inputs == {"base": Upstream("base", "output"), "factor": 5}
    run = wired.run(runner="inline", client=local_yard, **{"base.n": 3, "scaled.factor": 5})
    assert run.load("scaled") == 15


def test_steps_wired_by_name_take_top_level_params() -> None:
    # graphs.from_steps looks a parameter up as "step.name" and then as plain "name", and Pipeline.parameters
    # lists the steps' parameters; a plain name must therefore be accepted, as run(factor=5) or in a config.
    wired = Pipeline.from_steps("wired", [base, scaled])
    assert "factor" in wired.parameters
    assert wired.graph(factor=5).nodes["scaled"].inputs["factor"] == 5
    assert wired.resolve(config={"factor": 5}).pipeline == {"factor": 5}


def _truth(out: StepOutput) -> object:
    return "yes" if out else "no"


def _unpack(out: StepOutput) -> object:
    first, *_ = out
    return first


@pytest.mark.parametrize(
    "use",
    [
        _truth,
        lambda out: out > 1,
        lambda out: out[0],
        _unpack,
        lambda out: len(out),
        lambda out: out + 1,
        lambda out: out * 2,
        lambda out: out >= 1,
        lambda out: out.columns,
    ],
    ids=["if", "greater", "index", "unpack", "len", "add", "multiply", "greater-or-equal", "attribute"],
)
def test_using_a_step_output_as_a_value_is_a_pipeline_error(use: Callable[[StepOutput], object]) -> None:
    def misuse(rows: int = 3) -> None:
        frame = flows.prepare(rows)
        use(frame)

    with pytest.raises(PipelineError, match=r"<output 'output' of step 'prepare'> was used as a value"):
        Pipeline(misuse).graph()


def test_an_annotation_for_type_checkers_only_keeps_the_other_hints() -> None:
    # split_for's `model: BaseEstimator | None` names a type imported under TYPE_CHECKING: it cannot be
    # resolved at run time. That must not cost the step its tuple return (two outputs) and its type checks.
    assert split_for.output_names == ("output_0", "output_1")

    def flow() -> None:
        split_for(count_rows(flows.prepare()))  # an int into a DataFrame input

    with pytest.raises(PipelineError, match=re.escape("step 'split_for' input 'frame' wants DataFrame")):
        Pipeline(flow).graph()


# -- params: config files, --set overrides, keyword arguments ------------------------------------------------
CONFIGS = {
    "toml": 'rows = 12\n\n[train]\ndepth = 5\n\n[evaluate]\nthreshold = 0.75\n\n[run]\nrunner = "inline"\n',
    "yaml": "rows: 12\ntrain:\n  depth: 5\nevaluate:\n  threshold: 0.75\nrun:\n  runner: inline\n",
    "json": json.dumps(
        {"rows": 12, "train": {"depth": 5}, "evaluate": {"threshold": 0.75}, "run": {"runner": "inline"}}
    ),
}


@pytest.mark.parametrize("suffix", sorted(CONFIGS))
def test_config_files(local_yard: Client, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"training.{suffix}"
    path.write_text(CONFIGS[suffix], encoding="utf-8")
    resolved = flows.training.resolve(config=path)
    assert resolved.pipeline == {"rows": 12}
    assert resolved.steps == {"train": {"depth": 5}, "evaluate": {"threshold": 0.75}}
    assert resolved.run == {"runner": "inline"}
    graph = flows.training.graph(resolved)
    assert graph.nodes["prepare"].inputs["rows"] == 12
    assert graph.nodes["train"].inputs["depth"] == 5
    assert graph.nodes["evaluate"].inputs["threshold"] == 0.75

    run = flows.training.run(config=str(path), client=local_yard)  # the config's [run] table picks the runner
    assert local_yard.get_run(run.id).tags["pipeline.runner"] == "inline"
    assert run.load("train") == {"depth": 5, "mean": 5.5, "rows": 12}
    assert run.params["evaluate.threshold"] == 0.75


@pytest.mark.parametrize(
    ("override", "name", "value"),
    [
        ("knobs.depth=4", "depth", 4),
        ("knobs.lr=0.25", "lr", 0.25),
        ("knobs.lr=1e-3", "lr", 0.001),
        ("knobs.flag=true", "flag", True),
        ("knobs.layers=[1, 2]", "layers", [1, 2]),
    ],
    ids=["int", "float", "float-exponent", "bool", "list"],
)
def test_set_overrides_are_parsed_to_types(override: str, name: str, value: object) -> None:
    def tuned() -> None:
        knobs()

    pipeline = Pipeline(tuned)
    resolved = pipeline.resolve(overrides=[override])
    assert resolved.steps == {"knobs": {name: value}}
    assert type(resolved.steps["knobs"][name]) is type(value)
    assert pipeline.graph(resolved).nodes["knobs"].inputs[name] == value


def test_precedence_is_config_then_overrides_then_keywords(local_yard: Client) -> None:
    config = {"rows": 10, "train": {"depth": 2}, "evaluate": {"threshold": 0.1}, "run": {"runner": "local"}}
    resolved = flows.training.resolve(
        config=config,
        overrides=["rows=20", "train.depth=3", "run.runner=inline"],
        params={"rows": 30},
    )
    assert resolved.pipeline == {"rows": 30}
    assert resolved.steps == {"train": {"depth": 3}, "evaluate": {"threshold": 0.1}}
    assert resolved.run == {"runner": "inline"}

    run = flows.training.run(
        client=local_yard, config=config, overrides=["rows=20", "train.depth=3", "run.runner=inline"], rows=30
    )
    assert run.load("train") == {"depth": 3, "mean": 14.5, "rows": 30}
    assert local_yard.get_run(run.step("evaluate").run_id or "").params["threshold"] == "0.1"
    dotted = flows.training.run(
        client=local_yard, config=config, overrides=["train.depth=3", "run.runner=inline"], **{"train.depth": 4}
    )
    assert dotted.load("train")["depth"] == 4


# -- drawings -----------------------------------------------------------------------------------------------------
def test_graph_text() -> None:
    assert flows.training.graph(rows=5).text() == (
        "pipeline training\n"
        "  prepare -> [output]\n"
        "      with  rows=5, marker=''\n"
        "  train -> [output]\n"
        "      from  frame<-prepare\n"
        "      with  marker='', depth=3\n"
        "  evaluate -> [output]\n"
        "      from  model<-train, frame<-prepare\n"
        "      with  marker='', threshold=0.5"
    )


def test_graph_text_and_dot_name_outputs() -> None:
    def flow() -> None:
        train_part, test_part = split(flows.prepare(), ratio=0.7)
        fit(train_part, test_part)

    graph = Pipeline(flow, name="splitting").graph()
    text = graph.text()
    assert "  split -> [train, test]" in text
    assert "      from  train<-split.train, test<-split.test" in text
    assert "      with  ratio=0.7" in text
    dot = graph.dot()
    assert dot.startswith('digraph "splitting" {\n  rankdir=LR;')
    assert '  "prepare" -> "split" [label="frame"];' in dot
    assert '  "split" -> "fit" [label="train -> train"];' in dot
    assert '  "split" -> "fit" [label="test -> test"];' in dot
    assert dot.endswith("}")
    assert [line for line in dot.splitlines() if line.strip().startswith('"') and "->" not in line] == [
        '  "prepare";',
        '  "split";',
        '  "fit";',
    ]
