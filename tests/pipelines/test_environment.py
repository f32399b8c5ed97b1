"""Upgrading a library a step imports invalidates that step (and only the steps that use it).

A real installed distribution is needed: a throwaway virtualenv whose site-packages holds a tiny package
``fakelib`` with its ``.dist-info``, and sees the project's environment through a ``.pth`` file. Each run is
a fresh process (installed versions are read once per process), as a new CI job would be.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FLOW = """
import fakelib
import modelyard as my


@my.step
def uses_lib(x: int = 2) -> int:
    return fakelib.double(x)


@my.step
def plain(x: int = 2) -> int:
    return x + 1


@my.pipeline
def flow():
    uses_lib()
    plain()
"""

RUN = """
import json, sys
from modelyard.client import Client
from modelyard.pipelines.loading import load_entry

pipeline = load_entry(sys.argv[1])
with Client(sys.argv[2]) as client:
    run = client.pipelines.run(pipeline, runner="inline")
    print(json.dumps({s.name: s.cache_hit for s in run.steps}))
"""


def _install_fakelib(site: Path, version: str) -> None:
    (site / "fakelib").mkdir(exist_ok=True)
    (site / "fakelib" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    for old in site.glob("fakelib-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    info = site / f"fakelib-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakelib\nVersion: {version}\n")
    (info / "top_level.txt").write_text("fakelib\n")
    (info / "RECORD").write_text("fakelib/__init__.py,,\n")


def test_a_library_upgrade_invalidates_the_steps_that_import_it(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    ours = sysconfig.get_paths()["purelib"]  # modelyard and its dependencies, seen through a .pth file
    (site / "project-env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    _install_fakelib(site, "1.0")
    flow = tmp_path / "project" / "flow.py"
    flow.parent.mkdir()
    flow.write_text(FLOW)
    home = tmp_path / "home"

    def run() -> dict[str, bool]:
        done = subprocess.run(
            [str(python), "-c", RUN, f"{flow}:flow", str(home)], capture_output=True, text=True, timeout=300,
            cwd=ROOT, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    assert run() == {"uses_lib": False, "plain": False}
    assert run() == {"uses_lib": True, "plain": True}
    _install_fakelib(site, "1.1")  # same source, new version: the version stands for the library
    assert run() == {"uses_lib": False, "plain": True}
    assert run() == {"uses_lib": True, "plain": True}
