"""Runs: start, log, end, read and search. ``Tracker`` is the tracking capability behind ``Client``.

Params, tags and metrics go through a ``LogBuffer`` (written in batches in the background); creating and
ending a run are written at once. Ending a run flushes first, so a FINISHED run holds everything it logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType

from modelyard.errors import ConflictError, InvalidInputError
from modelyard.ids import ExperimentId, RunId, new_id
from modelyard.stores.protocols import MetadataStore
from modelyard.tracking import search, values
from modelyard.tracking.buffer import LogBuffer
from modelyard.tracking.environment import capture_context
from modelyard.tracking.models import Experiment, MetricPoint, NewRun, Run, RunPage, RunQuery, RunStatus

__all__ = ["MAX_RESULTS", "ActiveRun", "Tracker"]

MAX_RESULTS = 50_000


class ActiveRun:
    """A run in progress; use it as a context manager so it ends (FINISHED, or FAILED on an exception)."""

    def __init__(self, run: Run, on_exit: Callable[[ActiveRun, RunStatus], None]) -> None:
        self.id: RunId = run.id
        self.name = run.name
        self.experiment_name = run.experiment_name
        self.parent_id = run.parent_id
        self.logged_params: dict[str, str] = {}
        self.ended = False
        self._on_exit = on_exit

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        self._on_exit(self, status)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} {self.name!r} in {self.experiment_name!r}>"


class Tracker:
    """Experiments and runs over a metadata store, with buffered logging."""

    def __init__(self, store: MetadataStore, *, flush_interval_s: float, flush_max_points: int) -> None:
        self._store = store
        self.buffer = LogBuffer(store.runs, interval_s=flush_interval_s, max_points=flush_max_points)
        self._experiments: dict[str, Experiment] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------
    def create_run(
        self,
        experiment: str,
        *,
        name: str | None,
        tags: Mapping[str, object] | None,
        parent_id: RunId | None,
    ) -> Run:
        """Create a RUNNING run in ``experiment`` (created if missing) with the process context captured."""
        if parent_id is not None:
            self.buffer.flush()  # the parent may still be waiting to be written
            self._store.runs.get(parent_id)  # raises NotFoundError naming the parent
        exp = self._experiments.get(experiment)
        if exp is None:
            exp = self._store.experiments.ensure(experiment)
            if len(self._experiments) < 1024:  # experiments are never renamed or deleted; bounded anyway
                self._experiments[experiment] = exp
        run_id = RunId(new_id())
        checked = {
            values.check_key(k, "tag"): values.tag_value(k, v) for k, v in values.check_mapping(tags, "tags").items()
        }
        if name is not None and (not isinstance(name, str) or len(name) > 256 or not name.strip()):
            raise InvalidInputError(f"Run name {name!r} is empty or too long.", hint="Use 1 to 256 characters.")
        new = NewRun(
            id=run_id,
            experiment_id=exp.id,
            experiment_name=exp.name,
            name=name.strip() if name else f"run-{run_id[:8]}",
            parent_id=parent_id,
            start_time=datetime.now(UTC),
            context=capture_context(),
            tags=checked,
        )
        self.buffer.add_run(new)  # written with the run's first batch: one transaction for a short run
        return new.as_run()

    def end_run(self, run_id: RunId, status: RunStatus | str) -> None:
        """Flush, then mark the run ended with ``status``."""
        if not isinstance(status, RunStatus):
            try:
                status = RunStatus(str(status).upper())
            except ValueError:
                raise InvalidInputError(
                    f"Run status {status!r} is not one of FINISHED, FAILED, KILLED.",
                    hint="Pass status='FINISHED'.",
                ) from None
        if status is RunStatus.RUNNING:
            raise InvalidInputError("A run cannot end as RUNNING.", hint="Pass FINISHED, FAILED or KILLED.")
        self.buffer.write_final(run_id, status, int(time.time() * 1000))
        self.buffer.flush()  # other runs' values, and any error of a background write

    # -- logging ---------------------------------------------------------------------------------------------
    def log_params(self, run: ActiveRun, params: Mapping[str, object]) -> None:
        """Queue params; a param re-logged with another value in this process fails at once."""
        checked: dict[str, str] = {}
        for key, value in values.check_mapping(params, "params").items():
            text = values.param_value(values.check_key(key, "param"), value)
            before = run.logged_params.get(key)
            if before is not None and before != text:
                raise ConflictError(
                    f"Param {key!r} of run {run.id} is already {before!r}; it cannot change to {text!r}.",
                    hint="Params are fixed once logged; log a changing value as a metric or a tag.",
                )
            checked[key] = text
        run.logged_params.update(checked)
        self.buffer.add_params(run.id, checked)

    def log_metrics(self, run_id: RunId, metrics: Mapping[str, object], step: object | None) -> None:
        """Queue one point per metric, stamped now, at ``step`` (0 when omitted)."""
        step_number = 0 if step is None else values.step_value(step)
        moment = datetime.now(UTC)
        points = [
            MetricPoint(
                key=values.check_key(k, "metric"),
                value=values.metric_value(k, v),
                step=step_number,
                timestamp=moment,
            )
            for k, v in values.check_mapping(metrics, "metrics").items()
        ]
        self.buffer.add_metrics(run_id, points)

    def set_tags(self, run_id: RunId, tags: Mapping[str, object]) -> None:
        """Queue tags (a tag may change; the last value wins)."""
        checked = {
            values.check_key(k, "tag"): values.tag_value(k, v) for k, v in values.check_mapping(tags, "tags").items()
        }
        self.buffer.add_tags(run_id, checked)

    # -- reading ---------------------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """Return a run (values still buffered in this process are flushed first)."""
        self.buffer.flush()
        return self._store.runs.get(RunId(run_id))

    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every point of one metric of a run."""
        self.buffer.flush()
        return self._store.runs.metric_history(RunId(run_id), key)

    def list_experiments(self) -> list[Experiment]:
        """All experiments with run counts."""
        return self._store.experiments.list()

    def get_experiment(self, name_or_id: str) -> Experiment:
        """One experiment by name or id."""
        return self._store.experiments.get(name_or_id)

    def search_runs(
        self,
        experiments: str | Sequence[str],
        *,
        filter: str | None,
        order_by: Sequence[str] | str | None,
        max_results: int,
        page_token: str | None,
    ) -> RunPage:
        """Search runs of one or more experiments; see ``modelyard.search_runs``."""
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        if not names:
            raise InvalidInputError("search_runs needs at least one experiment.", hint="Pass experiment='churn'.")
        if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInputError(
                f"max_results={max_results!r} is out of range.",
                hint=f"Pass 1 to {MAX_RESULTS}; page with page_token.",
            )
        ids = tuple(ExperimentId(self._store.experiments.get(n).id) for n in names)
        fingerprint = search.query_fingerprint(ids, filter, order_by)
        query = RunQuery(
            experiment_ids=ids,
            condition=search.parse_filter(filter),
            order_by=search.parse_order_by(order_by),
            max_results=max_results,
            offset=search.decode_page_token(page_token, fingerprint),
        )
        self.buffer.flush()
        page = self._store.runs.search(query)
        token = None
        if page.next_page_token is not None:
            token = search.encode_page_token(int(page.next_page_token), fingerprint)
        return RunPage(runs=page.runs, next_page_token=token)

    def close(self) -> None:
        """Stop the flusher after writing what is pending."""
        self.buffer.close()
