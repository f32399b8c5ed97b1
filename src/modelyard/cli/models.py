"""``modelyard models``: registered models and their versions: list, show, search, register, download, check.

A version is named ``NAME/NUMBER``, ``NAME@ALIAS`` or ``NAME/latest`` (the newest ``ready`` version), also
with MLflow's ``models:/`` prefix; where a command takes a model or a version (``show``, ``tag``, ``delete``),
plain ``NAME`` is the model. Commands that change what is recorded in a model's history (``alias``, ``tag``,
``status``, ``trust``, ``delete``) and ``history`` itself live in ``models_admin``. Every command takes
``--json``. ``load-check`` loads a version through the loader guard and predicts on its stored input example;
it exits non-zero when the package is unsafe or the example does not fit, so it works as a CI step.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelyard.cli import models_admin, output
from modelyard.cli.commands import ModelyardGroup
from modelyard.cli.runs import SHORT_ID
from modelyard.cli.session import current_client
from modelyard.errors import InvalidInputError, ModelyardError

if TYPE_CHECKING:
    from modelyard.registry.models import ModelVersion, PackageManifest, RegisteredModel, Signature
    from modelyard.registry.packages import Predictor

__all__ = ["model_json", "models", "version_json"]

_METRIC_COLUMNS = 4
_PREDICTIONS = 5
_MENTION = re.compile(r"metrics\.([A-Za-z0-9_.\-/]+)")


@click.group(cls=ModelyardGroup)
def models() -> None:
    """Models: registered versions of logged models, movable aliases, and an audited history.

    Examples:
        modelyard models register churn runs:/3f2a9c1e0d4b4c5f8e7a6b5c4d3e2f1a/model
        modelyard models alias churn production 3 --reason "beat 2 on the holdout"
        modelyard models show churn@production
        modelyard models versions churn --filter "metrics.auc > 0.8" --order-by "metrics.auc desc"
        modelyard models load-check churn@production
    """


# -- JSON forms ----------------------------------------------------------------------------------------------
def model_json(model: RegisteredModel) -> dict[str, object]:
    """The JSON form of a registered model (``aliases`` maps each alias to its version)."""
    return {
        "name": model.name,
        "description": model.description,
        "version_count": model.version_count,
        "latest_version": model.latest_version,
        "aliases": dict(sorted(model.aliases.items())),
        "tags": dict(sorted(model.tags.items())),
        "created_at": output.iso_time(model.created_at),
        "updated_at": output.iso_time(model.updated_at),
    }


def version_json(version: ModelVersion) -> dict[str, object]:
    """The JSON form of a version: package, source, lineage, and the metrics and params of its source run."""
    return {
        "name": version.name,
        "version": version.version,
        "ref": version.ref,
        "uri": version.uri,
        "package": str(version.package),
        "flavor": version.flavor,
        "source": version.source,
        "status": version.status.value,
        "description": version.description,
        "created_at": output.iso_time(version.created_at),
        "actor": version.actor,
        "run_id": version.run_id,
        "lineage": version.lineage.to_json(),
        "aliases": sorted(version.aliases),
        "tags": dict(sorted(version.tags.items())),
        "metrics": dict(sorted(version.metrics.items())),
        "params": dict(sorted(version.params.items())),
    }


def _parse_tags(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in values:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. --tag team=risk).", ctx=ctx, param=param)
        tags[key.strip()] = value
    return tags


def _pairs(values: Mapping[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(values.items()))


# -- listing -------------------------------------------------------------------------------------------------
@models.command("list")
@output.json_option
def list_models(as_json: bool) -> None:
    """List registered models with their version counts, latest versions and aliases.

    Examples:
        modelyard models list
    """
    found = current_client().models.list()
    if as_json:
        output.print_json({"models": [model_json(m) for m in found]})
        return
    if not found:
        output.note("No registered models yet. Register one: `modelyard models register NAME runs:/<run id>/model`.")
        return
    table = output.new_table("name", "versions", "latest", "aliases", "updated", numeric=("versions", "latest"))
    for m in found:
        latest = "-" if m.latest_version is None else str(m.latest_version)
        aliases = _pairs(m.aliases) or "-"
        table.add_row(m.name, str(m.version_count), latest, aliases, output.format_local_time(m.updated_at))
    output.print_renderable(table)


def _metric_keys(found: Sequence[ModelVersion], mentioned: str) -> tuple[list[str], int]:
    """The metrics to show as columns (those the filter or order mentions first) and how many are left out."""
    present = sorted({key for v in found for key in v.metrics})
    first = [key for key in dict.fromkeys(_MENTION.findall(mentioned)) if key in present]
    ordered = first + [key for key in present if key not in first]
    return ordered[:_METRIC_COLUMNS], max(0, len(ordered) - _METRIC_COLUMNS)


def _print_versions(found: Sequence[ModelVersion], *, title: str | None = None, mentioned: str = "") -> None:
    keys, hidden = _metric_keys(found, mentioned)
    metrics = [f"metrics.{key}" for key in keys]
    table = output.new_table(
        "version", "created", "status", "aliases", "flavor", "run", *metrics, "tags",
        title=title, numeric=("version", *metrics),
    )  # fmt: skip
    for v in found:
        table.add_row(
            str(v.version),
            output.format_local_time(v.created_at, seconds=False),
            v.status.value,
            ", ".join(sorted(v.aliases)),
            v.flavor,
            "-" if v.run_id is None else v.run_id[:SHORT_ID],
            *(output.format_number(v.metrics.get(key)) for key in keys),
            _pairs(v.tags),
        )
    output.print_renderable(table)
    if hidden:
        output.note(f"{output.plural(hidden, 'more metric')} not shown: use --json or `modelyard models show REF`.")


@models.command("versions")
@click.argument("name")
@click.option("--filter", "filter_text", metavar="EXPR", help="e.g. \"metrics.auc > 0.8 and tags.team = 'risk'\".")
@click.option("--alias", "alias_name", metavar="ALIAS", help="Only the version this alias points at.")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_tags,
    help="Only versions with this tag (repeatable).",
)
@click.option(
    "--order-by", default="version desc", show_default=True, help="version, created or metrics.KEY; asc/desc."
)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True, help="Show at most this many.")
@output.json_option
def versions(
    name: str,
    filter_text: str | None,
    alias_name: str | None,
    tags: dict[str, str],
    order_by: str,
    limit: int,
    as_json: bool,
) -> None:
    """List or search the versions of model NAME, newest first unless --order-by says otherwise.

    The filter compares metrics (numbers) and params or tags (quoted text) of each version's source run,
    joined by 'and'. Archived versions are listed too.

    Examples:
        modelyard models versions churn
        modelyard models versions churn --filter "metrics.auc > 0.8" --order-by "metrics.auc desc" --limit 3
        modelyard models versions churn --tag team=risk --json
    """
    client = current_client()
    model = client.models.get(models_admin.model_name(name))  # an unknown name gets close matches, not []
    found = client.models.search(
        model.name, filter=filter_text, alias=alias_name, tags=tags, order_by=order_by, limit=limit
    )
    if as_json:
        output.print_json({"model": model.name, "versions": [version_json(v) for v in found]})
        return
    if not found:
        output.note(f"No versions of {model.name} match.")
        return
    _print_versions(found, mentioned=f"{filter_text or ''} {order_by}")


# -- showing -------------------------------------------------------------------------------------------------
def _print_model(model: RegisteredModel, found: Sequence[ModelVersion]) -> None:
    latest = "-" if model.latest_version is None else str(model.latest_version)
    lines = [
        f"{model.name}  {output.plural(model.version_count, 'version')}, latest {latest}",
        f"created {output.format_local_time(model.created_at)}, updated {output.format_local_time(model.updated_at)}",
        f"description: {model.description or '-'}",
        f"aliases: {_pairs(model.aliases) or '-'}",
        f"tags: {_pairs(model.tags) or '-'}",
    ]
    output.print_renderable("\n".join(lines))
    if found:
        _print_versions(found, title="versions")
    if len(found) < model.version_count:
        output.note(f"Showing the newest {len(found)}: `modelyard models versions {model.name} --limit N` lists more.")


def _print_signature(signature: Signature | None) -> None:
    if signature is None:
        output.print_renderable("signature: none (inputs are not checked)")
        return
    for label, spec in (("inputs", signature.inputs), ("outputs", signature.outputs)):
        if isinstance(spec, tuple):
            table = output.new_table("column", "type", "nullable", title=f"signature {label}")
            for column in spec:
                table.add_row(column.name, column.type, "yes" if column.nullable else "no")
            output.print_renderable(table)
        elif spec is not None:
            shape = "(" + ", ".join("*" if d == -1 else str(d) for d in spec.shape) + ")"
            output.print_renderable(f"signature {label}: tensor of {spec.dtype}, shape {shape}")


def _print_version(version: ModelVersion, manifest: PackageManifest) -> None:
    lineage = version.lineage
    git = "-" if not lineage.git_commit else lineage.git_commit[:12] + (" (dirty)" if lineage.git_dirty else "")
    lines = [
        f"{version.ref}  {version.package}",
        f"{version.flavor} ({manifest.format}): {manifest.model_class}; status {version.status.value}",
        f"created {output.format_local_time(version.created_at)} by {version.actor or '-'}",
        f"description: {version.description or '-'}",
        f"source: {version.source}; run {version.run_id or '-'}",
        f"lineage: experiment {lineage.experiment or '-'}; git {git}; datasets {', '.join(lineage.datasets) or '-'}; "
        f"environment {models_admin.short_digest(lineage.environment_digest)}",
        f"aliases: {', '.join(sorted(version.aliases)) or '-'}",
        f"tags: {_pairs(version.tags) or '-'}",
        f"requirements: {', '.join(manifest.requirements) or '-'} (Python {manifest.python_version})",
    ]
    lines += [
        f"representation {r.format}: max difference {output.format_number(r.max_abs_difference) or '-'} "
        f"on the input example (tolerance {output.format_number(r.tolerance) or '-'})"
        for r in manifest.representations
    ]
    output.print_renderable("\n".join(lines))
    _print_signature(manifest.signature)
    if version.metrics:
        metrics = output.new_table("metric", "value", title="metrics", numeric=("value",))
        for key, value in sorted(version.metrics.items()):
            metrics.add_row(key, output.format_number(value))
        output.print_renderable(metrics)
    if version.params:
        params = output.new_table("param", "value", title="params")
        for key, text in sorted(version.params.items()):
            params.add_row(key, text)
        output.print_renderable(params)


@models.command("show")
@click.argument("ref")
@output.json_option
def show(ref: str, as_json: bool) -> None:
    """Show a model (churn) with its versions, or one version (churn/3, churn@production) in full.

    A version shows its package (digest, flavor, model class, signature, requirements, other forms), its
    source and lineage (run, experiment, git commit, datasets, environment), the metrics and params of the
    source run, its aliases and tags.

    Examples:
        modelyard models show churn
        modelyard models show churn@production
        modelyard models show churn/3 --json | jq '.manifest.signature'
    """
    client = current_client()
    if not models_admin.is_version_ref(ref):
        model = client.models.get(models_admin.model_name(ref))
        found = client.models.versions(model.name)
        if as_json:
            output.print_json({**model_json(model), "versions": [version_json(v) for v in found]})
        else:
            _print_model(model, found)
        return
    version = client.models.get_version(ref)
    manifest = client.models.manifest(version.ref)  # by number: an alias could move between the two reads
    if as_json:
        output.print_json({**version_json(version), "manifest": manifest.model_dump(mode="json")})
    else:
        _print_version(version, manifest)


# -- registering and downloading -----------------------------------------------------------------------------
@models.command("register")
@click.argument("name")
@click.argument("source")
@click.option("--description", help="What this version is.")
@click.option(
    "--tag", "tags", multiple=True, metavar="KEY=VALUE", callback=_parse_tags, help="Tag the version (repeatable)."
)
@output.json_option
def register(name: str, source: str, description: str | None, tags: dict[str, str], as_json: bool) -> None:
    """Register SOURCE as the next version of model NAME (the model is created on its first version).

    SOURCE is a model a run logged, runs:/<run id>/<name>, or a package digest, blake3:<hex>. The version
    records the run's lineage and, from then on, its metrics and params.

    Examples:
        modelyard models register churn runs:/3f2a9c1e0d4b4c5f8e7a6b5c4d3e2f1a/model --tag team=risk
        modelyard models register churn blake3:9c1e... --description "retrained on March"
    """
    version = current_client().register_model(name, source, description=description, tags=tags)
    if as_json:
        output.print_json(version_json(version))
        return
    output.print_renderable(
        f"registered {version.ref}: {version.flavor}, package {models_admin.short_digest(str(version.package))}"
    )


@models.command("download")
@click.argument("ref")
@click.argument("dest", type=click.Path(path_type=Path))
@output.json_option
def download(ref: str, dest: Path, as_json: bool) -> None:
    """Write the files of a version's package and its manifest.json into the new or empty folder DEST.

    Examples:
        modelyard models download churn@production ./churn-model
    """
    target = current_client().models.download(ref, dest)
    files = sorted(path for path in target.rglob("*") if path.is_file())
    if as_json:
        entries = [{"path": p.relative_to(target).as_posix(), "size_bytes": p.stat().st_size} for p in files]
        output.print_json({"ref": ref, "path": str(target), "files": entries})
        return
    size = output.format_bytes(sum(p.stat().st_size for p in files))
    output.print_renderable(f"{ref}: {output.plural(len(files), 'file')} ({size}) written to {target}")


# -- load-check ----------------------------------------------------------------------------------------------
def _example_input(rows: list[object], signature: Signature | None) -> object:
    """Records become a DataFrame for a table signature; nested lists go to the model as they are."""
    records = [row for row in rows if isinstance(row, dict)]
    if signature is not None and isinstance(signature.inputs, tuple) and len(records) == len(rows):
        import pandas as pd

        return pd.DataFrame.from_records(records)
    return rows


def _predict(predictor: Predictor, data: object, label: str) -> object:
    try:
        return predictor.predict(data)
    except ModelyardError:
        raise
    except Exception as exc:  # the user's model: any failure on its own example is the finding, as in log_model
        raise InvalidInputError(
            f"{label} failed to predict on its stored input example: {type(exc).__name__}: {exc}.",
            hint="Load it in Python with my.models.load(REF) to debug, then log and register a fixed model.",
        ) from exc


def _plain(values: object) -> object:
    """Predictions as JSON-ready Python values (numpy and pandas converted, NaN and infinities as null)."""
    to_numpy = getattr(values, "to_numpy", None)
    if callable(to_numpy):
        values = to_numpy()
    to_list = getattr(values, "tolist", None)
    if callable(to_list):
        values = to_list()
    if isinstance(values, list | tuple):
        return [_plain(v) for v in values]
    if isinstance(values, float) and not math.isfinite(values):
        return None
    return values


@models.command("load-check")
@click.argument("ref")
@output.json_option
def load_check(ref: str, as_json: bool) -> None:
    """Load REF as serving would and predict on its stored input example; exit non-zero if either fails.

    The package is read from the store (no cache), checked by the loader guard, and its input example is
    validated against the signature before the model sees it. An untrusted pickle, a tampered package or an
    example that no longer fits the signature exits with status 2 and the error's hint. Use it in CI.

    Examples:
        modelyard models load-check churn@production
        modelyard models load-check churn/4 --json
    """
    client = current_client()
    started = time.perf_counter()
    predictor = client.models.load(ref, cache=False)
    load_s = time.perf_counter() - started
    label = ref if predictor.version is None else predictor.version.ref
    rows = client.models.example(str(predictor.digest))  # by digest: the package that was loaded, exactly
    if not rows:
        raise InvalidInputError(
            f"{label} has no stored input example, so nothing could be predicted.",
            hint="Log the model with my.log_model(model, input_example=X.head(5)) and register it again.",
        )
    started = time.perf_counter()
    predictions = _plain(_predict(predictor, _example_input(rows, predictor.signature), label))
    predict_s = time.perf_counter() - started
    first = predictions[:_PREDICTIONS] if isinstance(predictions, list) else predictions
    if as_json:
        output.print_json(
            {
                "ref": label,
                "package": str(predictor.digest),
                "flavor": predictor.flavor,
                "model_class": predictor.manifest.model_class,
                "rows": len(rows),
                "load_s": load_s,
                "predict_s": predict_s,
                "predictions": first,
            }
        )
        return
    package = models_admin.short_digest(str(predictor.digest))
    output.print_renderable(
        f"{label} ({package}): {predictor.flavor} {predictor.manifest.model_class}\n"
        f"loaded in {load_s * 1000:.1f} ms; predicted {output.plural(len(rows), 'row')} in {predict_s * 1000:.1f} ms\n"
        f"first predictions: {first}"
    )


models.add_command(models_admin.alias)
models.add_command(models_admin.history)
models.add_command(models_admin.tag)
models.add_command(models_admin.status)
models.add_command(models_admin.trust)
models.add_command(models_admin.delete)
