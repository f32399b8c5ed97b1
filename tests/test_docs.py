"""Every ```python block of the README and docs/ runs, as a newcomer would paste it (fresh interpreter).

Blocks of one page run in order in one interpreter, in an empty folder holding the few files the examples
name (``report.html``, ``plots/roc.png``, ``model_dir/``). A block opened with ```python skip is shown only
(it names servers that do not exist here).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def _blocks(page: Path) -> list[str]:
    return _BLOCK.findall(page.read_text())


def test_the_pages_have_examples() -> None:
    assert sum(len(_blocks(p)) for p in PAGES) >= 3


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_examples_run(page: Path, tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("<p>report</p>")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "roc.png").write_bytes(b"\x89PNG fake image bytes")
    (tmp_path / "model_dir").mkdir()
    (tmp_path / "model_dir" / "weights.bin").write_bytes(b"\x00" * 1000)
    code = "\n\n".join(_blocks(page))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, f"{page.name} examples failed:\n{done.stderr[-3000:]}"
