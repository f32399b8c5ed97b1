"""``modelyard data``: commit, inspect, compare, check out, test, tag and sync dataset versions.

A version is named ``NAME@NUMBER``, ``NAME@TAG`` or ``NAME@latest`` (plain ``NAME`` means latest). Every
listing and show command takes ``--json``; ``validate`` and a refused ``commit`` exit with status 1 and print
the data-test report, so the commands work as CI steps.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from modelyard.cli import data_checks, data_remote, output
from modelyard.cli.commands import ModelyardGroup
from modelyard.cli.session import current_client

if TYPE_CHECKING:
    from modelyard.data.models import DataDiff, Dataset, DatasetVersion, FileEntry, TagEvent

__all__ = ["data", "version_json"]


@click.group(cls=ModelyardGroup)
def data() -> None:
    """Datasets: immutable, content-addressed versions of files and tables.

    Examples:
        modelyard data commit flights data/flights.parquet -m "January"
        modelyard data log flights
        modelyard data show flights@latest --stats
        modelyard data diff flights@1 flights@2
        modelyard data checkout flights@2 ./work
        modelyard data status ./work
    """


# -- JSON forms ----------------------------------------------------------------------------------------------
def version_json(version: DatasetVersion) -> dict[str, object]:
    """The JSON form of a version (the profile and the data-test report included)."""
    return {
        "dataset": version.dataset,
        "number": version.number,
        "ref": version.ref,
        "digest": str(version.digest),
        "created_at": output.iso_time(version.created_at),
        "author": version.author,
        "message": version.message,
        "file_count": version.file_count,
        "size_bytes": version.size_bytes,
        "stored_bytes": version.stored_bytes,
        "status": version.status.value,
        "tags": list(version.tags),
        "profile": None if version.profile is None else version.profile.model_dump(mode="json"),
        "checks": None if version.checks is None else version.checks.model_dump(mode="json"),
    }


def _dataset_json(dataset: Dataset) -> dict[str, object]:
    return {
        "name": dataset.name,
        "id": dataset.id,
        "versions": dataset.version_count,
        "latest": dataset.latest,
        "newest": dataset.newest,
        "check_policy": dataset.check_policy.value,
        "has_checks": dataset.has_checks,
        "created_at": output.iso_time(dataset.created_at),
    }


def _file_json(entry: FileEntry) -> dict[str, object]:
    return {"path": entry.path, "size_bytes": entry.size_bytes, "digest": str(entry.digest)}


def _event_json(event: TagEvent) -> dict[str, object]:
    return {
        "tag": event.tag,
        "from": event.from_version,
        "to": event.to_version,
        "at": output.iso_time(event.at),
        "actor": event.actor,
        "reason": event.reason,
    }


def _progress(label: str) -> Any:
    """A rich progress bar on stderr for long work (hidden when stderr is not a terminal)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        console=output.console(stderr=True),
        transient=True,
        disable=not output.console(stderr=True).is_terminal,
    )


# -- committing ----------------------------------------------------------------------------------------------
@data.command("commit")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-m", "--message", help="What this version is.")
@click.option("--tag", "tags", multiple=True, help="Point this tag at the new version (repeatable).")
@click.option("--no-profile", is_flag=True, help="Store the files without a table profile or data tests.")
@output.json_option
def commit(name: str, path: Path, message: str | None, tags: tuple[str, ...], no_profile: bool, as_json: bool) -> None:
    """Commit a file or folder as the next version of dataset NAME.

    Only chunks the store lacks are written. Parquet and CSV files get a schema and statistics, and the
    dataset's attached data tests run; if they fail under the 'refuse' policy nothing is stored and the
    command exits with status 1.

    Examples:
        modelyard data commit flights data/ -m "add February"
        modelyard data commit images ./photos --tag raw --no-profile
    """
    client = current_client()
    with _progress(f"Committing {name}") as bar:
        task = bar.add_task("commit", total=None)
        version = client.datasets.commit(
            name,
            path,
            message=message,
            tags=tags,
            tabular=False if no_profile else None,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        output.print_json(version_json(version))
        return
    output.print_renderable(
        f"{version.ref}  {version.file_count} files, {output.format_bytes(version.size_bytes)}; "
        f"newly stored {output.format_bytes(version.stored_bytes)}  ({version.status.value})"
    )


# -- listing and showing -------------------------------------------------------------------------------------
@data.command("list")
@output.json_option
def list_datasets(as_json: bool) -> None:
    """List datasets with their version counts.

    Examples:
        modelyard data list
    """
    found = current_client().datasets.list()
    if as_json:
        output.print_json({"datasets": [_dataset_json(d) for d in found]})
        return
    if not found:
        output.note("No datasets yet. Commit one: `modelyard data commit NAME PATH`.")
        return
    table = output.new_table("name", "versions", "latest", "tests", "created", numeric=("versions", "latest"))
    for dataset in found:
        tests = f"{dataset.check_policy.value}" if dataset.has_checks else "-"
        latest = "-" if dataset.latest is None else str(dataset.latest)
        table.add_row(
            dataset.name, str(dataset.version_count), latest, tests, output.format_local_time(dataset.created_at)
        )
    output.print_renderable(table)


@data.command("log")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1), help="Show at most this many versions.")
@output.json_option
def log(name: str, limit: int | None, as_json: bool) -> None:
    """List the versions of a dataset, newest first.

    Examples:
        modelyard data log flights --limit 5
    """
    versions = current_client().datasets.versions(name, limit=limit)
    if as_json:
        output.print_json({"dataset": name, "versions": [version_json(v) for v in versions]})
        return
    table = output.new_table(
        "version", "created", "author", "files", "size", "new", "rows", "status", "tags", "message",
        numeric=("version", "files", "size", "new", "rows"),
    )  # fmt: skip
    for v in versions:
        table.add_row(
            str(v.number),
            output.format_local_time(v.created_at, seconds=False),
            v.author or "-",
            str(v.file_count),
            output.format_bytes(v.size_bytes),
            output.format_bytes(v.stored_bytes),
            "-" if v.profile is None else f"{v.profile.rows:,}",
            v.status.value,
            ", ".join(v.tags),
            v.message or "",
        )
    output.print_renderable(table)


@data.command("show")
@click.argument("ref")
@click.option("--files", "show_files", is_flag=True, help="List every file.")
@click.option("--stats", "show_stats", is_flag=True, help="Show per-column statistics.")
@output.json_option
def show(ref: str, show_files: bool, show_stats: bool, as_json: bool) -> None:
    """Show a version: size, status, schema, data-test results; optionally files and statistics.

    Examples:
        modelyard data show flights@latest --stats
        modelyard data show flights@3 --files --json
    """
    version = current_client().datasets.get(ref)
    files = version.files() if show_files else []
    if as_json:
        document = version_json(version)
        if show_files:
            document["files"] = [_file_json(f) for f in files]
        output.print_json(document)
        return
    lines = [
        f"{version.ref}  {version.digest}",
        f"created {output.format_local_time(version.created_at)} by {version.author or '-'}: {version.message or ''}",
        f"{version.file_count} files, {output.format_bytes(version.size_bytes)} "
        f"(newly stored {output.format_bytes(version.stored_bytes)}); data tests: {version.status.value}",
    ]
    if version.tags:
        lines.append(f"tags: {', '.join(version.tags)}")
    output.print_renderable("\n".join(lines))
    if version.profile is not None:
        _print_profile(version, show_stats)
    if version.checks is not None:
        output.print_renderable(version.checks.summary())
    if show_files:
        table = output.new_table("path", "size", "digest", numeric=("size",), no_wrap=("digest",))
        for entry in files:
            table.add_row(entry.path, output.format_bytes(entry.size_bytes), entry.digest.short)
        output.print_renderable(table)


def _print_profile(version: DatasetVersion, show_stats: bool) -> None:
    profile = version.profile
    if profile is None:  # pragma: no cover - the caller checks
        return
    title = f"table: {profile.rows:,} rows from {len(profile.files)} {profile.format} file(s)"
    if not show_stats:
        table = output.new_table("column", "type", "nulls", title=title, numeric=("nulls",))
        for c in profile.columns:
            table.add_row(c.name, c.type, f"{c.null_share:.1%}")
        output.print_renderable(table)
        return
    table = output.new_table(
        "column", "type", "nulls", "min", "max", "mean", "std", "distinct", "top",
        title=title, numeric=("nulls", "mean", "std", "distinct"),
    )  # fmt: skip
    for c in profile.columns:
        top = ", ".join(f"{value} ({count:,})" for value, count in (c.top or [])[:3])
        table.add_row(
            c.name,
            c.type,
            f"{c.null_share:.1%}",
            _cell(c.min),
            _cell(c.max),
            output.format_number(c.mean),
            output.format_number(c.std),
            "-" if c.distinct is None else f"~{c.distinct:,}",
            top,
        )
    output.print_renderable(table)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return output.format_number(value)
    return str(value)[:32]


# -- comparing -----------------------------------------------------------------------------------------------
def _diff_json(found: DataDiff) -> dict[str, object]:
    return {
        "a": found.a,
        "b": found.b,
        "added": [_file_json(f) for f in found.added],
        "removed": [_file_json(f) for f in found.removed],
        "changed": [
            {"path": c.path, "before": _file_json(c.before), "after": _file_json(c.after)} for c in found.changed
        ],
        "unchanged": found.unchanged,
        "rows_before": found.rows_before,
        "rows_after": found.rows_after,
        "columns_added": found.columns_added,
        "columns_removed": found.columns_removed,
        "types_changed": {k: list(v) for k, v in found.types_changed.items()},
        "statistics": [
            {"column": s.column, "statistic": s.statistic, "before": s.before, "after": s.after}
            for s in found.statistics
        ],
    }


@data.command("diff")
@click.argument("a")
@click.argument("b")
@output.json_option
def diff(a: str, b: str, as_json: bool) -> None:
    """Show what changed from version A to version B: files, schema, row count, statistics.

    Examples:
        modelyard data diff flights@1 flights@2
        modelyard data diff flights@golden flights@latest --json
    """
    found = current_client().datasets.diff(a, b)
    if as_json:
        output.print_json(_diff_json(found))
        return
    lines = [f"{found.a} -> {found.b}: {len(found.added)} added, {len(found.removed)} removed, "
             f"{len(found.changed)} changed, {found.unchanged} unchanged files"]  # fmt: skip
    lines += [f"  + {f.path} ({output.format_bytes(f.size_bytes)})" for f in found.added[:50]]
    lines += [f"  - {f.path}" for f in found.removed[:50]]
    lines += [
        f"  ~ {c.path} ({output.format_bytes(c.before.size_bytes)} -> {output.format_bytes(c.after.size_bytes)})"
        for c in found.changed[:50]
    ]
    if found.rows_before is not None:
        lines.append(f"rows: {found.rows_before:,} -> {found.rows_after:,}")
    lines += [f"column added: {n} ({t})" for n, t in found.columns_added.items()]
    lines += [f"column removed: {n} ({t})" for n, t in found.columns_removed.items()]
    lines += [f"type changed: {n}: {old} -> {new}" for n, (old, new) in found.types_changed.items()]
    output.print_renderable("\n".join(lines))
    if found.statistics:
        table = output.new_table("column", "statistic", "before", "after", title="statistics that changed")
        for s in found.statistics:
            table.add_row(s.column, s.statistic, _cell(s.before), _cell(s.after))
        output.print_renderable(table)


# -- working folders -----------------------------------------------------------------------------------------
@data.command("checkout")
@click.argument("ref")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (replacing files).")
def checkout(ref: str, dest: Path, force: bool) -> None:
    """Write a version's files into the folder DEST (every byte verified).

    Examples:
        modelyard data checkout flights@2 ./work
    """
    client = current_client()
    version = client.datasets.get(ref)
    with _progress(f"Checking out {version.ref}") as bar:
        task = bar.add_task("checkout", total=version.size_bytes)
        target = client.datasets.checkout(
            version.ref, dest, overwrite=force, progress=lambda done, total: bar.update(task, completed=done)
        )
    output.print_renderable(f"{version.ref}: {version.file_count} files written to {target}")


@data.command("status")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--dataset", help="Compare with this dataset's latest version (default: what the folder last was).")
@click.option("--exit-code", is_flag=True, help="Exit with status 1 when the folder differs.")
@output.json_option
def status(folder: Path, dataset: str | None, exit_code: bool, as_json: bool) -> None:
    """Show what changed in FOLDER since it was committed or checked out.

    Files whose size, times and inode are unchanged are not read again (the stat cache).

    Examples:
        modelyard data status ./work
        modelyard data status ./work --dataset flights --exit-code
    """
    found = current_client().datasets.status(folder, dataset=dataset)
    if as_json:
        output.print_json(
            {
                "folder": str(found.folder),
                "dataset": found.dataset,
                "version": found.version,
                "clean": found.is_clean,
                "added": found.added,
                "removed": found.removed,
                "modified": found.modified,
                "unchanged": found.unchanged,
                "hashed": found.hashed,
            }
        )
    else:
        head = f"{found.folder} vs {found.dataset}@{found.version}: "
        if found.is_clean:
            output.print_renderable(head + f"clean ({found.unchanged} files)")
        else:
            lines = [head + f"{len(found.added)} added, {len(found.removed)} removed, {len(found.modified)} modified"]
            lines += [f"  + {p}" for p in found.added[:100]]
            lines += [f"  - {p}" for p in found.removed[:100]]
            lines += [f"  ~ {p}" for p in found.modified[:100]]
            output.print_renderable("\n".join(lines))
    if exit_code and not found.is_clean:
        sys.exit(1)


# -- tags ----------------------------------------------------------------------------------------------------
@data.command("tag")
@click.argument("ref")
@click.argument("tag")
@click.option("--reason", help="Why (recorded in the tag history).")
@click.option("--delete", is_flag=True, help="Remove the tag instead (REF is then the dataset name).")
def tag(ref: str, tag: str, reason: str | None, delete: bool) -> None:
    """Point TAG at the version REF names (moving it if it exists), or remove it with --delete.

    Examples:
        modelyard data tag flights@3 golden --reason "audited"
        modelyard data tag flights golden --delete
    """
    client = current_client()
    if delete:
        event = client.datasets.untag(ref.partition("@")[0], tag, reason=reason)
        output.print_renderable(f"removed {tag} (was version {event.from_version})" if event else f"no tag {tag}")
        return
    event = client.datasets.tag(ref, tag, reason=reason)
    moved = "set" if event.from_version is None else f"moved from {event.from_version}"
    output.print_renderable(f"{event.dataset}@{tag} -> {event.to_version} ({moved})")


@data.command("history")
@click.argument("name")
@click.option("--tag", help="Only this tag.")
@output.json_option
def history(name: str, tag: str | None, as_json: bool) -> None:
    """Show every recorded move of a dataset's tags: who, when, from, to and why.

    Examples:
        modelyard data history flights --tag golden
    """
    events = current_client().datasets.tag_history(name, tag)
    if as_json:
        output.print_json({"dataset": name, "events": [_event_json(e) for e in events]})
        return
    table = output.new_table("when", "tag", "from", "to", "who", "reason", numeric=("from", "to"))
    for e in events:
        table.add_row(
            output.format_local_time(e.at),
            e.tag,
            "-" if e.from_version is None else str(e.from_version),
            "-" if e.to_version is None else str(e.to_version),
            e.actor or "-",
            e.reason or "",
        )
    output.print_renderable(table)


data.add_command(data_checks.validate)
data.add_command(data_checks.tests)
data.add_command(data_remote.push)
data.add_command(data_remote.pull)
