"""``Client``: the object every public function delegates to. It turns URIs into backends.

A client owns one metadata store, one artifact store and the tracking capability over them. Backends are
found by URI scheme in the entry-point group ``modelyard.stores``; a backend module is imported only when its
scheme is used.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from modelyard import _context
from modelyard.config import Settings, resolve_settings
from modelyard.data.datasets import Datasets
from modelyard.data.models import DatasetVersion, LineageEntry
from modelyard.errors import ConfigError, ConflictError, InvalidInputError, NoActiveRunError
from modelyard.ids import Digest, RunId, check_name
from modelyard.pipelines.runs import Pipelines
from modelyard.registry.events import Events
from modelyard.registry.flavors import default_flavors
from modelyard.registry.loading import Loaders
from modelyard.registry.models import ModelInfo, ModelLineage, ModelVersion, Signature
from modelyard.registry.packages import Packages
from modelyard.registry.versions import Models, Source
from modelyard.stores.protocols import ArtifactStore, MetadataStore
from modelyard.tracking.artifacts import RunArtifacts
from modelyard.tracking.models import ArtifactEntry, Experiment, MetricPoint, Run, RunPage, RunStatus
from modelyard.tracking.runs import ActiveRun, Tracker
from modelyard.tracking.values import merged

__all__ = ["Client", "open_artifact_store", "open_metadata_store"]

_ENTRY_POINT_GROUP = "modelyard.stores"


def _backend(scheme: str, what: str) -> Any:
    for entry in importlib.metadata.entry_points(group=_ENTRY_POINT_GROUP):
        if entry.name == scheme:
            return entry.load()
    raise ConfigError(
        f"No {what} backend is installed for the URI scheme {scheme!r}.",
        hint="Reinstall modelyard (pip install -e . or the wheel) so its store entry points are registered.",
    )


def open_metadata_store(settings: Settings) -> MetadataStore:
    """Open the metadata store named by ``settings.metadata_uri``."""
    scheme = urlsplit(settings.metadata_uri).scheme.split("+")[0].lower()
    store: MetadataStore = _backend(scheme, "metadata").from_uri(settings.metadata_uri)
    return store


def open_artifact_store(settings: Settings) -> ArtifactStore:
    """Open the artifact store named by ``settings.artifact_uri``."""
    scheme = urlsplit(settings.artifact_uri).scheme.lower()
    backend = _backend(scheme, "artifact")
    if scheme == "s3":
        store: ArtifactStore = backend.from_uri(settings.artifact_uri, endpoint_url=settings.s3_endpoint)
    else:
        store = backend.from_uri(settings.artifact_uri)
    return store


def _shutdown(tracker: Tracker, open_runs: dict[RunId, ActiveRun], state: dict[str, bool]) -> None:
    """End what a client left open when it is collected or the interpreter exits."""
    status = RunStatus.FAILED if state.get("uncaught") else RunStatus.FINISHED
    for run in list(open_runs.values()):
        if not run.ended:
            try:
                tracker.end_run(run.id, status)
            except Exception:
                import logging

                logging.getLogger("modelyard").exception("could not end run %s at exit", run.id)
            run.ended = True
    tracker.close()


class Client:
    """Experiment tracking (and, as they land, every other capability) over one pair of stores.

    Args:
        uri: metadata store: a folder (the embedded default: ``modelyard.db`` and ``blobs/`` inside it),
            ``sqlite:///path.db`` or ``postgresql://user@host/db``. Defaults to ``MODELYARD_URI`` or
            ``./.modelyard``.
        artifacts: artifact store: a folder, ``file:///folder`` or ``s3://bucket/prefix``. Required with
            PostgreSQL; defaults to ``MODELYARD_ARTIFACTS`` or ``blobs/`` beside the SQLite file.
        settings: fully resolved settings (overrides ``uri`` and ``artifacts``).

    Example:
        >>> team = Client("postgresql://db/yard", artifacts="s3://bucket/yard")  # doctest: +SKIP
    """

    def __init__(
        self,
        uri: str | os.PathLike[str] | None = None,
        *,
        artifacts: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or resolve_settings(None if uri is None else os.fspath(uri), artifacts=artifacts)
        self.metadata = open_metadata_store(self.settings)
        self.artifacts = open_artifact_store(self.settings)
        self._tracker = Tracker(
            self.metadata,
            flush_interval_s=self.settings.flush_interval_s,
            flush_max_points=self.settings.flush_max_points,
        )
        self._run_files = RunArtifacts(self.metadata, self.artifacts)
        self.datasets = Datasets(self.metadata, self.artifacts, on_use=self._on_dataset_use)
        self.loaders = Loaders()
        for flavor in default_flavors():
            self.loaders.register(flavor)
        self.models = Models(self.metadata, Packages(self.metadata, self.artifacts, self.loaders), self._lineage_of)
        self.events = Events(self.metadata)
        self.pipelines = Pipelines(self)
        self._recorded_uses: set[tuple[str, str, str]] = set()
        self._open_runs: dict[RunId, ActiveRun] = {}
        self._exit_state: dict[str, bool] = {}
        self._finalizer = weakref.finalize(self, _shutdown, self._tracker, self._open_runs, self._exit_state)
        self._chain_excepthook()

    def _chain_excepthook(self) -> None:
        previous = sys.excepthook
        state = self._exit_state

        def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
            state["uncaught"] = True
            previous(kind, exc, tb)

        sys.excepthook = hook

    def __repr__(self) -> str:
        return f"<modelyard.Client metadata={self.metadata.uri!r} artifacts={self.settings.artifact_uri!r}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End runs this client left open (FINISHED), write pending values and release connections."""
        self.pipelines.close()
        self._finalizer()
        self.metadata.close()
        self.artifacts.close()

    # -- runs ------------------------------------------------------------------------------------------------
    def start_run(
        self,
        experiment: str | None = None,
        *,
        name: str | None = None,
        tags: Mapping[str, object] | None = None,
        parent: str | ActiveRun | Run | None = None,
        run_id: str | None = None,
    ) -> ActiveRun:
        """Start a run and make it the current run of this context (see ``modelyard.start_run``)."""
        stack = _context.run_stack.get()
        if run_id is not None:
            return self._continue_run(RunId(run_id), stack)
        if parent is None and stack:
            parent = stack[-1]
        parent_id = None if parent is None else RunId(parent if isinstance(parent, str) else parent.id)
        if experiment is None:
            experiment = stack[-1].experiment_name if stack else "default"
        run = self._tracker.create_run(experiment, name=name, tags=tags, parent_id=parent_id)
        active = ActiveRun(run, self._on_run_exit)
        self._open_runs[active.id] = active
        _context.run_stack.set((*stack, active))
        return active

    def create_run(
        self,
        experiment: str,
        *,
        name: str | None = None,
        tags: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        parent: str | None = None,
    ) -> Run:
        """Create a RUNNING run without making it current (another process may continue it by id)."""
        run = self._tracker.create_run(
            experiment, name=name, tags=tags, parent_id=None if parent is None else RunId(parent)
        )
        if params:
            self._tracker.log_params(ActiveRun(run, self._on_run_exit), params)
        return run

    def _continue_run(self, run_id: RunId, stack: tuple[ActiveRun, ...]) -> ActiveRun:
        run = self._tracker.get_run(run_id)
        if run.status.is_terminal:
            raise ConflictError(
                f"Run {run_id} has ended ({run.status}); only a RUNNING run can be continued.",
                hint="Start a new run, or a child run with parent=...",
            )
        active = ActiveRun(run, self._on_run_exit)
        active.logged_params.update(run.params)
        self._open_runs[active.id] = active
        _context.run_stack.set((*stack, active))
        return active

    def _on_run_exit(self, run: ActiveRun, status: RunStatus) -> None:
        self._end(status, RunId(run.id))

    def end_run(self, status: RunStatus | str = RunStatus.FINISHED, *, run_id: str | None = None) -> Run:
        """End the current run (or ``run_id``) after writing everything it logged; return its record."""
        target = self._active().id if run_id is None else RunId(run_id)
        self._end(status, target)
        return self._tracker.get_run(target)

    def _end(self, status: RunStatus | str, run_id: RunId) -> None:
        stack = _context.run_stack.get()
        _context.run_stack.set(tuple(r for r in stack if r.id != run_id))
        self._tracker.end_run(run_id, status)
        active = self._open_runs.pop(run_id, None)
        if active is not None:
            active.ended = True

    def active_run(self) -> ActiveRun | None:
        """The current run of this context, or None."""
        stack = _context.run_stack.get()
        return stack[-1] if stack else None

    def _active(self) -> ActiveRun:
        stack = _context.run_stack.get()
        if not stack:
            raise NoActiveRunError(
                "No run is active, so there is nothing to log to.",
                hint="Wrap the code in `with modelyard.start_run(experiment='name'):`.",
            )
        return stack[-1]

    # -- logging ---------------------------------------------------------------------------------------------
    def log_param(self, key: str, value: object) -> None:
        """Log one param of the current run."""
        self._tracker.log_params(self._active(), {key: value})

    def log_params(self, params: Mapping[str, object] | None = None, /, **kwargs: object) -> None:
        """Log params of the current run: ``log_params({"lr": 0.1})`` or ``log_params(lr=0.1)``."""
        self._tracker.log_params(self._active(), merged(params, kwargs, "params"))

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Log one metric value of the current run at ``step``."""
        self._tracker.log_metrics(self._active().id, {key: value}, step)

    def log_metrics(
        self, metrics: Mapping[str, float] | None = None, /, step: int | None = None, **kwargs: float
    ) -> None:
        """Log several metric values of the current run at one step."""
        self._tracker.log_metrics(self._active().id, merged(metrics, kwargs, "metrics"), step)

    def set_tag(self, key: str, value: object) -> None:
        """Set one tag of the current run."""
        self._tracker.set_tags(self._active().id, {key: value})

    def set_tags(self, tags: Mapping[str, object] | None = None, /, **kwargs: object) -> None:
        """Set tags of the current run."""
        self._tracker.set_tags(self._active().id, merged(tags, kwargs, "tags"))

    def set_run_tags(self, run_id: str, tags: Mapping[str, object]) -> None:
        """Set tags of any run by id (the current run's tags: ``set_tags``)."""
        self._tracker.set_tags(RunId(run_id), tags)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> list[ArtifactEntry]:
        """Store a file or folder with the current run, under ``name`` (default: its own name)."""
        run_id = self._active().id
        self._tracker.buffer.flush()  # the run itself may still be waiting to be written
        return self._run_files.log(run_id, path, name)

    def flush(self) -> None:
        """Write every buffered value now; raises the error of a failed background write."""
        self._tracker.buffer.flush()

    # -- lineage ---------------------------------------------------------------------------------------------
    def log_input(self, version: DatasetVersion | str, *, role: str = "input") -> None:
        """Record that the current run read (``input``) or produced (``output``) a dataset version."""
        run_id = self._active().id
        chosen = self.datasets.get(version) if isinstance(version, str) else version
        if not isinstance(chosen, DatasetVersion):
            raise InvalidInputError(
                f"log_input takes a dataset version or a reference such as 'flights@3', not {version!r}.",
                hint="Pass my.datasets.get('name@version').",
            )
        self._record_use(run_id, chosen, role)

    def run_inputs(self, run_id: str) -> list[LineageEntry]:
        """Dataset versions a run read or produced."""
        return self.datasets.inputs_of(run_id)

    def _on_dataset_use(self, version: DatasetVersion, role: str) -> None:
        stack = _context.run_stack.get()
        if stack:
            self._record_use(stack[-1].id, version, role)

    def _record_use(self, run_id: str, version: DatasetVersion, role: str) -> None:
        key = (run_id, version.id, role)
        if key in self._recorded_uses:
            return
        self._tracker.buffer.flush()  # the run may still be waiting to be written
        self.datasets.record_use(version, RunId(run_id), role)
        self._recorded_uses.add(key)

    # -- models ----------------------------------------------------------------------------------------------
    def log_model(
        self,
        model: object,
        name: str | None = "model",
        *,
        flavor: str | None = None,
        signature: Signature | None = None,
        input_example: object | None = None,
        requirements: Sequence[str] | None = None,
        trusted: bool = False,
        onnx: bool = False,
    ) -> ModelInfo:
        """Package ``model`` safely and store it with the current run (see ``modelyard.log_model``)."""
        run_id = self._active().id
        self._tracker.buffer.flush()  # the run itself may still be waiting to be written
        info = self.models.packages.log(
            model,
            run_id=run_id,
            name=check_name(name or "model", "Model name"),
            flavor=flavor,
            signature=signature,
            input_example=input_example,
            requirements=requirements,
            trusted=trusted,
            onnx=onnx,
            actor=self._tracker.get_run(run_id).context.user,
        )
        manifest = self.models.packages.manifest(info.digest)
        files = {**manifest.files, **{f: spec for rep in manifest.representations for f, spec in rep.files.items()}}
        entries = [
            ArtifactEntry(path=f"{info.name}/{file}", digest=Digest.parse(spec.digest), size_bytes=spec.size_bytes)
            for file, spec in sorted(files.items())
        ]
        self.metadata.runs.add_artifacts(run_id, entries)
        return info

    def register_model(
        self,
        name: str,
        source: Source,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Register a logged model as the next version of ``name`` (see ``modelyard.register_model``)."""
        self._tracker.buffer.flush()  # the source run's metrics become part of the version's record
        return self.models.register(name, source, description=description, tags=tags)

    def set_alias(self, name: str, alias: str, version: int, *, reason: str | None = None) -> ModelVersion:
        """Point ``alias`` of model ``name`` at ``version`` (see ``modelyard.set_alias``)."""
        return self.models.set_alias(name, alias, version, reason=reason)

    def _lineage_of(self, run_id: RunId) -> ModelLineage:
        run = self._tracker.get_run(run_id)
        inputs: list[str] = []
        pipeline_run: RunId | None = None
        current: Run | None = run
        while current is not None:  # a child run trains on what its parents read (one comparison, many fits)
            if pipeline_run is None and "pipeline.name" in current.tags:
                pipeline_run = current.id  # a step's run: the model came out of this pipeline run
            for entry in self.datasets.inputs_of(current.id):
                ref = f"{entry.dataset}@{entry.version}"
                if entry.role == "input" and ref not in inputs:
                    inputs.append(ref)
            current = None if current.parent_id is None else self._tracker.get_run(current.parent_id)
        return ModelLineage(
            run_id=run_id,
            experiment=run.experiment_name,
            git_commit=run.context.git_commit,
            git_dirty=run.context.git_dirty,
            environment_digest=run.context.environment_digest,
            datasets=tuple(inputs),
            pipeline_run_id=pipeline_run,
        )

    # -- reading ---------------------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """Return a run by id."""
        return self._tracker.get_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every logged point of one metric of a run, by step."""
        return self._tracker.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiment: str | Sequence[str],
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunPage:
        """Search runs (see ``modelyard.search_runs``)."""
        return self._tracker.search_runs(
            experiment, filter=filter, order_by=order_by, max_results=max_results, page_token=page_token
        )

    def list_experiments(self) -> list[Experiment]:
        """All experiments, by name, with their run counts."""
        return self._tracker.list_experiments()

    def get_experiment(self, name_or_id: str) -> Experiment:
        """One experiment by name or id."""
        return self._tracker.get_experiment(name_or_id)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactEntry]:
        """Files logged to a run, at or under ``path``."""
        return self._run_files.list(RunId(run_id), path)

    def download_artifacts(self, run_id: str, path: str = "", dest: str | os.PathLike[str] = ".") -> Path:
        """Download a run's file or folder ``path`` into ``dest`` (verifying every byte); return its local path."""
        return self._run_files.download(RunId(run_id), path, dest)
