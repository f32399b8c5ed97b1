"""Built-in steps: load and validate a dataset version, split, evaluate, check the model, register, promote.

They are ordinary steps (``modelyard.pipelines.builtins.split`` is a ``Step``) and compose with yours::

    from modelyard.pipelines import builtins as yard

    @my.pipeline
    def training(data: DatasetVersion = "flights@q1"):
        checked = yard.validate(data)                     # the dataset's data tests; failure stops the run
        train_set, test_set = yard.split(yard.load_dataset(checked), method="time", by="month")
        model = fit(train_set)                            # your step
        report = yard.check_model(model, test_set, target="late", champion="flights-delay@production",
                                  thresholds=[{"metric": "auc", "min": 0.65}])
        version = yard.register(model, name="flights-delay")
        yard.promote(version, report, alias="production")

``check_model``, ``register`` and ``promote`` never come from the cache: they read or move registry state
(the champion behind an alias, versions, aliases). ``register`` is idempotent by package digest and
``promote`` moves an alias only when the gate passed, recording why in the alias history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from modelyard import _context
from modelyard.data.models import DatasetVersion
from modelyard.errors import DataTestsFailedError, InvalidInputError, NotFoundError
from modelyard.pipelines.evaluation import Evaluation, evaluate_model
from modelyard.pipelines.gates import GateReport, Invariance, NoRegression, SliceCheck, Threshold
from modelyard.pipelines.gates import check_model as run_checks
from modelyard.pipelines.models import JsonRecord, OutputRef
from modelyard.pipelines.outputs import model_name
from modelyard.pipelines.splits import split_frame
from modelyard.pipelines.steps import step

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.client import Client
    from modelyard.data.checks import DataTests

__all__ = [
    "Promotion",
    "Registered",
    "check_model",
    "evaluate",
    "load_dataset",
    "promote",
    "register",
    "split",
    "validate",
]


def _client() -> Client:
    client = _context.current_client.get()
    if client is None:
        raise InvalidInputError("This step needs a modelyard client.", hint="Run it inside a pipeline.")
    return client


def _version(data: DatasetVersion | str) -> DatasetVersion:
    """The version a pipeline passed (resolved before the run), or a reference when the step is called directly."""
    return data if isinstance(data, DatasetVersion) else _client().datasets.get(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered(JsonRecord):
    """What ``register`` did: the version behind the model, and whether it was new."""

    name: str
    version: int
    package: str
    created: bool

    @property
    def ref(self) -> str:
        """``name/version``."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Promotion(JsonRecord):
    """The deploy decision: whether ``alias`` moved to the version, from where, and why."""

    name: str
    alias: str
    version: int
    moved: bool
    previous: int | None
    reason: str


@step
def load_dataset(data: DatasetVersion | str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a dataset version's table (or some of its columns) as a pandas DataFrame.

    ``data`` is a version or a reference (``flights@q1``), resolved to the exact version when the run starts.
    """
    frame: pd.DataFrame = _version(data).to_pandas(columns)
    return frame


@step
def validate(data: DatasetVersion | str, tests: DataTests | None = None) -> DatasetVersion:
    """Run the dataset's data tests (or ``tests``) on the version; stop the pipeline with the report on failure."""
    data = _version(data)
    report = data.validate(tests)
    if not report.passed:
        raise DataTestsFailedError(
            f"{data.ref} failed its data tests, so the pipeline stopped before training:\n{report.summary()}",
            report=report,
            hint="Fix the data and commit a new version, or run the pipeline on an earlier version.",
        )
    return data


@step(outputs=("train", "test"))
def split(
    frame: pd.DataFrame,
    method: Literal["random", "time", "group"] = "random",
    test_size: float = 0.2,
    by: str | None = None,
    seed: int = 0,
    cutoff: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a table into train and test: random (seeded), by time (no time value on both sides) or by group."""
    parts = split_frame(frame, method=method, test_size=test_size, by=by, seed=seed, cutoff=cutoff)
    return parts.train, parts.test


@step
def evaluate(
    model: object,
    frame: pd.DataFrame,
    target: str,
    task: Literal["auto", "classification", "regression"] = "auto",
    slices: list[str] | None = None,
    threshold: float = 0.5,
) -> Evaluation:
    """Classification or regression metrics of ``model`` on ``frame``, overall and per slice; logged as metrics."""
    result = evaluate_model(model, frame, target=target, task=task, slices=slices or (), threshold=threshold)
    _client().log_metrics(result.metrics)
    return result


def _records(kind: type[Any], items: Sequence[object] | None) -> list[Any]:
    """Checks given as records or as mappings (from a config file)."""
    return [item if isinstance(item, kind) else kind(**item) for item in items or ()]  # type: ignore[arg-type]


def _champion(ref: str | None) -> tuple[object | None, str | None]:
    if ref is None:
        return None, None
    try:
        predictor = _client().models.load(ref)
    except NotFoundError:
        return None, None  # no champion yet: the first model has nothing to beat
    version = predictor.version
    return predictor.model, version.ref if version is not None else ref


@step(cache=False)
def check_model(
    model: object,
    frame: pd.DataFrame,
    target: str,
    thresholds: list[Any] | None = None,
    slices: list[Any] | None = None,
    invariances: list[Any] | None = None,
    no_regression: list[Any] | None = None,
    champion: str | None = None,
) -> GateReport:
    """Post-train tests: thresholds, no regression against ``champion`` (``name@alias``) on the same rows, slices,
    invariance. Returns the report (``promote`` acts on it); never cached, since the champion can move.
    """  # noqa: D205
    baseline, baseline_name = _champion(champion)
    regressions = _records(NoRegression, no_regression)
    report = run_checks(
        model, frame, target=target, thresholds=_records(Threshold, thresholds), slices=_records(SliceCheck, slices),
        invariances=_records(Invariance, invariances), no_regression=regressions, baseline=baseline,
        baseline_name=baseline_name,
    )  # fmt: skip
    client = _client()
    client.set_tags({"gate.passed": str(report.passed).lower(), "gate.baseline": baseline_name or "none"})
    client.log_metrics({"gate_passed": 1.0 if report.passed else 0.0})
    return report


@step(cache=False)
def register(model: OutputRef, name: str, description: str | None = None) -> Registered:
    """Register the model a step produced as the next version of ``name`` (the same package twice: one version)."""
    if model.kind != "model" or model.run_id is None:
        raise InvalidInputError(
            f"register takes a model output of a step; {model.name!r} is a {model.kind} output.",
            hint="Pass the output of the step that returns the fitted model.",
        )
    client = _client()
    try:
        existing = [v for v in client.models.versions(name, limit=1000) if str(v.package) == model.digest]
    except NotFoundError:
        existing = []
    if existing:
        found = existing[0]
        return Registered(name=name, version=found.version, package=model.digest, created=False)
    step_name = client.get_run(model.run_id).tags.get("pipeline.step", model.name)
    source = f"runs:/{model.run_id}/{model_name(step_name, model.name)}"
    version = client.register_model(name, source, description=description)
    client.set_tags({"registered": version.ref})
    return Registered(name=name, version=version.version, package=model.digest, created=True)


@step(cache=False)
def promote(version: Registered, gate: GateReport | None = None, alias: str = "production") -> Promotion:
    """Move ``alias`` to the version only if the gate passed; record the decision and why."""
    client = _client()
    try:
        previous = client.models.get(version.name).aliases.get(alias)
    except NotFoundError:
        previous = None
    if gate is not None and not gate.passed:
        failed = ", ".join(check.name for check in gate.checks if not check.passed)
        reason = f"not promoted: the gate failed ({failed})"
        moved = False
    elif previous == version.version:
        reason, moved = f"{alias} already points at version {version.version}", False
    else:
        reason = "gate passed" if gate is not None else "no gate"
        client.set_alias(version.name, alias, version.version, reason=f"pipeline {reason}")
        moved = True
    client.set_tags({"promotion": reason[:500]})
    return Promotion(
        name=version.name, alias=alias, version=version.version, moved=moved, previous=previous, reason=reason
    )
