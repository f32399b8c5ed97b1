"""Tags with an audited history, and lineage between runs and dataset versions."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import InvalidInputError, NoActiveRunError, NotFoundError
from tests.data.conftest import flights_like, make_files


def test_tags_move_and_every_move_is_recorded(yard: Client, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "src", 2)
    my.datasets.commit("d", folder)
    (folder / "extra.bin").write_bytes(b"x")
    my.datasets.commit("d", folder)
    first = my.datasets.tag("d@1", "golden", reason="audited")
    assert (first.from_version, first.to_version, first.reason) == (None, 1, "audited")
    my.datasets.tag("d@1", "golden")  # no move: not recorded
    moved = my.datasets.tag("d@2", "golden", reason="re-audited")
    assert (moved.from_version, moved.to_version) == (1, 2)
    assert my.datasets.get("d@golden").number == 2
    assert my.datasets.get("d@2").tags == ("golden",)
    removed = my.datasets.untag("d", "golden", reason="retired")
    assert removed is not None
    assert removed.from_version == 2
    assert my.datasets.untag("d", "golden") is None  # idempotent
    history = my.datasets.tag_history("d")
    assert [(e.tag, e.from_version, e.to_version, e.reason) for e in history] == [
        ("golden", None, 1, "audited"),
        ("golden", 1, 2, "re-audited"),
        ("golden", 2, None, "retired"),
    ]
    assert all(e.actor for e in history)
    with pytest.raises(NotFoundError, match=r"Dataset 'd' has no version 9 \(its newest is 2\)"):
        my.datasets.tag("d@9", "x")
    with pytest.raises(InvalidInputError, match="Tag 'has/slash' is not allowed"):
        my.datasets.tag("d@1", "has/slash")


def test_reads_inside_a_run_are_recorded_as_inputs(yard: Client) -> None:
    version = my.datasets.commit("flights", flights_like(100))
    assert version.runs() == []
    with my.start_run(experiment="train") as run:
        my.datasets.get("flights@1").to_pandas()
        my.datasets.get("flights@1").to_pandas()  # recorded once
    (entry,) = my.datasets.get("flights@1").runs()
    assert (entry.run_id, entry.role, entry.dataset, entry.version) == (run.id, "input", "flights", 1)
    assert yard.run_inputs(run.id) == [entry]


def test_commits_inside_a_run_are_outputs_and_log_input_names_others(yard: Client, tmp_path: Path) -> None:
    raw = my.datasets.commit("raw", make_files(tmp_path / "raw", 2))
    with my.start_run(experiment="prepare") as run:
        my.log_input("raw@1")
        clean = my.datasets.commit("clean", flights_like(50))
    roles = {(e.dataset, e.role) for e in yard.run_inputs(run.id)}
    assert roles == {("raw", "input"), ("clean", "output")}
    assert [e.run_id for e in clean.runs()] == [run.id]
    assert raw.runs()[0].role == "input"
    with pytest.raises(NoActiveRunError):
        my.log_input("raw@1")
    with my.start_run(experiment="prepare"), pytest.raises(InvalidInputError, match="log_input takes a dataset"):
        my.log_input(42)  # type: ignore[arg-type]
