"""Real fitted XGBoost and LightGBM models, ways to edit their files, and a child process that loads them.

Used by ``test_tampered_boosters.py``. ``in_child`` loads one package through ``Loaders.load`` and predicts in a
fresh interpreter, which prints what happened, so an edit the checks miss kills one child, not the session.
The child blocks scikit-learn and pandas, which the ``booster`` wrapper and the checks never import, so it
starts in 0.6 s instead of 2.3 s.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from blake3 import blake3

from modelyard.registry.flavors import Saved
from modelyard.registry.loading import VerifiedFiles
from modelyard.registry.models import FileSpec, PackageManifest

BIG = 10_000_000
_CHILD = r"""
import base64, json, sys
sys.modules.update(dict.fromkeys(("sklearn", "pandas"), None))
import numpy as np
from blake3 import blake3
from modelyard.errors import UnsafeModelError
from modelyard.registry.flavors import default_flavors
from modelyard.registry.loading import Loaders, VerifiedFiles
from modelyard.registry.models import FileSpec, PackageManifest

request = json.load(sys.stdin)
files = {name: base64.b64decode(data) for name, data in request["files"].items()}
specs = {n: FileSpec(digest="blake3:" + blake3(d).hexdigest(), size_bytes=len(d)) for n, d in files.items()}
manifest = PackageManifest(
    flavor=request["flavor"], format=request["format"], model_class="evil.Model", methods=("predict",),
    files=specs, python_version="3.11", options={"wrapper": "booster"},
)
package = VerifiedFiles(
    manifest, flavor=manifest.flavor, format=manifest.format, files=specs, fetch=lambda s, n: files[n], trusted=False
)
loaders = Loaders()
for flavor in default_flavors():
    loaders.register(flavor)
try:
    model = loaders.load(package, what="The package")
    print(json.dumps({"predicted": np.asarray(model.predict(np.asarray(request["rows"]))).tolist()}))
except UnsafeModelError as exc:
    print(json.dumps({"refused": exc.message}))
"""


# -- the child and packages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What a load + predict in a fresh interpreter did."""

    returncode: int
    refused: str | None
    predicted: list[float] | None
    output: str


def in_child(flavor: str, format: str, name: str, data: bytes, rows: np.ndarray) -> Outcome:
    request = {
        "flavor": flavor,
        "format": format,
        "files": {name: base64.b64encode(data).decode()},
        "rows": rows.tolist(),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps(request), capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if done.returncode == 0 and lines else {}
    return Outcome(done.returncode, report.get("refused"), report.get("predicted"), done.stdout + done.stderr)


def assert_refused(outcome: Outcome, pattern: str) -> None:
    assert outcome.returncode == 0, f"the loading process died (return code {outcome.returncode}): {outcome.output}"
    assert outcome.refused is not None, f"the tampered model loaded: {outcome.output}"
    assert re.search(pattern, outcome.refused), f"{pattern!r} not in {outcome.refused!r}"
    assert outcome.refused.endswith("Nothing was loaded.")


def package_of(
    flavor: str, saved: Saved, *, options: dict[str, Any] | None = None, trusted: bool = False
) -> VerifiedFiles:
    """What a store would hand the guard: a manifest (options through JSON) and digest-checked files."""
    from modelyard.errors import IntegrityError

    def digest(data: bytes) -> str:
        return "blake3:" + blake3(data).hexdigest()

    specs = {name: FileSpec(digest=digest(data), size_bytes=len(data)) for name, data in saved.files.items()}
    manifest = PackageManifest(
        flavor=flavor,
        format=saved.format,
        model_class=saved.model_class,
        methods=saved.methods,  # type: ignore[arg-type]
        files=specs,
        python_version="3.11",
        options=json.loads(json.dumps(saved.options if options is None else options)),
    )

    def fetch(spec: FileSpec, name: str) -> bytes:
        data = saved.files[name]
        if digest(data) != spec.digest:
            raise IntegrityError(f"{name} does not match its digest.")
        return data

    return VerifiedFiles(manifest, flavor=flavor, format=saved.format, files=specs, fetch=fetch, trusted=trusted)


def booster_saved(format: str, name: str, data: bytes) -> Saved:
    return Saved(format=format, files={name: data}, model_class="x", options={"wrapper": "booster"})


# -- data ---------------------------------------------------------------------------------------------------
@cache
def training_frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows),
            "c": pd.Categorical(rng.choice(list("pqrstu"), size=rows)),
        }
    )


def training_target() -> pd.Series:
    frame = training_frame()
    return frame["a"] + 3 * frame["c"].isin(["p", "s", "u"]) + 0.3 * frame["b"]


ROWS = np.column_stack([training_frame()[["a", "b"]].to_numpy(), training_frame()["c"].cat.codes.to_numpy()])[:8]


# -- XGBoost models and node edits -------------------------------------------------------------------------
@cache
def xgboost_models() -> dict[str, Any]:
    import xgboost as xgb

    frame, target = training_frame(), training_target()
    numeric = frame[["a", "b"]]
    three = pd.qcut(frame["b"], 3, labels=False).astype(int)
    train = xgb.DMatrix(frame, label=target, enable_categorical=True)
    return {
        "categorical": xgb.train({"max_depth": 3, "max_cat_to_onehot": 1}, train, 3),
        "categorical-deep": xgb.train({"max_depth": 4, "max_cat_to_onehot": 1}, train, 20),
        "dart": xgb.train({"booster": "dart", "max_depth": 2}, xgb.DMatrix(numeric, label=target), 3),
        "gblinear": xgb.train({"booster": "gblinear"}, xgb.DMatrix(numeric, label=target), 3),
        "multiclass": xgb.train(
            {"objective": "multi:softprob", "num_class": 3, "max_depth": 2}, xgb.DMatrix(numeric, label=three), 2
        ),
        "vector-leaf": xgb.train(
            {"multi_strategy": "multi_output_tree", "tree_method": "hist", "max_depth": 2},
            xgb.DMatrix(numeric, label=np.column_stack([target, -target])),
            2,
        ),
    }


def xgboost_document(kind: str) -> dict[str, Any]:
    return json.loads(bytes(xgboost_models()[kind].save_raw("json")))  # type: ignore[no-any-return]


def model_of(document: dict[str, Any]) -> dict[str, Any]:
    return document["learner"]["gradient_booster"]["model"]  # type: ignore[no-any-return]


def tree_of(document: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return model_of(document)["trees"][index]  # type: ignore[no-any-return]


def internal_nodes(tree: dict[str, Any]) -> list[int]:
    return [i for i, child in enumerate(tree["left_children"]) if child != -1]


def leaf_nodes(tree: dict[str, Any]) -> list[int]:
    return [i for i, child in enumerate(tree["left_children"]) if child == -1]


def set_at(field: str, index: int, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda tree: tree[field].__setitem__(index, value)


def relink(node: Callable[[dict[str, Any]], int], left: Callable[[dict[str, Any]], int]) -> Callable[..., None]:
    """Point an internal node's children at ``left`` and ``left + 1`` (XGBoost's pair layout)."""

    def edit(tree: dict[str, Any]) -> None:
        at = node(tree)
        tree["left_children"][at], tree["right_children"][at] = left(tree), left(tree) + 1

    return edit


# -- LightGBM model texts and line edits -------------------------------------------------------------------
@cache
def lightgbm_texts() -> dict[str, str]:
    import lightgbm as lgb

    frame, target = training_frame(), training_target()
    numeric = frame[["a", "b"]].to_numpy()
    params = {"verbose": -1, "num_leaves": 6, "min_data_in_leaf": 5}
    linear = {**params, "linear_tree": True, "num_leaves": 4}
    three = pd.qcut(frame["b"], 3, labels=False).to_numpy()
    boosters = {
        "categorical": lgb.train(params, lgb.Dataset(frame, target), 3),
        "linear": lgb.train(linear, lgb.Dataset(numeric, numeric[:, 0] * 3 + numeric[:, 1] ** 2), 3),
        "multiclass": lgb.train({**params, "objective": "multiclass", "num_class": 3}, lgb.Dataset(numeric, three), 2),
    }
    return {kind: str(booster.model_to_string()) for kind, booster in boosters.items()}


def resized(text: str) -> str:
    """``text`` with ``tree_sizes`` recomputed from its tree blocks, as an attacker editing a tree would."""
    head, rest = text.split("\nTree=", 1)
    trees, tail = ("Tree=" + rest).split("end of trees\n", 1)
    blocks = re.split(r"(?=^Tree=\d+\n)", trees, flags=re.M)[1:]
    sizes = " ".join(str(len(block.encode())) for block in blocks)
    return re.sub(r"^tree_sizes=.*$", f"tree_sizes={sizes}", head, flags=re.M) + "\n" + trees + "end of trees\n" + tail


def in_tree(key: str, change: Callable[[list[str]], list[str]], tree: int = 0) -> Callable[[str], str]:
    """Change the values of ``key`` in tree ``tree``."""

    def edit(text: str) -> str:
        start = text.index(f"\nTree={tree}\n")
        end = text.index("\n\n", start)
        block = re.sub(
            rf"^{key}=(.*)$",
            lambda m: f"{key}=" + " ".join(change(m.group(1).split(" "))),
            text[start:end],
            count=1,
            flags=re.M,
        )
        return text[:start] + block + text[end:]

    return edit


def value_at(index: int, value: str) -> Callable[[list[str]], list[str]]:
    return lambda values: [value if i == index else v for i, v in enumerate(values)]


def first_leaf(value: str) -> Callable[[list[str]], list[str]]:
    return lambda values: value_at(next(i for i, v in enumerate(values) if v.startswith("-")), value)(values)


def insert_line(line: str) -> Callable[[str], str]:
    return lambda text: text.replace("\nleaf_value=", f"\n{line}\nleaf_value=", 1)


def in_header(old: str, new: str) -> Callable[[str], str]:
    return lambda text: re.sub(rf"^{old}$", new, text, count=1, flags=re.M)


def in_tree_sizes(change: Callable[[list[int]], list[int]]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        sizes = [int(s) for s in re.search(r"^tree_sizes=(.*)$", text, flags=re.M).group(1).split()]  # type: ignore[union-attr]
        return in_header(r"tree_sizes=.*", "tree_sizes=" + " ".join(map(str, change(sizes))))(text)

    return edit


# -- XGBoost document edits by path ------------------------------------------------------------------------
_ROOTS: dict[str, list[str | int]] = {
    "learner": ["learner"],
    "booster": ["learner", "gradient_booster"],
    "model": ["learner", "gradient_booster", "model"],
    "tree": ["learner", "gradient_booster", "model", "trees", 0],
}


def _parent(document: dict[str, Any], path: str) -> tuple[Any, Any]:
    root, *keys = path.split("/")
    node: Any = document
    for key in [*_ROOTS[root], *keys[:-1]]:
        node = node[int(key) if isinstance(node, list) else key]
    return node, int(keys[-1]) if isinstance(node, list) else keys[-1]


def put(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set the value at ``path`` (``model/tree_info/0``: ``model`` is learner.gradient_booster.model)."""

    def edit(document: dict[str, Any]) -> None:
        node, key = _parent(document, path)
        node[key] = value

    return edit


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    """Remove the entry at ``path``."""

    def edit(document: dict[str, Any]) -> None:
        node, key = _parent(document, path)
        node.pop(key)

    return edit
