"""``modelyard runs``: list, search, show and compare runs.

``list`` and ``search`` are one command body: ``search`` only makes the filter required. Wherever a run id is
taken, a unique prefix of it (at least 4 characters, as the tables show 8) is accepted too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from modelyard.cli import output
from modelyard.cli.commands import ModelyardGroup
from modelyard.cli.session import current_client
from modelyard.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from modelyard.client import Client
    from modelyard.tracking.models import ArtifactEntry, Run, RunPage

__all__ = ["MAX_DYNAMIC_COLUMNS", "SHORT_ID", "Column", "choose_columns", "resolve_run", "run_json", "runs"]

MAX_DYNAMIC_COLUMNS = 8
"""How many params/metrics columns ``runs list`` shows when ``--columns`` is not given."""

SHORT_ID = 8
_KINDS = ("params", "metrics", "tags")
_MENTION = re.compile(r"\b(params|metrics|tags)\.([A-Za-z0-9_\-./:]+)")
_ID_PREFIX = re.compile(r"[0-9a-f]{4,31}")
_COLUMN_GAP = 3  # padding and separator rich puts around a column
_NAME_WIDTH = 24  # names longer than this fold when columns compete for room
_STATUS_STYLE = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "red", "KILLED": "yellow"}


@click.group(cls=ModelyardGroup)
def runs() -> None:
    """Runs: list, search, show and compare them.

    Examples:
        modelyard runs list churn
        modelyard runs search churn --filter "metrics.auc > 0.9" --order-by "metrics.auc DESC"
        modelyard runs show 3f2a9c1e
        modelyard runs compare 3f2a9c1e 7b00d4a2 --only-diff
    """


# -- records as JSON -----------------------------------------------------------------------------------------
def run_json(run: Run) -> dict[str, object]:
    """The JSON form of a run: attributes, params, metric summaries and tags (full id, UTC ISO times)."""
    return {
        "id": run.id,
        "name": run.name,
        "experiment_id": run.experiment_id,
        "experiment_name": run.experiment_name,
        "status": run.status.value,
        "parent_id": run.parent_id,
        "start_time": output.iso_time(run.start_time),
        "end_time": output.iso_time(run.end_time),
        "duration_s": run.duration_s,
        "params": dict(sorted(run.params.items())),
        "metrics": {
            key: {"last": m.last, "last_step": m.last_step, "min": m.min, "max": m.max}
            for key, m in sorted(run.metrics.items())
        },
        "tags": dict(sorted(run.tags.items())),
    }


def _artifact_json(entry: ArtifactEntry) -> dict[str, object]:
    return {"path": entry.path, "size_bytes": entry.size_bytes, "digest": str(entry.digest)}


# -- run ids -------------------------------------------------------------------------------------------------
def resolve_run(client: Client, text: str) -> Run:
    """Return the run whose id is ``text`` or, failing that, the only run whose id starts with ``text``.

    Raises:
        NotFoundError: no run has that id or id prefix.
        InvalidInputError: the prefix matches several runs.
    """
    try:
        return client.get_run(text)
    except NotFoundError as exc:
        if not _ID_PREFIX.fullmatch(text):
            raise
        names = [experiment.name for experiment in client.list_experiments()]
        if not names:
            raise
        # the prefix is checked to be hex above, so it is safe inside the quoted filter value
        matches = client.search_runs(names, f"attributes.id like '{text}%'", max_results=3)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise
        shown = ", ".join(f"{run.id} ({run.name})" for run in matches.runs[:2])
        raise InvalidInputError(
            f"Run id prefix {text!r} matches more than one run: {shown}.",
            hint="Type more characters of the id (`modelyard runs list <experiment>` shows them).",
        ) from exc


# -- columns of runs list ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """A params, metrics or tags column of ``runs list``: ``metrics.auc`` shows the last value."""

    kind: str  # "params" | "metrics" | "tags"
    key: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"

    def cell(self, run: Run) -> str:
        """The text of this column for one run (empty when the run lacks the value)."""
        if self.kind == "metrics":
            return output.format_number(run.metric(self.key))
        return (run.params if self.kind == "params" else run.tags).get(self.key, "")

    def has_value(self, run: Run) -> bool:
        """Whether the run has this param, metric or tag."""
        if self.kind == "metrics":
            return self.key in run.metrics
        return self.key in (run.params if self.kind == "params" else run.tags)


def _parse_columns(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[Column] | None:
    if not values:
        return None
    chosen: list[Column] = []
    for item in (part.strip() for value in values for part in value.split(",")):
        kind, dot, key = item.partition(".")
        if not item or kind not in _KINDS or not dot or not key:
            raise click.BadParameter(
                f"{item!r} is not params.<key>, metrics.<key> or tags.<key> (e.g. --columns params.lr,metrics.auc).",
                ctx=ctx,
                param=param,
            )
        chosen.append(Column(kind=kind, key=key))
    return chosen


def choose_columns(
    found: Sequence[Run], mentioned: Sequence[Column], *, limit: int = MAX_DYNAMIC_COLUMNS
) -> tuple[list[Column], int]:
    """Pick the dynamic columns of a listing and count those left out.

    Columns the filter or order-by mention come first, then params and metrics, up to ``limit`` split evenly
    between the two (a kind with fewer columns leaves its room to the other). Only columns some shown run
    has a value for are considered.
    """
    present = [c for c in dict.fromkeys(mentioned) if any(c.has_value(run) for run in found)]
    params = [Column(kind="params", key=k) for k in sorted({k for run in found for k in run.params})]
    metrics = [Column(kind="metrics", key=k) for k in sorted({k for run in found for k in run.metrics})]
    params = [c for c in params if c not in present]
    metrics = [c for c in metrics if c not in present]
    chosen = present[:limit]
    room = limit - len(chosen)
    take_params = min(len(params), max(room // 2, room - len(metrics)))
    take_metrics = min(len(metrics), room - take_params)
    chosen += params[:take_params] + metrics[:take_metrics]
    return chosen, len(present) + len(params) + len(metrics) - len(chosen)


def _fitting_columns(found: Sequence[Run], mentioned: Sequence[Column], width: int) -> tuple[list[Column], int]:
    """``choose_columns`` with fewer columns while the table would be wider than the terminal."""
    fixed = sum(w + _COLUMN_GAP for w in (SHORT_ID, 8, len("2000-01-01 00:00"), len("59m 59s")))
    fixed += min(max(len(run.name) for run in found), _NAME_WIDTH) + _COLUMN_GAP
    limit = MAX_DYNAMIC_COLUMNS
    while True:
        columns, hidden = choose_columns(found, mentioned, limit=limit)
        wanted = sum(max(len(str(c)), *(len(c.cell(run)) for run in found)) + _COLUMN_GAP for c in columns)
        if limit == 0 or fixed + wanted <= width:
            return columns, hidden
        limit -= 1


def _mentioned(filter_text: str | None, order_by: Sequence[str]) -> list[Column]:
    texts = [*order_by, filter_text or ""]
    return [Column(kind=kind, key=key) for text in texts for kind, key in _MENTION.findall(text)]


def _status_cell(run: Run) -> RenderableType:
    from rich.text import Text

    return Text(run.status.value, style=_STATUS_STYLE.get(run.status.value, ""))


# -- runs list / runs search ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class _Query:
    filter_text: str | None
    order_by: list[str]
    max_results: int
    page_token: str | None
    all_pages: bool


def _fetch(client: Client, experiments: Sequence[str], query: _Query) -> RunPage:
    def page_after(token: str | None) -> RunPage:
        order_by = query.order_by or None
        return client.search_runs(list(experiments), query.filter_text, order_by, query.max_results, token)

    page = page_after(query.page_token)
    if not query.all_pages:
        return page
    from modelyard.tracking.models import RunPage

    found = list(page.runs)
    while page.next_page_token is not None:
        page = page_after(page.next_page_token)
        found.extend(page.runs)
    return RunPage(runs=found, next_page_token=None)


def _print_listing(page: RunPage, query: _Query, columns: list[Column] | None) -> None:
    if not page.runs:
        output.note("No runs match." if query.filter_text else "No runs yet in this experiment.")
        return
    hidden = 0
    if columns is None:
        mentioned = _mentioned(query.filter_text, query.order_by)
        columns, hidden = _fitting_columns(page.runs, mentioned, output.console().width)
    table = output.new_table(
        "id", "name", "status", "start", "duration", *map(str, columns),
        numeric=("duration", *(str(c) for c in columns if c.kind == "metrics")),
        no_wrap=("id", "status", "start", "duration"),
    )  # fmt: skip
    for run in page.runs:
        table.add_row(
            run.id[:SHORT_ID],
            run.name,
            _status_cell(run),
            output.format_local_time(run.start_time, seconds=False),
            output.format_duration(run.duration_s),
            *(column.cell(run) for column in columns),
        )
    output.print_renderable(table)
    if hidden:
        output.note(
            f"{hidden} more params/metrics columns not shown; choose them with --columns params.<key>,metrics.<key>."
        )
    if page.next_page_token is not None:
        output.note(
            f"Showing the first {len(page.runs)} runs; more match. "
            f"Next page: --page-token {page.next_page_token} (or --all-pages)."
        )


def _listing_options(*, filter_required: bool) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The options ``runs list`` and ``runs search`` share (only whether --filter is required differs)."""

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        decorators = [
            click.argument("experiments", metavar="EXPERIMENT...", nargs=-1, required=True),
            click.option(
                "--filter", "filter_text", metavar="FILTER", required=filter_required,
                help="e.g. \"metrics.auc > 0.9 and params.model = 'xgb'\"; also or, in, like, min()/max().",
            ),
            click.option(
                "--order-by", "order_by", metavar="KEY [ASC|DESC]", multiple=True,
                help="Sort key, repeatable: \"metrics.auc DESC\", params.lr, attributes.start_time.",
            ),
            click.option(
                "--max-results", metavar="N", type=click.IntRange(1, 50_000), default=100, show_default=True,
                help="Runs per page.",
            ),
            click.option("--page-token", metavar="TOKEN", help="Continue after the page that printed TOKEN."),
            click.option(
                "--all-pages", is_flag=True, help="Fetch every page; --max-results is then the page size.",
            ),
            click.option(
                "--columns", metavar="COLUMNS", multiple=True, callback=_parse_columns,
                help=f"Params/metrics/tags columns, e.g. params.lr,metrics.auc "
                f"[default: mentioned ones, then up to {MAX_DYNAMIC_COLUMNS}].",
            ),
            output.json_option,
        ]  # fmt: skip
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return decorate


def _list_runs(
    *,
    experiments: tuple[str, ...],
    filter_text: str | None,
    order_by: tuple[str, ...],
    max_results: int,
    page_token: str | None,
    all_pages: bool,
    columns: list[Column] | None,
    as_json: bool,
) -> None:
    query = _Query(
        filter_text=filter_text,
        order_by=list(order_by),
        max_results=max_results,
        page_token=page_token,
        all_pages=all_pages,
    )
    page = _fetch(current_client(), experiments, query)
    if as_json:
        output.print_json({"runs": [run_json(run) for run in page.runs], "next_page_token": page.next_page_token})
    else:
        _print_listing(page, query, columns)


@runs.command("list")
@_listing_options(filter_required=False)
def list_runs(**options: Any) -> None:
    """List the runs of one or more experiments.

    Runs come newest first unless --order-by says otherwise. The table shows the short id, name, status,
    start and duration of each run, then the params and metrics columns the shown runs have (those named in
    --filter or --order-by first); --columns picks them instead. With --json, ids are full, times are
    ISO-8601 UTC and each metric has last, last_step, min and max.

    Examples:
        modelyard runs list churn
        modelyard runs list churn --order-by "metrics.auc DESC" --max-results 10
        modelyard runs list churn --columns params.lr,metrics.auc --all-pages --json
    """
    _list_runs(**options)


@runs.command("search")
@_listing_options(filter_required=True)
def search_runs(**options: Any) -> None:
    """Search runs with a filter: runs list with --filter required.

    A filter compares metrics (last value, or min()/max()), params, tags and attributes, joined with and/or:
    "metrics.auc > 0.9 and params.model = 'xgb' or tags.team in ('risk', 'ops')".

    Examples:
        modelyard runs search churn --filter "metrics.auc > 0.9"
        modelyard runs search churn --filter "min(metrics.loss) < 0.2" --order-by "metrics.loss"
        modelyard runs search churn --filter "attributes.status = 'FAILED'" --json
    """
    _list_runs(**options)


# -- runs show -----------------------------------------------------------------------------------------------
def _key_values(title: str, rows: Sequence[tuple[str, str]]) -> RenderableType:
    from rich.table import Table

    grid = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def _attribute_rows(run: Run) -> list[tuple[str, str]]:
    return [
        ("id", run.id),
        ("name", run.name),
        ("experiment", f"{run.experiment_name} ({run.experiment_id})"),
        ("status", run.status.value),
        ("parent", run.parent_id or "-"),
        ("start", output.format_local_time(run.start_time)),
        ("end", output.format_local_time(run.end_time)),
        ("duration", output.format_duration(run.duration_s)),
    ]


def _context_rows(run: Run) -> list[tuple[str, str]]:
    context = run.context
    git = "-"
    if context.git_commit:
        git = context.git_commit + (" (dirty)" if context.git_dirty else "")
        git += f" on {context.git_branch}" if context.git_branch else ""
    environment = context.environment_digest or "-"
    if environment.startswith("blake3:"):
        environment = environment[: len("blake3:") + 12]  # the short form tables use for every digest
    if context.packages:
        environment += f" ({len(context.packages)} packages)"
    host = (context.host or "-") + (f" (user {context.user})" if context.user else "")
    return [
        ("git", git),
        ("command", context.command or "-"),
        ("python", context.python_version or "-"),
        ("environment", environment),
        ("host", host),
    ]


def _print_run(run: Run, artifacts: list[ArtifactEntry]) -> None:
    sections: list[RenderableType] = [
        _key_values("Run", _attribute_rows(run)),
        _key_values("Context", _context_rows(run)),
    ]
    if run.params:
        sections.append(_key_values("Params", sorted(run.params.items())))
    if run.metrics:
        metrics = output.new_table("key", "last", "min", "max", "last step", title="Metrics",
                                   numeric=("last", "min", "max", "last step"))  # fmt: skip
        for key, m in sorted(run.metrics.items()):
            metrics.add_row(key, *map(output.format_number, (m.last, m.min, m.max)), str(m.last_step))
        sections.append(metrics)
    if run.tags:
        sections.append(_key_values("Tags", sorted(run.tags.items())))
    if artifacts:
        files = output.new_table(
            "path", "size", "digest", title="Artifacts", numeric=("size",), no_wrap=("size", "digest")
        )
        for entry in artifacts:
            files.add_row(entry.path, output.format_bytes(entry.size_bytes), entry.digest.short)
        sections.append(files)
    console = output.console()
    for section in sections:
        console.print(section)
        console.print()


@runs.command("show")
@click.argument("run_id")
@output.json_option
def show_run(run_id: str, as_json: bool) -> None:
    """Show everything about one run.

    It prints the attributes, context, params, metrics, tags and artifacts of the run. The context is what
    the run's process recorded: git commit (and whether the tree was dirty), command line, Python version,
    environment digest and host. Metrics show last, min, max and the step of the last value. RUN_ID may be a
    unique prefix of the id.

    Examples:
        modelyard runs show 3f2a9c1e
        modelyard runs show 3f2a9c1e --json | jq '.metrics.auc.last'
    """
    client = current_client()
    run = resolve_run(client, run_id)
    artifacts = client.list_artifacts(run.id)
    if as_json:
        document = run_json(run)
        document["context"] = run.context.to_json()
        document["artifacts"] = [_artifact_json(entry) for entry in artifacts]
        output.print_json(document)
    else:
        _print_run(run, artifacts)


# -- runs compare --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    key: str
    values: list[str | float | None]

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


def _compare_rows(found: Sequence[Run]) -> list[_Row]:
    params = sorted({k for run in found for k in run.params})
    metrics = sorted({k for run in found for k in run.metrics})
    return [
        *(_Row(key=f"params.{k}", values=[run.params.get(k) for run in found]) for k in params),
        *(_Row(key=f"metrics.{k}", values=[run.metric(k) for run in found]) for k in metrics),
    ]


def _print_comparison(found: Sequence[Run], rows: Sequence[_Row], only_diff: bool) -> None:
    if not rows:
        output.note(
            "The runs do not differ in any param or metric." if only_diff else "The runs log no params or metrics."
        )
        return
    table = output.new_table("key", *(f"{run.id[:SHORT_ID]}\n{run.name}" for run in found))
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows:
        cells = [output.format_number(v) if isinstance(v, float) else (v or "") for v in row.values]
        highlight = row.differs and row.key.startswith("params.")
        table.add_row(row.key, *cells, style="bold yellow" if highlight else None)
    output.print_renderable(table)


@runs.command("compare")
@click.argument("run_ids", metavar="RUN_ID RUN_ID [RUN_ID...]", nargs=-1, required=True)
@click.option("--only-diff", is_flag=True, help="Show only the params and metrics whose values differ.")
@output.json_option
def compare_runs(run_ids: tuple[str, ...], only_diff: bool, as_json: bool) -> None:
    """Compare two or more runs side by side.

    The table has one column per run and one row per param and metric (its last value). Params that differ
    between the runs are highlighted. A run that lacks a value shows an empty cell (null in JSON). RUN_IDs
    may be unique prefixes.

    Examples:
        modelyard runs compare 3f2a9c1e 7b00d4a2
        modelyard runs compare 3f2a9c1e 7b00d4a2 c41d07e9 --only-diff --json
    """
    if len(run_ids) < 2:
        raise click.UsageError("Compare needs at least two run ids.")
    client = current_client()
    found = [resolve_run(client, run_id) for run_id in run_ids]
    rows = [row for row in _compare_rows(found) if row.differs or not only_diff]
    if as_json:
        output.print_json({
            "runs": [
                {"id": r.id, "name": r.name, "experiment_name": r.experiment_name, "status": r.status.value}
                for r in found
            ],
            "rows": [{"key": row.key, "values": row.values, "differs": row.differs} for row in rows],
        })  # fmt: skip
    else:
        _print_comparison(found, rows, only_diff)
