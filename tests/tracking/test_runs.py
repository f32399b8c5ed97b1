"""Runs end to end through the public API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import ConflictError, InvalidInputError, NoActiveRunError, NotFoundError
from modelyard.tracking.models import RunStatus


def test_run_records_params_metrics_tags_and_context(client: Client) -> None:
    with my.start_run(experiment="churn", name="first", tags={"team": "risk"}) as run:
        my.log_param("lr", 0.1)
        my.log_params({"depth": 6, "model": "gbm"}, seed=7)
        for step, loss in enumerate([0.9, 0.5, 0.7]):
            my.log_metric("loss", loss, step=step)
        my.log_metrics({"auc": 0.91, "f1": 0.8}, step=3)
        my.set_tag("stage", "dev")
    record = my.get_run(run.id)
    assert record.status is RunStatus.FINISHED
    assert record.name == "first"
    assert record.experiment_name == "churn"
    assert record.params == {"lr": "0.1", "depth": "6", "model": "gbm", "seed": "7"}
    assert record.tags == {"team": "risk", "stage": "dev"}
    loss = record.metrics["loss"]
    assert (loss.last, loss.last_step, loss.min, loss.max) == (0.7, 2, 0.5, 0.9)
    assert record.metric("auc") == 0.91
    assert record.end_time is not None
    assert record.duration_s is not None
    assert record.context.python_version
    assert record.context.environment_digest.startswith("blake3:")
    assert record.context.host
    assert record.context.command
    assert record.context.git_commit is None or len(record.context.git_commit) == 40
    history = my.get_metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.5), (2, 0.7)]


def test_exception_marks_failed_and_interrupt_marks_killed(client: Client) -> None:
    def fail(exc: BaseException) -> str:
        with my.start_run(experiment="e") as run:
            my.log_metric("m", 1.0)
            failed_ids.append(run.id)
            raise exc

    failed_ids: list[str] = []
    with pytest.raises(RuntimeError, match="boom"):
        fail(RuntimeError("boom"))
    with pytest.raises(KeyboardInterrupt):
        fail(KeyboardInterrupt())
    failed, killed = (my.get_run(run_id) for run_id in failed_ids)
    assert my.get_run(failed.id).status is RunStatus.FAILED
    assert my.get_run(failed.id).metric("m") == 1.0
    assert my.get_run(killed.id).status is RunStatus.KILLED
    assert my.active_run() is None


def test_nested_runs_get_their_parent(client: Client) -> None:
    with my.start_run(experiment="sweep") as parent:
        with my.start_run(name="trial-1") as child:
            my.log_metric("score", 1)
            assert my.active_run() is child
        explicit = my.start_run(experiment="other", parent=parent.id)
        my.end_run()
        assert my.active_run() is parent
    assert my.get_run(child.id).parent_id == parent.id
    assert my.get_run(child.id).experiment_name == "sweep"
    assert my.get_run(explicit.id).parent_id == parent.id
    children = my.search_runs("sweep", filter=f"attributes.parent_id = '{parent.id}'")
    assert [r.id for r in children] == [child.id]


def test_logging_without_a_run_says_how_to_start_one(client: Client) -> None:
    with pytest.raises(NoActiveRunError, match="start_run"):
        my.log_metric("auc", 0.9)
    with pytest.raises(NoActiveRunError, match="No run is active"):
        my.end_run()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: my.log_metric("loss", float("nan")), "NaN and infinite"),
        (lambda: my.log_metric("loss", float("inf")), "NaN and infinite"),
        (lambda: my.log_metric("loss", "high"), "metrics are numbers"),
        (lambda: my.log_metric("loss", 1.0, step=1.5), "not a whole number"),
        (lambda: my.log_metric("loss", 1.0, step=-1), "out of range"),
        (lambda: my.log_metric("x" * 251, 1.0), "limit is 250"),
        (lambda: my.log_param("bad\nkey", 1), "holds characters"),
        (lambda: my.log_param("../escape", 1), "holds characters"),
        (lambda: my.log_param("big", "v" * 6001), "limit is 6000"),
        (lambda: my.set_tags(["not", "a", "mapping"]), "must be a mapping"),
    ],
)
def test_bad_values_are_refused_at_the_call(client: Client, call: Any, match: str) -> None:
    with my.start_run(experiment="bad"), pytest.raises(InvalidInputError, match=match):
        call()


def test_numpy_scalars_are_accepted(client: Client) -> None:
    np = pytest.importorskip("numpy")
    with my.start_run(experiment="np") as run:
        my.log_metric("acc", np.float32(0.5), step=np.int64(3))
    assert my.get_run(run.id).metrics["acc"].last_step == 3


def test_a_param_cannot_change(client: Client) -> None:
    with my.start_run(experiment="p") as run:
        my.log_param("lr", 0.1)
        my.log_param("lr", 0.1)  # same value: fine
        with pytest.raises(ConflictError, match="cannot change"):
            my.log_param("lr", 0.2)
    assert my.get_run(run.id).params == {"lr": "0.1"}


def test_a_param_changed_by_another_writer_conflicts_at_flush(client: Client) -> None:
    with my.start_run(experiment="p") as run:
        my.flush()
        client.metadata.runs.write([_batch(run.id, params={"depth": "3"})])  # another process logged it
        my.log_param("depth", 4)
        with pytest.raises(ConflictError, match=r"'depth' of run .* is already '3'"):
            my.flush()
    assert my.get_run(run.id).params == {"depth": "3"}


def _batch(run_id: str, **kw: Any) -> Any:
    from modelyard.ids import RunId
    from modelyard.tracking.models import LogBatch

    return LogBatch(run_id=RunId(run_id), **kw)


def test_logging_to_an_ended_run_is_refused(client: Client) -> None:
    with my.start_run(experiment="e") as run:
        pass
    with pytest.raises(ConflictError, match="has ended"):
        client.metadata.runs.write([_batch(run.id, tags={"late": "1"})])


def test_concurrent_end_of_one_run_first_wins(client: Client) -> None:
    run = client.start_run("race")
    client.flush()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def end(status: RunStatus) -> None:
        barrier.wait()
        try:
            client.metadata.runs.end(run.id, status, 1)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=end, args=(s,)) for s in (RunStatus.FINISHED, RunStatus.FAILED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert client.get_run(run.id).status in (RunStatus.FINISHED, RunStatus.FAILED)
    client.metadata.runs.end(run.id, client.get_run(run.id).status, 2)  # same status again: no-op


def test_duplicate_metric_points_are_stored_once(client: Client) -> None:
    from datetime import UTC, datetime

    from modelyard.tracking.models import MetricPoint

    with my.start_run(experiment="dup") as run:
        pass
    run2 = client.start_run("dup")
    client.flush()
    point = MetricPoint(key="m", value=1.5, step=2, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    for _ in range(3):
        client.metadata.runs.write([_batch(run2.id, metrics=[point])])
    client.end_run()
    assert len(client.get_metric_history(run2.id, "m")) == 1
    with pytest.raises(NotFoundError, match="has no metric 'n'"):
        client.get_metric_history(run.id, "n")


def test_unknown_run_and_experiment_are_clear(client: Client) -> None:
    with pytest.raises(NotFoundError, match="No run with id 'nope'"):
        my.get_run("nope")
    with my.start_run(experiment="churn-model"):
        pass
    with pytest.raises(NotFoundError, match="Did you mean 'churn-model'"):
        my.search_runs("churn-modle")


def test_background_flusher_writes_without_an_explicit_flush(client: Client, metadata_uri: str, tmp_path: Any) -> None:
    import time

    reader = Client(metadata_uri, artifacts=str(tmp_path / "blobs"))
    try:
        run = client.start_run("bg")
        client.log_metric("m", 3.0)
        deadline = time.monotonic() + 10

        def written() -> bool:
            try:
                return "m" in reader.metadata.runs.get(run.id).metrics
            except NotFoundError:  # the run itself is written with its first batch
                return False

        while time.monotonic() < deadline and not written():
            time.sleep(0.05)
        assert reader.metadata.runs.get(run.id).metric("m") == 3.0
        client.end_run()
    finally:
        reader.close()


def test_experiments_are_listed_with_run_counts(client: Client) -> None:
    for name in ("b", "a", "b"):
        with my.start_run(experiment=name):
            pass
    listed = my.list_experiments()
    assert [(e.name, e.run_count) for e in listed] == [("a", 1), ("b", 2)]
    assert client.get_experiment("a").id == listed[0].id
    assert client.get_experiment(listed[0].id).name == "a"


@pytest.mark.parametrize("flushed_midway", [False, True], ids=["one-transaction", "flushed-midway"])
def test_ended_runs_read_from_their_snapshot_equal_the_tables(client: Client, flushed_midway: bool) -> None:
    from sqlalchemy import select

    from modelyard.stores.sql import schema, snapshots

    with my.start_run(experiment="snap", tags={"t": "1"}) as run:
        my.log_params(a=1, b="x")
        for step in range(5):
            my.log_metrics({"loss": 1 / (step + 1), "acc": step / 10}, step=step)
            if flushed_midway and step == 2:
                my.flush()  # the run and its first values are stored; the rest and the end come later
        my.log_metric("loss", 0.2, step=4)  # an exact duplicate of a point: stored once
    db = client.metadata.db  # type: ignore[attr-defined]
    with db.read() as conn:
        stored = conn.execute(select(schema.runs.c.snapshot).where(schema.runs.c.id == run.id)).scalar()
        from_tables = snapshots.gather(conn, [run.id])
    assert stored is not None
    record = my.get_run(run.id)
    assert record.params == from_tables.params[run.id] == {"a": "1", "b": "x"}
    assert record.tags == from_tables.tags[run.id] == {"t": "1"}
    assert record.metrics == from_tables.metrics[run.id]
    assert record.metrics["loss"].min == 0.2


def test_nested_runs_created_in_one_batch_keep_their_parents(client: Client) -> None:
    with my.start_run(experiment="nest") as outer:
        with my.start_run(name="inner") as inner:
            my.log_metric("x", 1.0)
        my.log_metric("y", 2.0)
    assert my.get_run(inner.id).parent_id == outer.id
    assert my.get_run(outer.id).metrics["y"].last == 2.0
    points = client.get_metric_history(inner.id, "x")
    assert [(p.step, p.value) for p in points] == [(0, 1.0)]
