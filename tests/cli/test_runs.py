"""`modelyard runs list|search|show|compare` over a home filled through the public API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelyard.cli.runs import MAX_DYNAMIC_COLUMNS
from modelyard.client import Client
from tests.cli.conftest import Invoke, Seeded


def _ids(stdout: str) -> list[str]:
    return [run["id"] for run in json.loads(stdout)["runs"]]


def _row(stdout: str, start: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines() if line.strip().startswith(start))


# -- list / search -------------------------------------------------------------------------------------------
def test_list_table_has_fixed_and_dynamic_columns(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "list", "churn")
    assert result.exit_code == 0, result.output
    header = _row(result.stdout, "id")
    assert header == [
        *("id", "name", "status", "start", "duration"),
        *("params.depth", "params.lr", "params.model", "metrics.auc", "metrics.loss"),
    ]
    row = _row(result.stdout, seeded.mid[:8])
    assert row[1:3] == ["lr-mid", "FINISHED"]
    assert row[-5:] == ["3", "0.1", "xgb", "0.91", "0.3"]
    assert seeded.mid not in result.stdout  # the table shows short ids
    assert len(result.stdout.splitlines()) == 2 + 3  # header, rule, three runs
    assert result.stderr == ""


def test_list_json_has_full_ids_and_utc_times(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "list", "churn", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["next_page_token"] is None
    assert [run["id"] for run in document["runs"]] == [seeded.big, seeded.mid, seeded.small]  # newest first
    small = document["runs"][2]
    assert small["params"] == {"depth": "3", "lr": "0.01", "model": "xgb"}
    assert small["metrics"]["auc"] == {"last": 0.85, "last_step": 1, "min": 0.81, "max": 0.85}
    assert small["tags"]["team"] == "risk"
    assert small["status"] == "FINISHED"
    assert small["start_time"].endswith("Z")
    assert small["end_time"].endswith("Z")
    assert small["experiment_name"] == "churn"
    assert small["duration_s"] >= 0


def test_list_several_experiments(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "list", "churn", "fraud", "--json")
    assert sorted(_ids(result.stdout)) == sorted([seeded.small, seeded.mid, seeded.big, seeded.fraud])


def test_filter_and_order(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke(
        "runs", "list", "churn", "--filter", "metrics.auc > 0.8", "--order-by", "metrics.auc DESC", "--json"
    )
    assert result.exit_code == 0, result.output
    assert _ids(result.stdout) == [seeded.mid, seeded.small]
    by_two_keys = invoke("runs", "list", "churn", "--order-by", "params.model", "--order-by", "metrics.loss", "--json")
    assert _ids(by_two_keys.stdout) == [seeded.big, seeded.mid, seeded.small]


def test_search_is_list_with_a_required_filter(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "search", "churn", "--filter", "params.model = 'rf' or min(metrics.auc) < 0.82")
    assert result.exit_code == 0, result.output
    shown = {line.split()[0] for line in result.stdout.splitlines()[2:]}
    assert shown == {seeded.big[:8], seeded.small[:8]}
    missing = invoke("runs", "search", "churn")
    assert missing.exit_code == 2
    assert "Missing option '--filter'" in missing.stderr


def test_columns_filter_and_order_come_first(seeded: Seeded, invoke: Invoke) -> None:
    chosen = invoke("runs", "list", "churn", "--columns", "metrics.loss,tags.team", "--columns", "params.nope")
    assert chosen.exit_code == 0, chosen.output
    assert _row(chosen.stdout, "id")[5:] == ["metrics.loss", "tags.team", "params.nope"]
    assert _row(chosen.stdout, seeded.big[:8])[6:] == ["0.9", "risk"]  # start is two words
    mentioned = invoke("runs", "list", "churn", "--order-by", "metrics.loss", "--filter", "tags.team = 'risk'")
    assert _row(mentioned.stdout, "id")[5:7] == ["metrics.loss", "tags.team"]


def test_columns_are_capped(home: Path, invoke: Invoke) -> None:
    with Client(home) as client, client.start_run("wide"):
        client.log_params({f"p{i}": i for i in range(10)})
        client.log_metrics({f"m{i}": float(i) for i in range(4)})
    result = invoke("runs", "list", "wide")
    dynamic = _row(result.stdout, "id")[5:]
    assert len(dynamic) == MAX_DYNAMIC_COLUMNS
    assert dynamic == [*(f"params.p{i}" for i in range(4)), *(f"metrics.m{i}" for i in range(4))]
    assert "6 more params/metrics columns not shown" in result.stderr


@pytest.mark.parametrize("bad", ["lr", "metrics.", "attributes.status", ","])
def test_bad_columns(seeded: Seeded, invoke: Invoke, bad: str) -> None:
    result = invoke("runs", "list", "churn", "--columns", bad)
    assert result.exit_code == 2
    assert "Invalid value for '--columns'" in result.stderr


def test_paging(seeded: Seeded, invoke: Invoke) -> None:
    first = invoke("runs", "list", "churn", "--max-results", "2")
    assert first.exit_code == 0, first.output
    match = re.search(r"--page-token (\S+)", first.stderr)
    assert match is not None, first.stderr
    assert "--all-pages" in first.stderr
    second = invoke("runs", "list", "churn", "--max-results", "2", "--page-token", match.group(1), "--json")
    assert json.loads(second.stdout) == {"runs": json.loads(second.stdout)["runs"], "next_page_token": None}
    first_json = invoke("runs", "list", "churn", "--max-results", "2", "--json")
    assert json.loads(first_json.stdout)["next_page_token"] == match.group(1)
    paged = _ids(first_json.stdout) + _ids(second.stdout)
    assert paged == [seeded.big, seeded.mid, seeded.small]
    every = invoke("runs", "list", "churn", "--max-results", "1", "--all-pages", "--json")
    assert json.loads(every.stdout)["next_page_token"] is None
    assert _ids(every.stdout) == paged


def test_no_matching_runs(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "list", "churn", "--filter", "metrics.auc > 5")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No runs match." in result.stderr


def test_unknown_experiment_is_rendered_with_a_hint(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "list", "chrun")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error [not-found]: ")
    assert "'chrun'" in result.stderr
    assert "churn" in result.stderr  # did you mean
    assert "\nHint: " in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("bad", ["metrics.auc >>> 1", "params.lr = ", "nonsense"])
def test_bad_filter_is_invalid_input(seeded: Seeded, invoke: Invoke, bad: str) -> None:
    result = invoke("runs", "search", "churn", "--filter", bad, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error [invalid-input]: ")


def test_bad_page_token(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "list", "churn", "--page-token", "garbage")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [invalid-input]: ")


# -- show ----------------------------------------------------------------------------------------------------
def test_show_table(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "show", seeded.mid)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for title in ("Run", "Context", "Params", "Metrics", "Tags", "Artifacts"):
        assert re.search(rf"^ *{title} *$", out, re.MULTILINE), title
    assert seeded.mid in out
    assert _row(out, "status")[1] == "FINISHED"
    assert _row(out, "experiment")[1] == "churn"
    assert _row(out, "python")[1].count(".") == 2
    assert _row(out, "environment")[1].startswith("blake3:")
    assert _row(out, "lr") == ["lr", "0.1"]
    assert _row(out, "auc") == ["auc", "0.91", "0.91", "0.91", "0"]
    assert _row(out, "team") == ["team", "risk"]
    digest_hex = seeded.report_digest.removeprefix("blake3:")
    assert _row(out, "report.txt") == ["report.txt", "13", "B", digest_hex[:12]]


def test_show_json(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "show", seeded.mid, "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["id"] == seeded.mid
    assert run["artifacts"] == [{"path": "report.txt", "size_bytes": 13, "digest": seeded.report_digest}]
    assert run["context"]["python_version"]
    assert run["context"]["environment_digest"].startswith("blake3:")
    assert set(run["context"]) >= {"git_commit", "git_dirty", "command", "host", "packages"}
    assert run["metrics"]["loss"]["last"] == 0.3


def test_show_accepts_a_unique_prefix(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "show", seeded.small[:8], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == seeded.small


def test_show_unknown_run(seeded: Seeded, invoke: Invoke) -> None:
    for unknown in ("0" * 32, seeded.small[:3]):  # 3 characters are too few to be taken as a prefix
        result = invoke("runs", "show", unknown)
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [not-found]: ")
        assert result.stdout == ""


# -- compare -------------------------------------------------------------------------------------------------
def test_compare_table(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "compare", seeded.small, seeded.mid)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert seeded.small[:8] in out
    assert "lr-mid" in out
    assert _row(out, "params.depth") == ["params.depth", "3", "3"]
    assert _row(out, "params.lr") == ["params.lr", "0.01", "0.1"]
    assert _row(out, "metrics.auc") == ["metrics.auc", "0.85", "0.91"]


def test_compare_only_diff_json(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "compare", seeded.small, seeded.mid, seeded.big, "--only-diff", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [run["id"] for run in document["runs"]] == [seeded.small, seeded.mid, seeded.big]
    rows = {row["key"]: row for row in document["rows"]}
    assert sorted(rows) == ["metrics.auc", "metrics.loss", "params.lr", "params.model"]
    assert rows["params.lr"]["values"] == ["0.01", "0.1", "1.0"]
    assert rows["metrics.loss"] == {"key": "metrics.loss", "values": [0.5, 0.3, 0.9], "differs": True}
    table = invoke("runs", "compare", seeded.small, seeded.mid, "--only-diff")
    assert "params.depth" not in table.stdout
    assert "params.model" not in table.stdout  # both are xgb
    assert "params.lr" in table.stdout


def test_compare_missing_values_and_highlight(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "compare", seeded.mid, seeded.fraud, "--json")
    rows = {row["key"]: row["values"] for row in json.loads(result.stdout)["rows"]}
    assert rows["metrics.recall"] == [None, 0.5]
    assert rows["params.lr"] == ["0.1", None]
    colored = invoke("runs", "compare", seeded.small, seeded.mid, env={"FORCE_COLOR": "1"})
    lr_line = next(line for line in colored.stdout.splitlines() if "params.lr" in line)
    depth_line = next(line for line in colored.stdout.splitlines() if "params.depth" in line)
    assert "\x1b[1;33m" in lr_line  # bold yellow: the params differ
    assert "\x1b[" not in depth_line


def test_compare_needs_two_runs(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("runs", "compare", seeded.small)
    assert result.exit_code == 2
    assert "at least two run ids" in result.stderr


def test_ambiguous_prefix_and_empty_experiment(home: Path, invoke: Invoke) -> None:
    # two runs whose ids share a prefix cannot come from random ids in a test, so they are created through
    # the client's metadata store with chosen ids
    from datetime import UTC, datetime

    from modelyard.ids import ExperimentId, RunId
    from modelyard.tracking.models import NewRun, RunContext

    with Client(home) as client:
        experiment = client.metadata.experiments.ensure("twins")
        client.metadata.experiments.ensure("empty")
        for suffix in ("0" * 26, "1" * 26):
            client.metadata.runs.create(
                NewRun(
                    id=RunId(f"abcdef{suffix}"),
                    experiment_id=ExperimentId(experiment.id),
                    experiment_name=experiment.name,
                    name=f"twin-{suffix[0]}",
                    parent_id=None,
                    start_time=datetime.now(UTC),
                    context=RunContext(),
                )
            )
    ambiguous = invoke("runs", "show", "abcd")
    assert ambiguous.exit_code == 2
    assert ambiguous.stderr.startswith("Error [invalid-input]: Run id prefix 'abcd' matches more than one run")
    assert "Hint: Type more characters" in ambiguous.stderr
    unique = invoke("runs", "show", "abcdef1", "--json")
    assert json.loads(unique.stdout)["name"] == "twin-1"
    running = invoke("runs", "list", "twins")
    assert _row(running.stdout, "abcdef11")[2] == "RUNNING"
    assert _row(running.stdout, "abcdef11")[-1] == "-"  # no duration while running
    empty = invoke("runs", "list", "empty")
    assert empty.exit_code == 0
    assert empty.stdout == ""
    assert "No runs yet in this experiment." in empty.stderr


def test_compare_runs_without_values(home: Path, invoke: Invoke) -> None:
    with Client(home) as client:
        ids = []
        for _ in range(2):
            with client.start_run("bare") as run:
                ids.append(run.id)
    nothing = invoke("runs", "compare", *ids)
    assert nothing.exit_code == 0
    assert "The runs log no params or metrics." in nothing.stderr
    same = invoke("runs", "compare", ids[0], ids[0], "--only-diff")
    assert "The runs do not differ in any param or metric." in same.stderr
