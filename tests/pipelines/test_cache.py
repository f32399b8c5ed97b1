"""The step cache: hits when nothing changed, exact invalidation, and outputs of every kind stored and read back."""

from __future__ import annotations

import os
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard as my
from modelyard.client import Client
from modelyard.errors import PipelineError, StepFailedError
from modelyard.pipelines.definitions import Pipeline
from modelyard.pipelines.loading import module_from_file
from modelyard.pipelines.models import PipelineRun, StepStatus
from modelyard.pipelines.steps import Step
from modelyard.tracking.models import RunStatus
from tests.fixtures.crashes import run_together
from tests.pipelines import flows

ROOT = Path(__file__).resolve().parents[2]


def hits(run: PipelineRun) -> dict[str, bool]:
    return {s.name: s.cache_hit for s in run.steps}


def digests(run: PipelineRun) -> dict[str, list[str]]:
    return {s.name: [o.digest for o in s.outputs] for s in run.steps}


def entries(client: Client) -> dict[str, list[str]]:
    """Cache entries by step: the digests of their outputs."""
    found: dict[str, list[str]] = {}
    for entry in client.metadata.step_cache.list():
        assert entry.step not in found, f"two cache entries for step {entry.step!r}"
        found[entry.step] = [o.digest for o in entry.outputs]
    return found


# -- hits and misses ---------------------------------------------------------------------------------------------
def test_an_identical_run_hits_every_step(yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    first = flows.training.run(runner="inline", client=yard, marker=str(marker))
    assert [s.status for s in first.steps] == [StepStatus.SUCCEEDED] * 3
    assert first.cache_hits == 0
    second = flows.training.run(runner="inline", client=yard, marker=str(marker))
    assert [s.status for s in second.steps] == [StepStatus.CACHED] * 3
    assert hits(second) == {"prepare": True, "train": True, "evaluate": True}
    assert digests(second) == digests(first)
    assert [s.cache_key for s in second.steps] == [s.cache_key for s in first.steps]
    assert flows.marks(marker) == ["prepare", "train", "evaluate"]  # each body ran once
    assert second.load("evaluate") == first.load("evaluate")
    assert yard.metadata.step_cache.find(first.steps[1].cache_key or "") is not None


def test_a_param_only_the_last_step_uses_reruns_only_that_step(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    first = flows.training.run(runner="inline", client=local_yard, marker=str(marker))
    second = flows.training.run(
        runner="inline", client=local_yard, overrides=["evaluate.threshold=0.9"], marker=str(marker)
    )
    assert hits(second) == {"prepare": True, "train": True, "evaluate": False}
    assert Counter(flows.marks(marker)) == {"prepare": 1, "train": 1, "evaluate": 2}
    assert second.step("evaluate").cache_key != first.step("evaluate").cache_key
    assert second.load("evaluate")["score"] == pytest.approx(first.load("evaluate")["score"] + 0.4)


PROJECT = """
import modelyard as my

FACTOR = 2


def base(n):
    return [i * FACTOR + {offset} for i in range(n)]


@my.step
def make(n: int = 5) -> list:
    return base(n)


@my.step
def other(n: int = 5) -> int:
    return n + 1


@my.step
def consume(values: list) -> int:
    return sum(values)


def flow(n: int = 5):
    consume(make(n))
    other(n)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """Write the project module (with ``base``'s body edited as asked) and import a fresh copy of it."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # module_from_file adds the file's folder
    path = tmp_path / "project_steps.py"
    bumps = [0]

    def drop() -> None:
        for name, module in list(sys.modules.items()):
            if getattr(module, "__file__", None) == str(path):
                del sys.modules[name]

    def load(offset: str = "0") -> ModuleType:
        path.write_text(textwrap.dedent(PROJECT).replace("{offset}", offset), encoding="utf-8")
        bumps[0] += 1
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bumps[0] * 1_000_000_000))  # a new parse
        drop()
        return module_from_file(path)

    yield load
    drop()


def test_a_helper_change_invalidates_the_steps_that_reach_it(
    local_yard: Client, project: Callable[..., ModuleType]
) -> None:
    def run(module: ModuleType) -> PipelineRun:
        return Pipeline(module.flow, name="project").run(runner="inline", client=local_yard)

    first = run(project())
    assert hits(first) == {"make": False, "other": False, "consume": False}
    assert hits(run(project())) == {"make": True, "other": True, "consume": True}  # re-imported, unchanged

    changed = run(project("1"))  # base's output changes: make reaches base, consume reads make's output
    assert hits(changed) == {"make": False, "other": True, "consume": False}
    assert changed.load("make") == [1, 3, 5, 7, 9]
    assert changed.load("consume") == 25

    same_output = run(project("1 + 0"))  # base's source changes, its output does not
    assert hits(same_output) == {"make": False, "other": True, "consume": True}
    assert same_output.step("make").cache_key != changed.step("make").cache_key
    assert digests(same_output) == digests(changed)


def test_cache_false_runs_everything_and_writes_no_entries(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    uncached = flows.training.run(runner="inline", client=local_yard, cache=False, marker=str(marker))
    assert [s.status for s in uncached.steps] == [StepStatus.SUCCEEDED] * 3
    assert local_yard.metadata.step_cache.list() == []

    cached = flows.training.run(runner="inline", client=local_yard, marker=str(marker))
    assert cached.cache_hits == 0
    stored = local_yard.metadata.step_cache.list()
    assert len(stored) == 3

    again = flows.training.run(runner="inline", client=local_yard, cache=False, marker=str(marker))
    assert again.cache_hits == 0
    assert Counter(flows.marks(marker)) == {"prepare": 3, "train": 3, "evaluate": 3}
    assert local_yard.metadata.step_cache.list() == stored  # neither read nor replaced
    assert digests(again) == digests(cached) == digests(uncached)


@my.step(cache=False)
def stamp(frame: pd.DataFrame, marker: str = "") -> pd.DataFrame:
    flows.mark(marker, "stamp")
    return frame


@my.step
def count_rows(frame: pd.DataFrame, marker: str = "") -> int:
    flows.mark(marker, "count_rows")
    return len(frame)


def stamped(marker: str) -> None:
    count_rows(stamp(flows.prepare(marker=marker), marker=marker), marker=marker)


def test_a_step_with_cache_false_always_runs(local_yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    Pipeline(stamped).run(runner="inline", client=local_yard, marker=str(marker))
    second = Pipeline(stamped).run(runner="inline", client=local_yard, marker=str(marker))
    assert hits(second) == {"prepare": True, "stamp": False, "count_rows": True}  # stamp's output is the same
    assert Counter(flows.marks(marker)) == {"prepare": 1, "stamp": 2, "count_rows": 1}
    assert sorted(entries(local_yard)) == ["count_rows", "prepare"]


def test_force_reruns_one_step_and_replaces_its_entry(yard: Client, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    first = flows.training.run(runner="inline", client=yard, marker=str(marker))
    key = first.step("train").cache_key or ""
    assert (yard.metadata.step_cache.find(key) or pytest.fail("no entry")).run_id == first.step("train").run_id

    forced = flows.training.run(runner="inline", client=yard, force=["train"], marker=str(marker))
    assert hits(forced) == {"prepare": True, "train": False, "evaluate": True}
    assert forced.step("train").status is StepStatus.SUCCEEDED
    assert forced.step("train").cache_key == key
    assert Counter(flows.marks(marker)) == {"prepare": 1, "train": 2, "evaluate": 1}
    entry = yard.metadata.step_cache.find(key)
    assert entry is not None
    assert entry.run_id == forced.step("train").run_id  # the forced run's outputs replaced the entry

    later = flows.training.run(runner="inline", client=yard, marker=str(marker))
    assert later.cache_hits == 3
    later_train = yard.get_run(later.step("train").run_id or "")
    assert later_train.tags["pipeline.source"] == f"cache:{forced.step('train').run_id}"


def test_force_names_a_real_step(local_yard: Client) -> None:
    with pytest.raises(PipelineError, match=r"--force names step 'trian'.*"):
        flows.training.run(runner="inline", client=local_yard, force=["trian"])


class Opaque:
    """A type modelyard has no serializer for."""

    def __init__(self, value: int) -> None:
        self.value = value


@my.step
def explode(frame: pd.DataFrame) -> pd.DataFrame:
    raise RuntimeError("boom")


@my.step(outputs=("frame", "thing"))
def half_storable(frame: pd.DataFrame) -> tuple[pd.DataFrame, Opaque]:
    return frame.assign(z=1), Opaque(3)  # the frame can be stored, the second output cannot


@pytest.mark.parametrize("failing", [explode, half_storable], ids=["raises", "second-output-unstorable"])
def test_a_failing_step_leaves_no_cache_entry_and_no_outputs(local_yard: Client, failing: Step[..., object]) -> None:
    def flow() -> None:
        failing(flows.prepare())

    with pytest.raises(StepFailedError, match=f"step '{failing.name}' failed") as caught:
        Pipeline(flow).run(runner="inline", client=local_yard)
    record = caught.value.run
    assert isinstance(record, PipelineRun)
    step_run = record.step(failing.name)
    assert step_run.status is StepStatus.FAILED
    assert step_run.outputs == ()
    assert local_yard.get_run(step_run.run_id or "").status is RunStatus.FAILED
    assert [a.path for a in local_yard.list_artifacts(step_run.run_id or "") if a.path.startswith("outputs")] == []
    assert local_yard.metadata.step_cache.find(step_run.cache_key or "") is None
    assert sorted(entries(local_yard)) == ["prepare"]


# -- outputs of every kind ---------------------------------------------------------------------------------------
KINDS: dict[str, Callable[[], object]] = {
    "dataframe": lambda: pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5]}),
    "arrow": lambda: pa.table({"a": [1, 2], "b": ["p", "q"]}),
    "numpy": lambda: np.arange(12, dtype=np.float32).reshape(3, 4),
    "dict": lambda: {"auc": 0.9, "labels": ["a", "b"], "nested": {"k": None, "ok": True}},
    "list": lambda: [1, "two", 3.0, None, [4]],
    "tuple": lambda: (1, "x", 2.5),
}
STORED_AS = {
    "dataframe": "parquet",
    "arrow": "parquet",
    "numpy": "numpy",
    "dict": "json",
    "list": "json",
    "tuple": "json",
}


@my.step
def produce(kind: str) -> object:
    return KINDS[kind]()


def producing(kind: str) -> None:
    produce(kind)


def same(loaded: object, expected: object) -> bool:
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, expected)  # type: ignore[arg-type]
        return True
    if isinstance(expected, pa.Table):
        return isinstance(loaded, pa.Table) and loaded.equals(expected)
    if isinstance(expected, np.ndarray):
        return isinstance(loaded, np.ndarray) and loaded.dtype == expected.dtype and np.array_equal(loaded, expected)
    return type(loaded) is type(expected) and loaded == expected


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_outputs_roundtrip(local_yard: Client, kind: str) -> None:
    run = Pipeline(producing).run(runner="inline", client=local_yard, kind=kind)
    ref = run.step("produce").output()
    assert ref.kind == STORED_AS[kind]
    assert same(run.load("produce"), KINDS[kind]())
    artifacts = {a.path: a for a in local_yard.list_artifacts(run.step("produce").run_id or "")}
    assert str(artifacts["outputs/output"].digest) == ref.digest
    again = Pipeline(producing).run(runner="inline", client=local_yard, kind=kind)
    assert again.cache_hits == 1
    assert same(again.load("produce"), KINDS[kind]())


@my.step
def fit_model(rows: int = 8) -> LogisticRegression:
    x = np.arange(rows, dtype=float).reshape(-1, 1)
    return LogisticRegression().fit(x, (x[:, 0] >= rows / 2).astype(int))


def modelling(rows: int = 8) -> None:
    fit_model(rows)


def test_a_scikit_learn_model_is_stored_as_a_model_package(local_yard: Client) -> None:
    run = Pipeline(modelling).run(runner="inline", client=local_yard)
    ref = run.step("fit_model").output()
    assert ref.kind == "model"
    assert ref.type_name == "sklearn.linear_model._logistic:LogisticRegression"
    model = run.load("fit_model")
    assert isinstance(model, LogisticRegression)
    expected = fit_model.fn()
    probe = np.array([[0.0], [3.0], [4.0], [7.0]])
    np.testing.assert_array_equal(model.predict(probe), expected.predict(probe))
    np.testing.assert_allclose(model.coef_, expected.coef_)

    again = Pipeline(modelling).run(runner="inline", client=local_yard)
    assert again.cache_hits == 1
    assert isinstance(again.load("fit_model"), LogisticRegression)


@my.step
def opaque(value: int = 3) -> Opaque:
    return Opaque(value)


def opaquing(value: int = 3) -> None:
    opaque(value)


def test_an_unsupported_output_type_fails_naming_the_output_and_serializer(local_yard: Client) -> None:
    with pytest.raises(StepFailedError, match="step 'opaque' failed") as caught:
        Pipeline(opaquing).run(runner="inline", client=local_yard)
    error = caught.value.run.step("opaque").error or ""
    assert "Output 'output' is a tests.pipelines.test_cache:Opaque" in error
    assert "without pickling it" in error
    assert "Serializer" in error


class OpaqueSerializer:
    kind = "opaque"

    def accepts(self, value: object) -> bool:
        return isinstance(value, Opaque)

    def dump(self, value: object, out: IO[bytes]) -> None:
        assert isinstance(value, Opaque)
        out.write(str(value.value).encode())

    def load(self, data: BinaryIO, type_name: str) -> object:
        assert type_name == "tests.pipelines.test_cache:Opaque"
        return Opaque(int(data.read()))


def test_a_user_serializer_handles_a_custom_type(local_yard: Client) -> None:
    pipeline = Pipeline(opaquing, serializers=[OpaqueSerializer()])
    run = pipeline.run(runner="inline", client=local_yard, value=41)
    assert run.step("opaque").output().kind == "opaque"
    loaded = run.load("opaque")
    assert isinstance(loaded, Opaque)
    assert loaded.value == 41
    again = pipeline.run(runner="inline", client=local_yard, value=41)
    assert again.cache_hits == 1
    assert again.load("opaque").value == 41
    assert local_yard.pipelines.get(run.id, pipeline=pipeline).load("opaque").value == 41


# -- tables and arrays passed in as parameters -------------------------------------------------------------------
@my.step
def describe(values: object) -> str:
    if isinstance(values, pd.DataFrame):
        columns = ",".join(f"{c}:{t}" for c, t in values.dtypes.astype(str).items())
        return f"frame {columns} {values.to_numpy().ravel().tolist()}"
    if isinstance(values, np.ndarray):
        return f"array {values.dtype.name}"
    return f"{type(values).__module__}.{type(values).__qualname__} of {len(values)}"  # type: ignore[arg-type]


def describing(values: object) -> None:
    describe(values)


@pytest.mark.parametrize(
    ("first", "second", "described"),
    [
        (np.array([1, 2, 3], dtype=np.int64), np.array([1, 2, 3], dtype=np.int32), "array int32"),
        (
            pd.DataFrame({"x": [1, 2]}).astype("int64"),
            pd.DataFrame({"x": [1, 2]}).astype("int32"),
            "frame x:int32 [1, 2]",
        ),
        (
            pd.DataFrame({"x": [0.12345678901]}),
            pd.DataFrame({"x": [0.12345678902]}),
            "frame x:float64 [0.12345678902]",
        ),
    ],
    ids=["numpy-dtype", "dataframe-dtype", "dataframe-11th-digit"],
)
def test_a_table_or_array_parameter_is_hashed_by_its_content(
    local_yard: Client, first: object, second: object, described: str
) -> None:
    # Different data (another dtype, or a value that differs in its 11th digit): a different cache key.
    one = Pipeline(describing).run(runner="inline", client=local_yard, values=first)
    two = Pipeline(describing).run(runner="inline", client=local_yard, values=second)
    assert two.load("describe") == described  # not the first run's cached answer
    assert two.step("describe").cache_key != one.step("describe").cache_key


def test_an_arrow_table_can_be_passed_as_a_parameter(local_yard: Client) -> None:
    try:
        run = Pipeline(describing).run(runner="inline", client=local_yard, values=pa.table({"x": [1, 2, 3]}))
    finally:
        open_runs = [r.id for r in local_yard.search_runs("describing").runs if not r.status.is_terminal]
        assert open_runs == [], "the pipeline run was left RUNNING"
    assert run.load("describe") == "pyarrow.lib.Table of 3"


# -- concurrent runs -----------------------------------------------------------------------------------------------
RACE = """
import json
import sys

sys.path.insert(0, sys.argv[1])
from tests.pipelines import flows

home, marker = sys.argv[2:4]
client = flows.make_client(home)
run = flows.racing.run(runner="inline", client=client, linger=1.0, marker=marker)
print(json.dumps({s.name: [o.digest for o in s.outputs] for s in run.steps}))
client.close()
"""


def test_two_racing_runs_compute_at_most_twice_and_keep_one_entry(tmp_path: Path) -> None:
    home, marker = tmp_path / "shared", tmp_path / "marker"
    flows.make_client(home).close()  # the store exists before the race (its creation is not under test here)
    results = run_together(RACE, [[str(ROOT), str(home), str(marker)]] * 2)

    serial_home = tmp_path / "serial"
    with flows.make_client(serial_home) as serial:
        expected = digests(flows.racing.run(runner="inline", client=serial, linger=1.0, marker=""))
    assert results == [expected, expected]
    counts = Counter(flows.marks(marker))
    assert set(counts) <= {"slow_prepare", "train", "evaluate"}
    assert all(1 <= n <= 2 for n in counts.values()), counts
    with flows.make_client(home) as shared:
        assert entries(shared) == expected  # one entry per step, holding the serial run's outputs
