"""The root group: help, version, error rendering, startup weight, and the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import modelyard
from modelyard.cli.main import exit_code, main
from modelyard.errors import (
    ConfigError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    ModelyardError,
    NotFoundError,
    UnsafePathError,
)
from tests.cli.conftest import WIDE, Invoke, Seeded

SCRIPT = Path(sys.executable).with_name("modelyard")


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    return subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env={**env, **WIDE}, timeout=120, check=False
    )


def test_help_lists_commands_and_examples() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("experiments", "runs", "fsck", "gc"):
        assert f"\n  {command} " in result.stdout
    assert "\n    modelyard experiments list\n" in result.stdout  # examples print verbatim, one per line
    runs_help = CliRunner().invoke(main, ["runs", "list", "-h"])
    assert '\n    modelyard runs list churn --order-by "metrics.auc DESC" --max-results 10\n' in runs_help.stdout


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.stdout == f"modelyard {modelyard.__version__}\n"


def test_unknown_command_suggests() -> None:
    result = CliRunner().invoke(main, ["rnus", "list"])
    assert result.exit_code == 2
    assert "No such command 'rnus'" in result.stderr
    assert "Did you mean 'runs'?" in result.stderr


def test_config_error_is_rendered(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--uri", "ftp://host/x", "experiments", "list"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [config]: Unsupported metadata URI scheme 'ftp'")
    assert "\nHint: Use a folder path" in result.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInputError("x"), 2),
        (UnsafePathError("x"), 2),
        (NotFoundError("x"), 2),
        (ConfigError("x"), 2),
        (ConflictError("x"), 1),
        (IntegrityError("x"), 1),
        (ModelyardError("x"), 1),
    ],
)
def test_exit_codes(error: ModelyardError, code: int) -> None:
    assert exit_code(error) == code


def test_client_is_closed_after_the_command(seeded: Seeded, invoke: Invoke) -> None:
    # a client left open would leave its SQLite connections to the garbage collector: a ResourceWarning,
    # which this suite turns into an error
    for _ in range(3):
        assert invoke("runs", "list", "churn").exit_code == 0


# -- real processes ------------------------------------------------------------------------------------------
def test_python_dash_m_lists_experiments(seeded: Seeded, tmp_path: Path) -> None:
    done = _run(
        [
            sys.executable,
            "-m",
            "modelyard.cli.main",
            "--uri",
            str(seeded.home),
            "experiments",
            "list",
            "--json",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(e["name"] for e in json.loads(done.stdout)["experiments"]) == ["churn", "fraud"]
    assert done.stderr == ""


def test_console_script_renders_errors_without_traceback(seeded: Seeded, tmp_path: Path) -> None:
    done = _run([str(SCRIPT), "--uri", str(seeded.home), "runs", "show", "0" * 32], tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("Error [not-found]: ")
    assert "Hint: " in done.stderr
    assert "Traceback" not in done.stderr


def test_console_script_uses_the_default_home(tmp_path: Path) -> None:
    done = _run([str(SCRIPT), "experiments", "list", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"experiments": []}
    assert (tmp_path / ".modelyard" / "modelyard.db").is_file()


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from modelyard.cli.main import main\n"
        "for args in (['--help'], ['runs', '--help'], ['runs', 'list', '--help'], ['gc', '--help']):\n"
        "    try:\n"
        "        main(args, prog_name='modelyard')\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "heavy = ('sqlalchemy', 'rich', 'pandas', 'pydantic', 'modelyard.client', 'modelyard.stores')\n"
        "print(sorted({m.split('.')[0] if not m.startswith('modelyard') else m for m in sys.modules"
        " if m.startswith(heavy)}))\n"
    )
    done = _run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
