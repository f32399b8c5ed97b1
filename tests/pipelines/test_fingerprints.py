"""Step code fingerprints: a helper's change invalidates exactly the steps that reach it."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from modelyard.pipelines.fingerprints import Fingerprinter, fingerprint

HELPERS = """
import numpy as np

SCALE = 2

def clean(x):
    return [v for v in x if v is not None]

def scale(x):
    return [v * SCALE for v in x]

def unused():
    return "never called by a step"

class Featurizer:
    def transform(self, x):
        return clean(x)
"""

STEPS = """
import numpy as np
from project import helpers
from project.helpers import clean, Featurizer

def prepare(x):
    return clean(x)

def train(x):
    return np.asarray(helpers.scale(x)).mean()

def featurize(x):
    return Featurizer().transform(x)

def standalone(x):
    return len(x)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """A throwaway project package ``project`` (helpers + steps) that can be edited and re-imported."""
    package = tmp_path / "project"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(helpers: str = HELPERS, steps: str = STEPS) -> ModuleType:
        (package / "helpers.py").write_text(textwrap.dedent(helpers))
        (package / "steps.py").write_text(textwrap.dedent(steps))
        for name in ("project.steps", "project.helpers", "project"):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        return importlib.import_module("project.steps")

    yield load
    for name in ("project.steps", "project.helpers", "project"):
        sys.modules.pop(name, None)


def digests(steps: ModuleType, root: Path) -> dict[str, str]:
    names = ("prepare", "train", "featurize", "standalone")
    return {name: fingerprint(getattr(steps, name), project_root=root).digest for name in names}


def test_identical_code_gives_identical_fingerprints(project: Callable[..., ModuleType], tmp_path: Path) -> None:
    first = digests(project(), tmp_path)
    assert first == digests(project(), tmp_path)  # re-imported from the same files
    assert len(set(first.values())) == 4


def test_changing_a_helper_invalidates_only_the_steps_that_reach_it(
    project: Callable[..., ModuleType], tmp_path: Path
) -> None:
    before = digests(project(), tmp_path)
    after = digests(project(HELPERS.replace("if v is not None", "if v is not None and v == v")), tmp_path)
    # prepare calls clean directly, featurize through Featurizer.transform; train and standalone never reach it
    assert {name for name in before if before[name] != after[name]} == {"prepare", "featurize"}


def test_changing_a_constant_or_an_uncalled_helper(project: Callable[..., ModuleType], tmp_path: Path) -> None:
    before = digests(project(), tmp_path)
    scaled = digests(project(HELPERS.replace("SCALE = 2", "SCALE = 3")), tmp_path)
    assert {name for name in before if before[name] != scaled[name]} == {"train"}  # train reads SCALE via scale
    untouched = digests(project(HELPERS.replace("never called by a step", "still never called")), tmp_path)
    assert untouched == before


def test_the_steps_own_source_and_the_code_list(project: Callable[..., ModuleType], tmp_path: Path) -> None:
    steps = project()
    found = fingerprint(steps.featurize, project_root=tmp_path)
    assert found.code == (
        "project.helpers:Featurizer",
        "project.helpers:clean",
        "project.steps:featurize",
    )
    before = fingerprint(steps.standalone, project_root=tmp_path).digest  # read before the file changes
    changed = project(steps=STEPS.replace("return len(x)", "return len(x) + 0"))
    assert fingerprint(changed.standalone, project_root=tmp_path).digest != before


def test_libraries_count_by_version_not_by_source(project: Callable[..., ModuleType], tmp_path: Path) -> None:
    import numpy as np

    steps = project()
    train = fingerprint(steps.train, project_root=tmp_path)
    assert train.libraries == {"numpy": np.__version__}
    assert all(key.startswith("project.") for key in train.code)  # numpy's source is never hashed
    assert fingerprint(steps.standalone, project_root=tmp_path).libraries == {}


def test_closures_and_nested_helpers_are_followed() -> None:
    def outer_helper(x: int) -> int:
        return x + 1

    def step(x: int) -> int:
        return outer_helper(x)

    def other_helper(x: int) -> int:
        return x + 2

    def step_two(x: int) -> int:
        return other_helper(x)

    one, two = fingerprint(step), fingerprint(step_two)
    assert one.digest != two.digest
    assert any(key.endswith("outer_helper") for key in one.code)


def test_a_shared_fingerprinter_sees_edited_files(project: Callable[..., ModuleType], tmp_path: Path) -> None:
    fingerprinter = Fingerprinter(tmp_path)
    before = fingerprinter.fingerprint(project().prepare).digest
    assert fingerprinter.fingerprint(project().prepare).digest == before  # parsed once, same answer
    edited = project(HELPERS.replace("return [v for v in x if v is not None]", "return [v for v in x if v]"))
    assert fingerprinter.fingerprint(edited.prepare).digest != before


LAZY_STEPS = """
def train(x):
    import numpy as np
    from project.helpers import scale

    return np.asarray(scale(x)).mean()

def relative(x):
    from .helpers import clean

    return clean(x)

def nothing(x):
    import json

    return json.dumps(x)
"""


def test_imports_inside_a_step_count_like_module_level_ones(project: Callable[..., ModuleType], tmp_path: Path) -> None:
    import numpy as np

    steps = project(steps=LAZY_STEPS)
    train = fingerprint(steps.train, project_root=tmp_path)
    assert train.libraries == {"numpy": np.__version__}  # a library imported in the body counts by version
    assert "project.helpers:scale" in train.code  # a project helper imported in the body is followed
    assert "project.helpers:clean" in fingerprint(steps.relative, project_root=tmp_path).code
    assert fingerprint(steps.nothing, project_root=tmp_path).code == ("project.steps:nothing",)
    before = {name: fingerprint(getattr(steps, name), project_root=tmp_path).digest for name in ("train", "relative")}
    changed = project(helpers=HELPERS.replace("v * SCALE", "v * SCALE + 1"), steps=LAZY_STEPS)
    after = {name: fingerprint(getattr(changed, name), project_root=tmp_path).digest for name in ("train", "relative")}
    assert after["train"] != before["train"]
    assert after["relative"] == before["relative"]


def test_a_script_and_its_module_fingerprint_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelyard.pipelines.loading import module_from_file

    script = tmp_path / "flowmod.py"
    script.write_text("def step(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    by_file = module_from_file(script)
    sys.modules.pop("flowmod", None)
    by_name = importlib.import_module("flowmod")
    try:
        assert by_name is not by_file
        assert fingerprint(by_file.step).digest == fingerprint(by_name.step).digest
    finally:
        sys.modules.pop("flowmod", None)
