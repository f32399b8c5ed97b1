"""`modelyard experiments list`: table and JSON."""

from __future__ import annotations

import json
from datetime import datetime

from tests.cli.conftest import Invoke, Seeded


def test_list_table(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("experiments", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split() for line in lines if "created" in line] == [["name", "id", "runs", "created"]]
    churn = next(line for line in lines if line.strip().startswith("churn"))
    fraud = next(line for line in lines if line.strip().startswith("fraud"))
    assert churn.split()[2] == "3"
    assert fraud.split()[2] == "1"
    assert result.stderr == ""


def test_list_json(seeded: Seeded, invoke: Invoke) -> None:
    result = invoke("experiments", "list", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    by_name = {e["name"]: e for e in document["experiments"]}
    assert sorted(by_name) == ["churn", "fraud"]
    assert by_name["churn"]["run_count"] == 3
    assert len(by_name["churn"]["id"]) == 32
    created = by_name["fraud"]["created_at"]
    assert created.endswith("Z")
    assert datetime.fromisoformat(created).utcoffset() is not None


def test_empty_home(invoke: Invoke) -> None:
    table = invoke("experiments", "list")
    assert table.exit_code == 0
    assert table.stdout == ""
    assert "No experiments yet" in table.stderr
    assert json.loads(invoke("experiments", "list", "--json").stdout) == {"experiments": []}
