"""`modelyard models ...`: every command, table and JSON, refusals and load-check exit codes usable in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.client import Client
from modelyard.registry.models import ColumnSpec, NewPackage, Signature
from tests.cli.conftest import WIDE, Invoke


class Echo:
    """A plain Python model (stored as pickle, so only with trusted=True)."""

    def predict(self, data: Any) -> list[int]:
        return [1] * len(data)


class Broken:
    """A plain Python model that fails on every input."""

    def predict(self, data: Any) -> list[int]:
        raise RuntimeError("feature store unreachable")


@dataclass(frozen=True, kw_only=True)
class Registered:
    """`churn/1` (C=1, auc 0.84, tag team=risk) and `churn/2` (C=0.1, auc 0.91); production -> 2."""

    first_run: str
    second_run: str
    second_package: str


def _frame(rows: int = 200) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows).astype(float),
            "charges": rng.normal(70.0, 20.0, rows),
            "plan": rng.integers(0, 3, rows),
        }
    )
    return frame, (frame["tenure"] < 20).astype(int)


@pytest.fixture
def registered(home: Path) -> Registered:
    features, labels = _frame()
    run_ids, packages = [], []
    with Client(home) as client:
        for c, auc, tags in ((1.0, 0.84, {"team": "risk"}), (0.1, 0.91, {})):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=c)).fit(features, labels)
            with client.start_run("churn", name=f"C={c}") as run:
                client.log_params(C=c)
                client.log_metrics(auc=auc, loss=1 - auc)
                info = client.log_model(model, input_example=features.head(5))
            client.register_model("churn", info, description=f"logistic regression, C={c}", tags=tags)
            run_ids.append(run.id)
            packages.append(str(info.digest))
        client.set_alias("churn", "production", 2, reason="best holdout AUC")
    return Registered(first_run=run_ids[0], second_run=run_ids[1], second_package=packages[1])


def _numbers(stdout: str) -> list[int]:
    return [v["version"] for v in json.loads(stdout)["versions"]]


# -- reading -------------------------------------------------------------------------------------------------
def test_list_and_show_a_model(registered: Registered, invoke: Invoke) -> None:
    listed = invoke("models", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split()[:5] == ["name", "versions", "latest", "aliases", "updated"]
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith("churn"))
    assert row[:4] == ["churn", "2", "2", "production=2"]
    document = json.loads(invoke("models", "list", "--json").stdout)
    (model,) = document["models"]
    assert (model["name"], model["version_count"], model["latest_version"]) == ("churn", 2, 2)
    assert model["aliases"] == {"production": 2}
    assert model["updated_at"].endswith("Z")
    shown = invoke("models", "show", "churn")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("churn  2 versions, latest 2\n")
    assert "aliases: production=2" in shown.stdout
    version_row = next(line.split() for line in shown.stdout.splitlines() if line.strip().startswith("2 "))
    assert version_row[3:7] == ["ready", "production", "sklearn", registered.second_run[:8]]
    as_json = json.loads(invoke("models", "show", "models:/churn", "--json").stdout)
    assert [v["ref"] for v in as_json["versions"]] == ["churn/2", "churn/1"]
    assert as_json["versions"][1]["tags"] == {"team": "risk"}


def test_show_a_version_with_lineage_and_manifest(registered: Registered, invoke: Invoke) -> None:
    shown = invoke("models", "show", "churn@production")
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert text.startswith(f"churn/2  {registered.second_package}\n")
    assert "sklearn (skops): sklearn.pipeline.Pipeline; status ready" in text
    assert f"source: runs:/{registered.second_run}/model; run {registered.second_run}" in text
    assert "lineage: experiment churn; git " in text
    assert "scikit-learn==" in text
    assert "description: logistic regression, C=0.1" in text
    columns = {line.split()[0]: line.split()[1] for line in text.splitlines() if line.startswith(("tenure", "plan"))}
    assert columns == {"tenure": "float", "plan": "integer"}
    assert "signature outputs: tensor of int64, shape (*)" in text
    assert next(line.split() for line in text.splitlines() if line.startswith("auc")) == ["auc", "0.91"]
    document = json.loads(invoke("models", "show", "churn/2", "--json").stdout)
    assert (document["ref"], document["status"], document["flavor"]) == ("churn/2", "ready", "sklearn")
    assert document["package"] == registered.second_package
    assert document["aliases"] == ["production"]
    assert document["metrics"] == {"auc": 0.91, "loss": pytest.approx(0.09)}
    assert document["params"] == {"C": "0.1"}
    assert document["lineage"]["experiment"] == "churn"
    assert document["lineage"]["run_id"] == registered.second_run
    manifest = document["manifest"]
    assert manifest["model_class"] == "sklearn.pipeline.Pipeline"
    assert [c["name"] for c in manifest["signature"]["inputs"]] == ["tenure", "charges", "plan"]
    assert any(r.startswith("scikit-learn==") for r in manifest["requirements"])
    assert manifest["representations"] == []


def test_versions_search(registered: Registered, invoke: Invoke) -> None:
    table = invoke("models", "versions", "churn", "--filter", "metrics.loss < 0.5", "--order-by", "metrics.loss")
    assert table.exit_code == 0, table.output
    header = next(line.split() for line in table.stdout.splitlines() if line.startswith("version"))
    assert header[6:8] == ["metrics.loss", "metrics.auc"]  # the metric the query mentions comes first
    assert _numbers(invoke("models", "versions", "churn", "--json").stdout) == [2, 1]
    better = invoke("models", "versions", "churn", "--filter", "metrics.auc > 0.85", "--json")
    assert _numbers(better.stdout) == [2]
    ascending = invoke("models", "versions", "churn", "--order-by", "metrics.auc asc", "--json")
    assert _numbers(ascending.stdout) == [1, 2]
    assert _numbers(invoke("models", "versions", "churn", "--alias", "production", "--json").stdout) == [2]
    assert _numbers(invoke("models", "versions", "churn", "--tag", "team=risk", "--json").stdout) == [1]
    assert _numbers(invoke("models", "versions", "churn", "--limit", "1", "--json").stdout) == [2]
    none = invoke("models", "versions", "churn", "--filter", "metrics.auc > 0.99")
    assert (none.exit_code, none.stdout, none.stderr.strip()) == (0, "", "No versions of churn match.")
    bad_tag = invoke("models", "versions", "churn", "--tag", "team")
    assert bad_tag.exit_code == 2
    assert "'team' is not KEY=VALUE" in bad_tag.stderr
    bad_filter = invoke("models", "versions", "churn", "--filter", "auc > 0.8")
    assert bad_filter.exit_code == 2
    assert "Error [invalid-input]: Cannot read the condition 'auc > 0.8'" in bad_filter.stderr


def test_unknown_model_suggests_a_close_name(registered: Registered, invoke: Invoke) -> None:
    for command in (("show", "chrn"), ("versions", "chrn"), ("history", "chrn"), ("delete", "chrn", "--yes")):
        result = invoke("models", *command)
        assert result.exit_code == 2, command
        assert result.stdout == ""
        assert "Error [not-found]: No registered model named 'chrn'. Did you mean 'churn'?" in result.stderr
        assert "Hint: List models with `modelyard models list`" in result.stderr
    missing = invoke("models", "show", "churn/7")
    assert missing.exit_code == 2
    assert "Model 'churn' has no version 7 (versions: [1, 2])" in missing.stderr


# -- registering, aliases, tags, status ----------------------------------------------------------------------
def test_register_from_a_run_uri_and_a_digest(registered: Registered, invoke: Invoke) -> None:
    uri = f"runs:/{registered.first_run}/model"
    made = invoke("models", "register", "churn", uri, "--description", "again", "--tag", "k=v", "--json")
    assert made.exit_code == 0, made.output
    document = json.loads(made.stdout)
    assert (document["ref"], document["source"], document["run_id"]) == ("churn/3", uri, registered.first_run)
    assert (document["description"], document["tags"], document["params"]) == ("again", {"k": "v"}, {"C": "1.0"})
    by_digest = invoke("models", "register", "shadow", registered.second_package)
    assert by_digest.exit_code == 0, by_digest.output
    assert by_digest.stdout.startswith("registered shadow/1: sklearn, package blake3:")
    shadow = json.loads(invoke("models", "show", "shadow/1", "--json").stdout)
    assert (shadow["source"], shadow["run_id"]) == (f"package:{registered.second_package}", None)
    unknown = invoke("models", "register", "churn", f"runs:/{registered.first_run}/nothing")
    assert unknown.exit_code == 2
    assert f"Run {registered.first_run} logged no model named 'nothing'" in unknown.stderr


def test_alias_set_move_delete_and_history(registered: Registered, invoke: Invoke) -> None:
    assert invoke("models", "alias", "churn", "staging", "1").stdout == "churn@staging -> 1 (set)\n"
    moved = invoke("models", "alias", "churn", "staging", "2", "--reason", "holdout", "--json")
    assert json.loads(moved.stdout) == {
        "model": "churn", "alias": "staging", "from": 1, "to": 2, "changed": True, "reason": "holdout",
    }  # fmt: skip
    assert invoke("models", "alias", "churn", "staging", "2").stdout == "churn@staging -> 2 (unchanged)\n"
    assert invoke("models", "alias", "churn", "staging", "--delete").stdout == "removed churn@staging (was version 2)\n"
    again = json.loads(invoke("models", "alias", "churn", "staging", "--delete", "--json").stdout)
    assert (again["from"], again["changed"]) == (None, False)
    no_version = invoke("models", "alias", "churn", "staging")
    assert no_version.exit_code == 2
    assert "No version given for alias 'staging'" in no_version.stderr
    assert "--delete to remove it" in no_version.stderr
    assert invoke("models", "alias", "churn", "staging", "2", "--delete").exit_code == 2
    assert "has no version 9" in invoke("models", "alias", "churn", "staging", "9").stderr
    history = json.loads(invoke("models", "history", "churn", "--alias", "staging", "--json").stdout)
    moves = [(e["action"], e["from"], e["to"], e["reason"]) for e in history["history"]]
    assert moves == [
        ("alias-set", None, "1", None),
        ("alias-set", "1", "2", "holdout"),
        ("alias-removed", "2", None, None),
    ]
    table = invoke("models", "history", "churn")
    assert table.stdout.split()[:8] == ["time", "action", "alias", "version", "from", "to", "actor", "reason"]
    actions = [line.split()[2] for line in table.stdout.splitlines()[2:]]
    assert actions == ["version-created", "version-created", "alias-set", "alias-set", "alias-set", "alias-removed"]
    created = next(line for line in table.stdout.splitlines() if "version-created" in line)
    assert registered.second_package not in table.stdout  # digests are shortened in the table
    assert "blake3:" in created


def test_tags_and_status(registered: Registered, invoke: Invoke) -> None:
    assert invoke("models", "tag", "churn@production", "stage", "candidate").stdout == "churn/2: tag stage=candidate\n"
    changed = json.loads(invoke("models", "tag", "churn/2", "stage", "final", "--reason", "ok", "--json").stdout)
    assert (changed["action"], changed["key"], changed["alias"], changed["version"]) == ("tag-set", "stage", None, 2)
    assert (changed["from"], changed["to"], changed["reason"]) == ("candidate", "final", "ok")
    assert invoke("models", "tag", "churn", "owner", "risk-team").stdout == "churn: tag owner=risk-team\n"
    assert invoke("models", "tag", "churn/1", "team", "--delete").stdout == "churn/1: tag team removed (was risk)\n"
    assert invoke("models", "tag", "churn/1", "team").exit_code == 2
    model = json.loads(invoke("models", "show", "churn", "--json").stdout)
    assert model["tags"] == {"owner": "risk-team"}
    assert [v["tags"] for v in model["versions"]] == [{"stage": "final"}, {}]
    history = invoke("models", "history", "churn").stdout
    assert "stage=candidate   stage=final" in history
    archived = invoke("models", "status", "churn/1", "archived", "--reason", "superseded")
    assert archived.stdout == "churn/1: ready -> archived\n"
    entry = json.loads(invoke("models", "status", "churn/1", "ready", "--json").stdout)
    assert (entry["action"], entry["from"], entry["to"]) == ("status", "archived", "ready")
    no_version = invoke("models", "status", "churn", "archived")
    assert no_version.exit_code == 2
    assert "'churn' names no version" in no_version.stderr
    assert invoke("models", "status", "churn/1", "retired").exit_code == 2  # not a choice


def test_download(registered: Registered, invoke: Invoke, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    done = invoke("models", "download", "churn@production", str(dest))
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("churn@production: 3 files (")
    assert done.stdout.endswith(f"written to {dest}\n")
    assert sorted(p.name for p in dest.iterdir()) == ["input_example.json", "manifest.json", "model.skops"]
    other = json.loads(invoke("models", "download", "churn/1", str(tmp_path / "other"), "--json").stdout)
    assert [f["path"] for f in other["files"]] == ["input_example.json", "manifest.json", "model.skops"]
    assert all(f["size_bytes"] > 0 for f in other["files"])
    refused = invoke("models", "download", "churn/1", str(dest))
    assert refused.exit_code == 1
    assert "is not empty; nothing was written" in refused.stderr


# -- load-check ----------------------------------------------------------------------------------------------
def test_load_check_passes_on_a_good_model(registered: Registered, invoke: Invoke) -> None:
    result = invoke("models", "load-check", "churn@production")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("churn/2 (blake3:")
    assert lines[0].endswith("sklearn sklearn.pipeline.Pipeline")
    assert "predicted 5 rows in" in lines[1]
    assert lines[2].startswith("first predictions: [")
    document = json.loads(invoke("models", "load-check", "churn/1", "--json").stdout)
    assert (document["ref"], document["flavor"], document["rows"]) == ("churn/1", "sklearn", 5)
    assert len(document["predictions"]) == 5
    assert set(document["predictions"]) <= {0, 1}
    assert document["load_s"] >= 0


def test_load_check_fails_on_an_unknown_alias(registered: Registered, invoke: Invoke) -> None:
    result = invoke("models", "load-check", "churn@prod")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Error [not-found]: Model 'churn' has no alias 'prod' (existing: ['production'])." in result.stderr
    assert "Hint: Set it with `modelyard models alias churn prod VERSION`." in result.stderr


def test_load_check_fails_when_the_example_does_not_fit(home: Path, invoke: Invoke) -> None:
    wrong = Signature(inputs=(ColumnSpec(name="x", type="float"),))
    with Client(home) as client, client.start_run("plain"):
        echo = client.log_model(Echo(), "echo", signature=wrong, input_example=[{"y": 1.0}], trusted=True)
        client.register_model("echo", echo)
        broken = client.log_model(Broken(), "broken", signature=wrong, input_example=[{"x": 1.0}], trusted=True)
        client.register_model("broken", broken)
    mismatch = invoke("models", "load-check", "echo/1")
    assert mismatch.exit_code == 2
    assert "Error [invalid-input]: The input does not match the model's signature: missing ['x']" in mismatch.stderr
    assert "Hint: The model takes exactly these columns: ['x']." in mismatch.stderr
    failing = invoke("models", "load-check", "broken/1")
    assert failing.exit_code == 2
    assert "broken/1 failed to predict on its stored input example: RuntimeError: feature store unreachable" in (
        failing.stderr
    )


def test_an_untrusted_pickle_fails_load_check_until_trusted(home: Path, invoke: Invoke, tmp_path: Path) -> None:
    # a package made in another home that shares this home's blobs: its files are here, its trust grant is not
    with Client(tmp_path / "elsewhere", artifacts=str(home / "blobs")) as other, other.start_run("plain"):
        info = other.log_model(Echo(), "echo", input_example=[{"x": 1.0}, {"x": 2.0}], trusted=True)
        manifest = other.metadata.packages.get(info.digest)
    with Client(home) as client:
        client.metadata.packages.add(
            NewPackage(
                digest=info.digest,
                manifest_json=manifest,
                flavor=info.flavor,
                size_bytes=info.size_bytes,
                created_ms=int(time.time() * 1000),
            )
        )
    assert invoke("models", "register", "echo", str(info.digest)).exit_code == 0
    refused = invoke("models", "load-check", "echo/1")
    assert refused.exit_code == 2
    assert "Error [unsafe-model]: Model echo/1 is stored as 'pickle', which runs code when loaded" in refused.stderr
    assert "`modelyard models trust REF`" in refused.stderr
    granted = json.loads(invoke("models", "trust", "echo/1", "--reason", "we wrote Echo", "--json").stdout)
    assert (granted["package"], granted["format"], granted["reason"]) == (str(info.digest), "pickle", "we wrote Echo")
    assert invoke("models", "trust", "echo/1").exit_code == 2  # --reason is required
    passed = invoke("models", "load-check", "echo/1", "--json")
    assert passed.exit_code == 0, passed.output
    assert json.loads(passed.stdout)["predictions"] == [1, 1]


# -- deleting ------------------------------------------------------------------------------------------------
def test_delete_refuses_aliased_versions_and_unconfirmed_models(registered: Registered, invoke: Invoke) -> None:
    aliased = invoke("models", "delete", "churn@production")
    assert aliased.exit_code == 1
    assert "Error [conflict]: Version 2 of model 'churn' is behind aliases ['production']" in aliased.stderr
    assert "`modelyard models alias churn ALIAS --delete`" in aliased.stderr
    assert invoke("models", "delete", "churn/1", "--reason", "worse").stdout == "deleted churn/1\n"
    assert _numbers(invoke("models", "versions", "churn", "--json").stdout) == [2]
    unconfirmed = invoke("models", "delete", "churn")
    assert unconfirmed.exit_code == 1
    assert "removes its 1 versions and aliases ['production']; nothing was deleted" in unconfirmed.stderr
    assert "--yes" in unconfirmed.stderr
    deleted = json.loads(invoke("models", "delete", "churn", "--yes", "--json").stdout)
    assert deleted == {"deleted": {"model": "churn", "version": None, "versions": 1, "aliases": ["production"]}}
    assert json.loads(invoke("models", "list", "--json").stdout) == {"models": []}
    history = json.loads(invoke("models", "history", "churn", "--json").stdout)["history"]
    assert [e["action"] for e in history][-2:] == ["version-deleted", "model-deleted"]
    assert history[-2]["reason"] == "worse"


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from modelyard.cli.main import main\n"
        "for args in (['models', '--help'], ['models', 'load-check', '--help'], ['models', 'alias', '--help']):\n"
        "    try:\n"
        "        main(args, prog_name='modelyard')\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "heavy = ('sqlalchemy', 'rich', 'pandas', 'pydantic', 'sklearn', 'modelyard.client', 'modelyard.registry')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env={**env, **WIDE}, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "\n    modelyard models load-check churn@production\n" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"
