"""The functional API: each function takes the current client and calls its method of the same name."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from modelyard import _context

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.data.checks import DataTests
    from modelyard.data.models import (
        CheckPolicy,
        CheckReport,
        DataDiff,
        Dataset,
        DatasetVersion,
        SyncReport,
        TagEvent,
        WorkStatus,
    )
    from modelyard.pipelines.definitions import Pipeline
    from modelyard.pipelines.outputs import Serializer
    from modelyard.registry.models import (
        Event,
        HistoryEntry,
        ModelInfo,
        ModelVersion,
        PackageManifest,
        RegisteredModel,
        Signature,
        TrustGrant,
        VersionStatus,
    )
    from modelyard.registry.packages import Predictor
    from modelyard.registry.versions import Source
    from modelyard.tracking.models import ArtifactEntry, Experiment, MetricPoint, Run, RunPage, RunStatus
    from modelyard.tracking.runs import ActiveRun


def connect(uri: str | os.PathLike[str] | None = None, *, artifacts: str | None = None) -> Client:
    """Connect to a modelyard home and make it the current client.

    Args:
        uri: a folder (default ``./.modelyard``: one SQLite file + a blobs folder), ``sqlite:///path.db`` or
            ``postgresql://user@host/db``. Defaults to ``MODELYARD_URI``.
        artifacts: ``s3://bucket/prefix`` or a folder; required with PostgreSQL. Defaults to
            ``MODELYARD_ARTIFACTS``.

    Returns:
        The client, also used by every ``modelyard.*`` function in this context from now on.

    Example:
        >>> import modelyard as my
        >>> client = my.connect(tmp_home)
        >>> client.list_experiments()
        []

    Added in 0.1.
    """
    from modelyard.client import Client

    client = Client(uri, artifacts=artifacts)
    _context.current_client.set(client)
    _context.process_client[:] = [client]
    return client


def current_client() -> Client:
    """Return the client of this context, connecting to the default home on first use."""
    client = _context.current_client.get()
    if client is None:
        client = _context.process_client[0] if _context.process_client else connect()
        _context.current_client.set(client)
    return client


def start_run(
    experiment: str | None = None,
    *,
    name: str | None = None,
    tags: Mapping[str, object] | None = None,
    parent: str | ActiveRun | Run | None = None,
    run_id: str | None = None,
) -> ActiveRun:
    """Start a run (or continue a RUNNING one); use it as a context manager so it always ends.

    A run started while another is active in this context becomes its child. Leaving the ``with`` block
    ends the run as FINISHED, or FAILED when an exception escapes (KILLED on Ctrl-C), after writing every
    value it logged.

    Args:
        experiment: experiment name (created if missing); defaults to the parent's or ``"default"``.
        name: a display name (default ``run-<id prefix>``).
        tags: initial tags.
        parent: parent run (id or record) for nested runs.
        run_id: continue this RUNNING run instead of starting one (another process started it, e.g. a
            pipeline runner's worker). Changed in 0.1.

    Returns:
        The active run; ``run.id`` is its id.

    Example:
        >>> with my.start_run(experiment="churn") as run:
        ...     my.log_params({"lr": 0.1})
        ...     my.log_metric("auc", 0.91)

    Added in 0.1.
    """
    return current_client().start_run(experiment, name=name, tags=tags, parent=parent, run_id=run_id)


def end_run(status: RunStatus | str = "FINISHED") -> Run:
    """End the current run (FINISHED, FAILED or KILLED) after writing what it logged; return its record."""
    return current_client().end_run(status)


def active_run() -> ActiveRun | None:
    """The current run of this context, or None."""
    return current_client().active_run()


def log_param(key: str, value: object) -> None:
    """Log a param of the current run; a param cannot change once logged."""
    current_client().log_param(key, value)


def log_params(params: Mapping[str, object] | None = None, /, **kwargs: object) -> None:
    """Log params of the current run: ``log_params({"lr": 0.1})`` or ``log_params(lr=0.1)``."""
    current_client().log_params(params, **kwargs)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric value of the current run at ``step`` (default 0); buffered, written in the background."""
    current_client().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float] | None = None, /, step: int | None = None, **kwargs: float) -> None:
    """Log several metric values of the current run at one step."""
    current_client().log_metrics(metrics, step=step, **kwargs)


def set_tag(key: str, value: object) -> None:
    """Set a tag of the current run (tags may change)."""
    current_client().set_tag(key, value)


def set_tags(tags: Mapping[str, object] | None = None, /, **kwargs: object) -> None:
    """Set tags of the current run."""
    current_client().set_tags(tags, **kwargs)


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> list[ArtifactEntry]:
    """Store a file or folder with the current run under ``name`` (default: its own name)."""
    return current_client().log_artifact(path, name)


def flush() -> None:
    """Write every buffered value now."""
    current_client().flush()


def get_run(run_id: str) -> Run:
    """Return a run by id, with params, tags and metric summaries (last, min, max)."""
    return current_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[MetricPoint]:
    """Every point of one metric of a run."""
    return current_client().get_metric_history(run_id, key)


def search_runs(
    experiment: str | Sequence[str],
    filter: str | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
) -> RunPage:
    """Search the runs of one or more experiments.

    Args:
        experiment: experiment name(s).
        filter: e.g. ``"metrics.auc > 0.9 and params.model = 'xgb' or tags.team in ('risk', 'ops')"``;
            ``min(metrics.loss)`` / ``max(...)`` compare a metric's extremes, ``metrics.x`` its last value;
            ``attributes.status``, ``attributes.start_time``, ``attributes.name`` and ``like`` patterns work too.
        order_by: e.g. ``["metrics.auc DESC", "params.lr"]``; runs missing a value sort last.
        max_results: page size (1 to 50,000).
        page_token: ``next_page_token`` of the previous page.

    Returns:
        A page of runs; ``page.to_pandas()`` gives a DataFrame.

    Example:
        >>> best = my.search_runs("churn", order_by="metrics.auc DESC", max_results=1)[0]

    Added in 0.1.
    """
    return current_client().search_runs(experiment, filter, order_by, max_results, page_token)


def list_experiments() -> list[Experiment]:
    """All experiments with their run counts."""
    return current_client().list_experiments()


def list_artifacts(run_id: str, path: str = "") -> list[ArtifactEntry]:
    """Files logged to a run, at or under ``path``."""
    return current_client().list_artifacts(run_id, path)


def download_artifacts(run_id: str, path: str = "", dest: str | os.PathLike[str] = ".") -> Path:
    """Download a run's file or folder into ``dest`` (digests verified); returns the local path."""
    return current_client().download_artifacts(run_id, path, dest)


def log_input(version: DatasetVersion | str, *, role: str = "input") -> None:
    """Record that the current run read (or, with ``role="output"``, produced) a dataset version.

    Reading a version through the API inside a run records it automatically; call this for data read
    another way.

    Example:
        >>> with my.start_run(experiment="churn"):
        ...     my.log_input("flights@3")

    Added in 0.1.
    """
    current_client().log_input(version, role=role)


def _remote(remote: Client | str | os.PathLike[str]) -> Client:
    from modelyard.client import Client

    return remote if isinstance(remote, Client) else Client(remote)


class DatasetsAPI:
    """``modelyard.datasets``: versioned datasets on the current client (each method calls ``Client.datasets``).

    Example:
        >>> v = my.datasets.commit("flights", frame, message="January")
        >>> my.datasets.get("flights@latest").to_pandas()

    Added in 0.1.
    """

    def commit(
        self,
        name: str,
        source: object,
        message: str | None = None,
        tags: Sequence[str] = (),
        *,
        tests: DataTests | None = None,
        tabular: bool | None = None,
    ) -> DatasetVersion:
        """Store a file, folder, DataFrame or Arrow table as the next version of dataset ``name``.

        Identical content to the newest version returns that version instead of a duplicate. Tabular data
        (Parquet, CSV, DataFrames) gets a schema and statistics, and the dataset's attached data tests (or
        ``tests``) run in the same pass; a failing suite refuses the commit or marks it failed, by policy.

        Args:
            name: the dataset (created on first commit).
            source: a path to a file or folder, a pandas/polars DataFrame or a pyarrow Table.
            message: what this version is.
            tags: tags to point at the new version.
            tests: data tests to run instead of the attached suite.
            tabular: False to skip profiling; True to require a table.

        Returns:
            The version (``.number``, ``.digest``, ``.profile``, ``.stored_bytes`` newly stored).

        Raises:
            DataTestsFailedError: the data failed its tests and the policy is ``refuse``.
            NotFoundError: the path does not exist.
            InvalidInputError: an empty folder, a link, an unsupported type, a bad name, an unreadable table.
        """
        return current_client().datasets.commit(name, source, message=message, tags=tags, tests=tests, tabular=tabular)

    def get(self, ref: str) -> DatasetVersion:
        """The version ``ref`` names: ``"flights@3"``, ``"flights@latest"`` (or ``"flights"``), ``"flights@golden"``."""
        return current_client().datasets.get(ref)

    def get_dataset(self, name: str) -> Dataset:
        """One dataset: its version count, latest and newest version, data-test policy."""
        return current_client().datasets.get_dataset(name)

    def list(self) -> list[Dataset]:
        """All datasets."""
        return current_client().datasets.list()

    def versions(self, name: str, *, limit: int | None = None) -> builtins.list[DatasetVersion]:
        """Versions of a dataset, newest first."""
        return current_client().datasets.versions(name, limit=limit)

    def tag(self, ref: str, tag: str, *, reason: str | None = None) -> TagEvent:
        """Point ``tag`` at a version (creating or moving it); every move is recorded."""
        return current_client().datasets.tag(ref, tag, reason=reason)

    def untag(self, name: str, tag: str, *, reason: str | None = None) -> TagEvent | None:
        """Remove a tag (idempotent)."""
        return current_client().datasets.untag(name, tag, reason=reason)

    def tag_history(self, name: str, tag: str | None = None) -> builtins.list[TagEvent]:
        """Every recorded tag move of a dataset, oldest first."""
        return current_client().datasets.tag_history(name, tag)

    def diff(self, a: str, b: str) -> DataDiff:
        """What changed between two versions: files, schema, row counts, statistics."""
        return current_client().datasets.diff(a, b)

    def attach_tests(self, name: str, tests: DataTests | None, *, policy: CheckPolicy | str = "refuse") -> Dataset:
        """Attach data tests that run on every commit of ``name`` (None detaches); policy ``refuse`` or ``mark``."""
        return current_client().datasets.attach_tests(name, tests, policy=policy)

    def validate(self, ref: str, tests: DataTests | None = None) -> CheckReport:
        """Run data tests (default: the attached suite) on a stored version."""
        return current_client().datasets.validate(ref, tests)

    def checkout(self, ref: str, dest: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write a version's files into the folder ``dest`` (verified)."""
        return current_client().datasets.checkout(ref, dest, overwrite=overwrite)

    def status(self, folder: str | os.PathLike[str], *, dataset: str | None = None) -> WorkStatus:
        """What changed in a working folder since it was committed or checked out (uses the stat cache)."""
        return current_client().datasets.status(folder, dataset=dataset)

    def push(self, ref: str, remote: Client | str | os.PathLike[str]) -> SyncReport:
        """Copy a dataset's versions up to ``ref`` to another store (a Client, or a home folder/URI)."""
        return current_client().datasets.push(ref, _remote(remote))

    def pull(self, ref: str, remote: Client | str | os.PathLike[str]) -> SyncReport:
        """Copy a dataset's versions up to ``ref`` from another store into the current one."""
        return current_client().datasets.pull(ref, _remote(remote))


datasets = DatasetsAPI()


# -- models ------------------------------------------------------------------------------------------------------
def log_model(
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
    """Package a model safely and store it with the current run.

    The flavor is detected (scikit-learn incl. pipelines, XGBoost, LightGBM, ONNX, PyTorch; any object with
    ``predict`` as pickle, only with ``trusted=True``). The signature is inferred from ``input_example``, the
    requirements are read from the live environment, and every file is stored under its digest.

    Args:
        model: the fitted model.
        name: its name inside the run (``runs:/<run id>/<name>``); None means ``"model"``.
        flavor: force a flavor instead of detecting it.
        signature: the input/output schema (default: inferred from ``input_example``).
        input_example: a few rows of training input (DataFrame, array, records); stored with the package.
        requirements: pip requirements to record instead of the detected ones.
        trusted: trust this one package to load with a code-executing format (pickle) or types outside the
            safe list; the grant is bound to the package digest.
        onnx: also store an ONNX form (scikit-learn, with an input example), checked for parity.

    Returns:
        The logged model: ``.uri``, ``.digest``, ``.flavor``, ``.signature``, ``.requirements``.

    Raises:
        NoActiveRunError: no run is active.
        InvalidInputError: no flavor fits, or the model can only be stored unsafely and is not trusted.

    Example:
        >>> with my.start_run(experiment="churn"):
        ...     info = my.log_model(pipeline, input_example=x_train.head(5))

    Added in 0.1.
    """
    return current_client().log_model(
        model,
        name,
        flavor=flavor,
        signature=signature,
        input_example=input_example,
        requirements=requirements,
        trusted=trusted,
        onnx=onnx,
    )


def register_model(
    name: str, source: Source, *, description: str | None = None, tags: Mapping[str, str] | None = None
) -> ModelVersion:
    """Register a logged model as the next version of ``name`` (created on first use).

    Args:
        name: the registered model.
        source: what ``log_model`` returned, ``"runs:/<run id>/<name>"``, a version or a package digest.
        description: what this version is.
        tags: tags of the version.

    Returns:
        The version (``.version`` number, ``.package`` digest, the source run's ``.metrics`` and ``.params``,
        ``.lineage``).

    Example:
        >>> mv = my.register_model("churn", info)

    Added in 0.1.
    """
    return current_client().register_model(name, source, description=description, tags=tags)


def set_alias(name: str, alias: str, version: int, *, reason: str | None = None) -> ModelVersion:
    """Point ``alias`` of model ``name`` at ``version``; the move (who, when, from, to, why) is recorded.

    Example:
        >>> my.set_alias("churn", "production", 3, reason="beats v2 on March")

    Added in 0.1.
    """
    return current_client().set_alias(name, alias, version, reason=reason)


class ModelsAPI:
    """``modelyard.models``: the model registry of the current client (each method calls ``Client.models``).

    Example:
        >>> my.models.load("churn@production").predict(frame)
        >>> my.models.history("churn")

    Added in 0.1.
    """

    def load(self, ref: Source, *, representation: Literal["onnx"] | None = None, cache: bool = True) -> Predictor:
        """Load ``churn@production``, ``churn/3``, ``runs:/<id>/model`` or a digest as a predictor."""
        return current_client().models.load(ref, representation=representation, cache=cache)

    def get(self, name: str) -> RegisteredModel:
        """A registered model with its aliases and tags."""
        return current_client().models.get(name)

    def list(self) -> builtins.list[RegisteredModel]:
        """All registered models."""
        return current_client().models.list()

    def get_version(self, ref: str) -> ModelVersion:
        """A version by reference (``churn@production``, ``churn/3``, ``churn/latest``)."""
        return current_client().models.get_version(ref)

    def versions(self, name: str, *, limit: int = 100) -> builtins.list[ModelVersion]:
        """Versions of a model, newest first."""
        return current_client().models.versions(name, limit=limit)

    def search(
        self,
        name: str | None = None,
        *,
        filter: str | None = None,
        alias: str | None = None,
        tags: Mapping[str, str] | None = None,
        status: VersionStatus | str | None = None,
        order_by: str = "version desc",
        limit: int = 100,
    ) -> builtins.list[ModelVersion]:
        """Versions by model, alias, tags, status and ``metrics.auc > 0.8``-style filters."""
        return current_client().models.search(
            name, filter=filter, alias=alias, tags=tags, status=status, order_by=order_by, limit=limit
        )

    def history(self, name: str, *, alias: str | None = None) -> builtins.list[HistoryEntry]:
        """Every recorded change of a model (or every move of one alias), oldest first."""
        return current_client().models.history(name, alias=alias)

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> HistoryEntry | None:
        """Remove an alias (idempotent; recorded)."""
        return current_client().models.delete_alias(name, alias, reason=reason)

    def set_tag(self, ref: str, key: str, value: object, *, reason: str | None = None) -> HistoryEntry:
        """Tag a model (``churn``) or a version (``churn/3``)."""
        return current_client().models.set_tag(ref, key, value, reason=reason)

    def delete_tag(self, ref: str, key: str, *, reason: str | None = None) -> HistoryEntry:
        """Remove a tag of a model or a version."""
        return current_client().models.delete_tag(ref, key, reason=reason)

    def set_description(self, ref: str, description: str) -> HistoryEntry:
        """Describe a model or a version."""
        return current_client().models.set_description(ref, description)

    def set_status(self, ref: str, status: VersionStatus | str, *, reason: str | None = None) -> HistoryEntry:
        """Mark a version ``ready`` or ``archived``."""
        return current_client().models.set_status(ref, status, reason=reason)

    def delete_version(self, ref: str, *, reason: str | None = None) -> None:
        """Delete a version (refused while an alias points at it)."""
        current_client().models.delete_version(ref, reason=reason)

    def delete_model(self, name: str, *, confirm: bool = False, reason: str | None = None) -> None:
        """Delete a model and its versions; needs ``confirm=True``."""
        current_client().models.delete_model(name, confirm=confirm, reason=reason)

    def trust(self, ref: str, *, reason: str) -> TrustGrant:
        """Trust one package (bound to its digest) to load with a code-executing format."""
        return current_client().models.trust(ref, reason=reason)

    def manifest(self, ref: str) -> PackageManifest:
        """The package manifest of a version."""
        return current_client().models.manifest(ref)

    def download(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """Write a version's package files and manifest into a new folder."""
        return current_client().models.download(ref, dest)


models = ModelsAPI()


class EventsAPI:
    """``modelyard.events``: the ordered event log (versions registered, aliases moved) of the current client.

    Added in 0.1.
    """

    def since(self, cursor: int = 0, *, limit: int = 1000, kinds: Sequence[str] = ()) -> builtins.list[Event]:
        """Events after ``cursor`` (the id of the last event handled; 0 to start), oldest first."""
        return current_client().events.since(cursor, limit=limit, kinds=kinds)


events = EventsAPI()


@overload
def pipeline(function: Callable[..., object], /) -> Pipeline: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    serializers: Sequence[Serializer] = (),
    record_types: Sequence[type] = (),
    config: str | os.PathLike[str] | None = None,
) -> Callable[[Callable[..., object]], Pipeline]: ...


def pipeline(
    function: Callable[..., object] | None = None,
    /,
    *,
    name: str | None = None,
    serializers: Sequence[Serializer] = (),
    record_types: Sequence[type] = (),
    config: str | os.PathLike[str] | None = None,
) -> Pipeline | Callable[[Callable[..., object]], Pipeline]:
    """Make a function that calls steps a pipeline; ``pipeline.run(**params)`` runs it on the current client.

    The graph follows the data: a step's output passed to another step is an edge. Calling the function
    traces it (steps record themselves, nothing runs), so it must only call steps and pass their outputs on.

    Args:
        function: the pipeline function; its parameters are the pipeline's parameters.
        name: the pipeline's name (default: the function's); runs are tracked in an experiment of that name.
        serializers: extra output serializers for types modelyard does not store itself.
        record_types: your record classes (``to_json``/``from_json``) to store as JSON outputs.
        config: a default config file (TOML, YAML or JSON): pipeline params at the top level, a table per step.

    Returns:
        A ``Pipeline``: ``.run(...)`` returns a ``PipelineRun``; ``.graph()`` the checked graph.

    Example:
        >>> @my.pipeline
        ... def training(data: str = "flights@q1", max_depth: int = 8):
        ...     frame = load(data)
        ...     model = train(frame, max_depth=max_depth)
        ...     evaluate(model, frame)
        >>> run = training.run(max_depth=10)  # doctest: +SKIP

    Added in 0.1.
    """
    from modelyard.pipelines.definitions import pipeline as define

    return define(  # type: ignore[call-overload, no-any-return]
        function, name=name, serializers=serializers, record_types=record_types,
        config=None if config is None else os.fspath(config), connect=current_client,
    )  # fmt: skip
