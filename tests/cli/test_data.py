"""`modelyard data ...`: every command, table and JSON, exit codes usable in CI."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard.client import Client
from tests.cli.conftest import Invoke
from tests.data.conftest import age, flights_like, make_files

TESTS_FILE = """
from modelyard.data import Column, DataTests, RowCount
flight_tests = DataTests([Column("carrier", isin=["AA", "B6", "DL", "UA"]), RowCount(min=10)])
not_tests = 42
"""


def test_commit_log_show_and_list(invoke: Invoke, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "src", 20)
    result = invoke("data", "commit", "files", str(folder), "-m", "first", "--tag", "raw")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("files@1  20 files, 40.0 KiB; newly stored")
    (folder / "d000" / "f00001.bin").write_bytes(b"x")
    second = invoke("data", "commit", "files", str(folder), "--json")
    document = json.loads(second.stdout)
    assert (document["number"], document["file_count"], document["status"]) == (2, 20, "unchecked")
    log = invoke("data", "log", "files")
    assert log.exit_code == 0
    rows = [line.split() for line in log.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["2", "1"]
    assert "raw" in log.stdout
    assert "first" in log.stdout
    shown = invoke("data", "show", "files@1", "--files")
    assert "files@1  blake3:" in shown.stdout
    assert "d000/f00019.bin" in shown.stdout
    as_json = json.loads(invoke("data", "show", "files", "--files", "--json").stdout)
    assert as_json["ref"] == "files@2"
    assert len(as_json["files"]) == 20
    listed = json.loads(invoke("data", "list", "--json").stdout)
    assert [(d["name"], d["versions"], d["latest"]) for d in listed["datasets"]] == [("files", 2, 2)]


def test_stats_diff_checkout_and_status(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    with Client(home) as client:
        client.datasets.commit("flights", flights_like(3000))
        client.datasets.commit("flights", flights_like(3500, seed=1))
    stats = invoke("data", "show", "flights@2", "--stats")
    assert "3,500 rows from 1 parquet file(s)" in stats.stdout
    carrier = next(line for line in stats.stdout.splitlines() if line.startswith("carrier"))
    assert "AA (" in carrier
    diff = invoke("data", "diff", "flights@1", "flights@2")
    assert diff.exit_code == 0
    assert "rows: 3,000 -> 3,500" in diff.stdout
    assert "~ data.parquet" in diff.stdout
    diffed = json.loads(invoke("data", "diff", "flights@1", "flights@2", "--json").stdout)
    assert (diffed["rows_before"], diffed["rows_after"]) == (3000, 3500)
    out = tmp_path / "out"
    checked = invoke("data", "checkout", "flights@1", str(out))
    assert checked.exit_code == 0, checked.output
    assert (out / "data.parquet").is_file()
    refused = invoke("data", "checkout", "flights@1", str(out))
    assert refused.exit_code == 2
    assert "is not empty" in refused.stderr
    assert "--force" in refused.stderr
    assert invoke("data", "checkout", "flights@1", str(out), "--force").exit_code == 0
    age(out)
    clean = invoke("data", "status", str(out), "--exit-code")
    assert clean.exit_code == 0, clean.output
    assert "clean (1 files)" in clean.stdout
    (out / "new.csv").write_text("a\n1\n")
    dirty = invoke("data", "status", str(out), "--exit-code")
    assert dirty.exit_code == 1
    assert "+ new.csv" in dirty.stdout
    report = json.loads(invoke("data", "status", str(out), "--json").stdout)
    assert report["added"] == ["new.csv"]
    assert report["clean"] is False


def test_tests_validate_and_a_refused_commit(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    spec = tmp_path / "checks.py"
    spec.write_text(TESTS_FILE)
    frame = flights_like(100)
    frame.to_parquet(tmp_path / "good.parquet")
    attached = invoke("data", "tests", "flights", "--from", f"{spec}:flight_tests")
    assert attached.exit_code == 0, attached.output
    assert "data tests attached; policy refuse" in attached.stdout
    assert invoke("data", "commit", "flights", str(tmp_path / "good.parquet")).exit_code == 0
    ok = invoke("data", "validate", "flights@1")
    assert ok.exit_code == 0
    assert ok.stdout.startswith("PASSED: 2 of 2 expectations")
    frame.loc[0, "carrier"] = "ZZ"
    (tmp_path / "bad").mkdir()
    frame.to_parquet(tmp_path / "bad" / "bad.parquet")
    refused = invoke("data", "commit", "flights", str(tmp_path / "bad"))
    assert refused.exit_code == 1
    assert "Error [data-tests-failed]" in refused.stderr
    assert "FAIL column 'carrier': 1 values not allowed" in refused.stderr
    assert invoke("data", "tests", "flights", "--policy", "mark").exit_code == 0
    marked = json.loads(invoke("data", "commit", "flights", str(tmp_path / "bad"), "--json").stdout)
    assert marked["status"] == "failed"
    failing = invoke("data", "validate", "flights@2")
    assert failing.exit_code == 1
    assert failing.stdout.startswith("FAILED: 1 of 2")
    wrong = invoke("data", "tests", "flights", "--from", f"{spec}:not_tests")
    assert wrong.exit_code == 2
    assert "is not a DataTests object (got int)" in wrong.stderr
    assert "none attached" in invoke("data", "tests", "flights", "--detach").stdout


def test_tags_history_push_and_pull(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "src", 5)
    invoke("data", "commit", "files", str(folder))
    tagged = invoke("data", "tag", "files@1", "golden", "--reason", "audited")
    assert tagged.stdout.strip() == "files@golden -> 1 (set)"
    history = json.loads(invoke("data", "history", "files", "--json").stdout)
    assert [(e["tag"], e["from"], e["to"], e["reason"]) for e in history["events"]] == [("golden", None, 1, "audited")]
    assert "removed golden (was version 1)" in invoke("data", "tag", "files", "golden", "--delete").stdout
    remote = tmp_path / "remote"
    pushed = json.loads(invoke("data", "push", "files", "--to", str(remote), "--json").stdout)
    assert pushed["versions"] == [1]
    assert "already up to date" in invoke("data", "push", "files", "--to", str(remote)).stdout
    other = tmp_path / "other"
    from click.testing import CliRunner

    from modelyard.cli.main import main

    pulled = CliRunner().invoke(main, ["--uri", str(other), "data", "pull", "files", "--from", str(remote)])
    assert pulled.exit_code == 0, pulled.output
    assert "files: versions 1; sent" in pulled.stdout


def test_errors_are_rendered_with_hints(invoke: Invoke, tmp_path: Path) -> None:
    missing = invoke("data", "show", "nothing@1")
    assert missing.exit_code == 2
    assert "Error [not-found]: No dataset named 'nothing'" in missing.stderr
    bad = invoke("data", "commit", "../x", str(tmp_path))
    assert bad.exit_code == 2
    assert "Dataset name '../x' is not allowed" in bad.stderr
    assert "Hint: Use letters, digits" in bad.stderr
