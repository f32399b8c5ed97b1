"""``modelyard models alias|history|tag|status|trust|delete``: the changes the registry records.

Every change goes into the model's append-only history with who made it and why (``--reason``), and
``history`` reads it back. A version an alias points at cannot be deleted, and deleting a whole model needs
``--yes``. ``models.py`` registers these commands on the ``models`` group and reuses ``is_version_ref``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardCommand
from modelyard.cli.session import current_client
from modelyard.errors import InvalidInputError

if TYPE_CHECKING:
    from modelyard.registry.models import HistoryEntry, TrustGrant

__all__ = [
    "alias",
    "delete",
    "entry_json",
    "history",
    "is_version_ref",
    "model_name",
    "short_digest",
    "status",
    "tag",
    "trust",
]

_TAG_ACTIONS = ("tag-set", "tag-removed")
_DIGEST_PREFIX = "blake3:"


def model_name(ref: str) -> str:
    """``ref`` without the ``models:/`` prefix MLflow users type."""
    return ref.strip().removeprefix("models:/")


def short_digest(text: str | None) -> str:
    """``blake3:`` and the first 12 hex characters (the form tables use for every digest); ``-`` for None."""
    if text is None:
        return "-"
    return text[: len(_DIGEST_PREFIX) + 12] if text.startswith(_DIGEST_PREFIX) else text


def is_version_ref(ref: str) -> bool:
    """Whether ``ref`` names a version (``churn/3``, ``churn@production``) rather than a model (``churn``)."""
    text = model_name(ref)
    return "/" in text or "@" in text


# -- JSON forms ----------------------------------------------------------------------------------------------
def entry_json(entry: HistoryEntry) -> dict[str, object]:
    """The JSON form of a history entry; a tag change names its tag in ``key``."""
    return {
        "id": entry.id,
        "model": entry.model,
        "action": entry.action,
        "alias": entry.alias,
        "key": entry.key,
        "version": entry.version,
        "from": entry.from_value,
        "to": entry.to_value,
        "actor": entry.actor,
        "reason": entry.reason,
        "at": output.iso_time(entry.at),
    }


def _grant_json(grant: TrustGrant) -> dict[str, object]:
    return {
        "package": str(grant.package),
        "format": grant.format,
        "actor": grant.actor,
        "reason": grant.reason,
        "at": output.iso_time(grant.at),
    }


def _cell(entry: HistoryEntry, value: str | None) -> str:
    if value is None:
        return "-"
    if entry.action in _TAG_ACTIONS:
        return f"{entry.key}={value}"
    return short_digest(value)


def _target(entry: HistoryEntry) -> str:
    return entry.model if entry.version is None else f"{entry.model}/{entry.version}"


# -- aliases and history -------------------------------------------------------------------------------------
@click.command("alias", cls=ModelyardCommand)
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=click.IntRange(1), required=False)
@click.option("--reason", help="Why (recorded in the history).")
@click.option("--delete", is_flag=True, help="Remove the alias instead (give no VERSION).")
@output.json_option
def alias(name: str, alias_name: str, version: int | None, reason: str | None, delete: bool, as_json: bool) -> None:
    """Point ALIAS of model NAME at VERSION (creating or moving it), or remove it with --delete.

    Who moved it, from which version and why is recorded; `modelyard models history NAME` shows it.

    Examples:
        modelyard models alias churn production 3 --reason "beat 2 on the March holdout"
        modelyard models alias churn staging --delete
    """
    if delete and version is not None:
        raise InvalidInputError(
            f"--delete removes alias {alias_name!r}; it takes no VERSION (got {version}).",
            hint=f"Run `modelyard models alias {name} {alias_name} --delete`.",
        )
    if not delete and version is None:
        raise InvalidInputError(
            f"No version given for alias {alias_name!r}.",
            hint=f"Run `modelyard models alias {name} {alias_name} VERSION`, or add --delete to remove it.",
        )
    client = current_client()
    if version is None:
        removed = client.models.delete_alias(name, alias_name, reason=reason)
        before = None if removed is None or removed.from_value is None else int(removed.from_value)
        after, changed = None, removed is not None
    else:
        before = client.models.get(name).aliases.get(alias_name)
        after = client.set_alias(name, alias_name, version, reason=reason).version
        changed = before != after
    if as_json:
        document = {"model": name, "alias": alias_name, "from": before, "to": after, "changed": changed}
        output.print_json({**document, "reason": reason})
    elif after is not None:
        moved = "set" if before is None else "unchanged" if not changed else f"moved from {before}"
        output.print_renderable(f"{name}@{alias_name} -> {after} ({moved})")
    else:
        output.print_renderable(
            f"removed {name}@{alias_name} (was version {before})" if changed else f"{name} has no alias {alias_name}"
        )


@click.command("history", cls=ModelyardCommand)
@click.argument("name")
@click.option("--alias", "alias_name", metavar="ALIAS", help="Only the moves of this alias.")
@output.json_option
def history(name: str, alias_name: str | None, as_json: bool) -> None:
    """Show every recorded change of a model, oldest first: versions, alias moves, tags, statuses, deletions.

    Examples:
        modelyard models history churn
        modelyard models history churn --alias production --json
    """
    entries = current_client().models.history(model_name(name), alias=alias_name)
    if as_json:
        output.print_json({"model": model_name(name), "history": [entry_json(e) for e in entries]})
        return
    table = output.new_table(
        "time", "action", "alias", "version", "from", "to", "actor", "reason", numeric=("version",)
    )
    for e in entries:
        table.add_row(
            output.format_local_time(e.at),
            e.action,
            e.alias or "-",
            "-" if e.version is None else str(e.version),
            _cell(e, e.from_value),
            _cell(e, e.to_value),
            e.actor or "-",
            e.reason or "",
        )
    output.print_renderable(table)


# -- tags, status, trust -------------------------------------------------------------------------------------
@click.command("tag", cls=ModelyardCommand)
@click.argument("ref")
@click.argument("key")
@click.argument("value", required=False)
@click.option("--reason", help="Why (recorded in the history).")
@click.option("--delete", is_flag=True, help="Remove the tag instead (give no VALUE).")
@output.json_option
def tag(ref: str, key: str, value: str | None, reason: str | None, delete: bool, as_json: bool) -> None:
    """Set tag KEY of a model (churn) or a version (churn/3, churn@production), or remove it with --delete.

    Examples:
        modelyard models tag churn team risk
        modelyard models tag churn@production validated yes --reason "holdout AUC 0.91"
        modelyard models tag churn/3 validated --delete
    """
    if delete == (value is not None):
        raise InvalidInputError(
            f"--delete takes no VALUE (got {value!r})." if delete else f"No value given for tag {key!r}.",
            hint=f"Run `modelyard models tag {ref} {key} VALUE`, or `... {key} --delete` to remove it.",
        )
    client = current_client()
    if value is None:
        entry = client.models.delete_tag(ref, key, reason=reason)
    else:
        entry = client.models.set_tag(ref, key, value, reason=reason)
    if as_json:
        output.print_json(entry_json(entry))
        return
    was = "" if entry.from_value is None else f" (was {entry.from_value})"
    change = f"{key}={entry.to_value}" if value is not None else f"{key} removed"
    output.print_renderable(f"{_target(entry)}: tag {change}{was}")


@click.command("status", cls=ModelyardCommand)
@click.argument("ref")
@click.argument("value", metavar="ready|archived", type=click.Choice(["ready", "archived"]))
@click.option("--reason", help="Why (recorded in the history).")
@output.json_option
def status(ref: str, value: str, reason: str | None, as_json: bool) -> None:
    """Mark a version ready or archived; archived versions are kept but skipped by NAME/latest.

    Examples:
        modelyard models status churn/2 archived --reason "superseded by 3"
    """
    entry = current_client().models.set_status(ref, value, reason=reason)
    if as_json:
        output.print_json(entry_json(entry))
        return
    output.print_renderable(f"{_target(entry)}: {entry.from_value or '-'} -> {entry.to_value}")


@click.command("trust", cls=ModelyardCommand)
@click.argument("ref")
@click.option("--reason", required=True, help="Why this package is safe to load (recorded with the grant).")
@output.json_option
def trust(ref: str, reason: str, as_json: bool) -> None:
    """Trust the package of REF to load although its format runs code (pickle).

    The grant is bound to the package digest, so it covers exactly these bytes: a new version needs its own.
    REF is a version (churn/3, churn@production), a runs:/<run id>/<name> model or a package digest.

    Examples:
        modelyard models trust churn/4 --reason "built by our CI from commit 3f2a9c1"
    """
    grant = current_client().models.trust(ref, reason=reason)
    if as_json:
        output.print_json(_grant_json(grant))
        return
    output.print_renderable(f"trusted package {grant.package} ({grant.format}) of {ref}: {grant.reason}")


# -- deleting ------------------------------------------------------------------------------------------------
@click.command("delete", cls=ModelyardCommand)
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Confirm deleting a whole model with all its versions and aliases.")
@click.option("--reason", help="Why (recorded in the history, which stays).")
@output.json_option
def delete(ref: str, yes: bool, reason: str | None, as_json: bool) -> None:
    """Delete a version (churn/3), refused while an alias points at it, or a whole model (churn) with --yes.

    Examples:
        modelyard models delete churn/2 --reason "trained on leaked labels"
        modelyard models delete churn-old --yes
    """
    client = current_client()
    document: dict[str, object]
    if is_version_ref(ref):
        version = client.models.get_version(ref)
        client.models.delete_version(version.ref, reason=reason)
        document = {"model": version.name, "version": version.version}
        text = f"deleted {version.ref}"
    else:
        model = client.models.get(model_name(ref))  # an unknown name gets close matches instead of a silent no-op
        client.models.delete_model(model.name, confirm=yes, reason=reason)
        aliases = sorted(model.aliases)
        document = {"model": model.name, "version": None, "versions": model.version_count, "aliases": aliases}
        text = (
            f"deleted model {model.name}: {output.plural(model.version_count, 'version')}, "
            f"aliases {', '.join(aliases) or '-'}; its history stays (`modelyard models history {model.name}`)"
        )
    if as_json:
        output.print_json({"deleted": document})
    else:
        output.print_renderable(text)
