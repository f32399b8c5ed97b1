"""T10: a malicious package for every registered loader and every trick, and not one payload runs.

Each case writes a hostile package into a real store the way an attacker with write access would
(``hostile.py``: files and the manifest's canonical JSON through ``client.artifacts.put``, the package row
through ``client.metadata.packages.add``), registers it as ``evil`` and loads it with
``client.models.load("evil/1", cache=False)`` and ``predict``. Every payload creates the ``sentinel`` file
if it runs (``test_payloads_are_live`` proves they do when handed to the unsafe reader); every case asserts a
modelyard error with a meaningful message and that the sentinel never appears. Tampered tree ensembles are
in ``test_tampered_trees.py``. ``CASES`` maps each (flavor, format) to the cases aimed at its loader, and
``test_every_registered_loader_has_a_malicious_case`` fails when a loader is registered without one.
"""

from __future__ import annotations

import collections
import dbm.dumb
import gzip
import importlib
import inspect
import io
import os
import pathlib
import pickle
import pkgutil
import shelve
import sys
import zipfile
from collections.abc import Iterator

import joblib
import numpy as np
import orjson
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

import modelyard
import modelyard.registry.flavors as flavor_package
from modelyard.errors import IntegrityError, UnsafeModelError, UnsafePathError
from modelyard.registry.flavors import default_flavors
from modelyard.registry.models import Representation
from tests.registry import hostile
from tests.registry.hostile import refused

ROWS = [[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]]
NOT_TRUSTED = "runs code when loaded, and it is not trusted"
# torch 2.9+ deprecates TorchScript: torch.jit.load/script/save warn; this is torch's warning, not modelyard's.
TORCHSCRIPT_DEPRECATED = "ignore:`torch.jit.\\w+` is deprecated:DeprecationWarning"


class Doubler:
    """A harmless model, pickled by reference to this module, for the trusted path."""

    def predict(self, data: object) -> np.ndarray:
        return np.asarray(data, dtype=float) * 2


class EvilOrderedDict(collections.OrderedDict):
    """Filled key by key (as skops' DictNode does), it touches the path stored under "sentinel"."""

    def __setitem__(self, key: object, value: object) -> None:
        super().__setitem__(key, value)
        if key == "sentinel":
            pathlib.Path(str(value)).touch()


@pytest.fixture
def client(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[modelyard.Client]:
    made = hostile.open_client(tmp_path / "home", monkeypatch)
    yield made
    made.close()


@pytest.fixture
def sentinel(tmp_path: pathlib.Path) -> pathlib.Path:
    """The file a payload creates if it ever runs."""
    return tmp_path / "SENTINEL"


def predict(client: modelyard.Client, ref: str = "evil/1") -> object:
    return client.models.load(ref, cache=False).predict(np.asarray(ROWS))


def fitted_logistic() -> LogisticRegression:
    features = np.random.RandomState(0).rand(40, 3)
    return LogisticRegression().fit(features, (features[:, 0] > 0.5).astype(int))


# -- payloads: each creates the sentinel when its unsafe reader reads it --------------------------------------
def _shelve(sentinel: pathlib.Path) -> bytes:
    base = sentinel.parent / "shelf"
    with shelve.Shelf(dbm.dumb.open(str(base), "c")) as shelf:
        shelf["model"] = hostile.TouchOnUnpickle(sentinel)
    return base.with_suffix(".dat").read_bytes()


def _joblib(sentinel: pathlib.Path) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(hostile.SystemOnUnpickle(sentinel), buffer)
    return buffer.getvalue()


def _skops_reduce(sentinel: pathlib.Path) -> bytes:
    """A logistic regression whose ``C`` is rebuilt by calling ``posix.system("touch <sentinel>")``."""
    archive = hostile.SkopsArchive.of(sio.dumps(fitted_logistic()))
    archive.schema["content"]["content"]["C"] = {
        "__class__": "system",
        "__module__": "posix",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [hostile.json_node(f"touch {sentinel}")],
            "__id__": 424242,
        },
        "__id__": 434343,
    }
    return archive.dumps()


def _skops_custom_type(sentinel: pathlib.Path) -> bytes:
    kwargs = EvilOrderedDict()
    collections.OrderedDict.__setitem__(kwargs, "sentinel", str(sentinel))  # skip the touch while building
    return sio.dumps(FunctionTransformer(kw_args=kwargs))


PAYLOADS = {
    "pickle": lambda s: pickle.dumps(hostile.TouchOnUnpickle(s), protocol=2),
    "os-system-pickle": lambda s: pickle.dumps(hostile.SystemOnUnpickle(s), protocol=4),
    "cloudpickle-like": lambda s: pickle.dumps(hostile.TouchOnUnpickle(s), protocol=5),  # cloudpickle emits this
    "joblib": _joblib,
    "gzip-pickle": lambda s: gzip.compress(pickle.dumps(hostile.TouchOnUnpickle(s))),
    "shelve": _shelve,
    "npy-object-array": hostile.object_npy,
    "skops-reduce-os-system": _skops_reduce,
    "skops-custom-type": _skops_custom_type,
}
UNSAFE_READERS = {
    "pickle": pickle.loads,
    "os-system-pickle": pickle.loads,
    "cloudpickle-like": pickle.loads,
    "joblib": lambda data: joblib.load(io.BytesIO(data)),
    "gzip-pickle": lambda data: pickle.loads(gzip.decompress(data)),
    "shelve": pickle.loads,  # the shelf's data file is the pickle, padded
    "npy-object-array": lambda data: np.load(io.BytesIO(data), allow_pickle=True),
    "skops-reduce-os-system": lambda data: sio.loads(data, trusted=sio.get_untrusted_types(data=data)),
    "skops-custom-type": lambda data: sio.loads(data, trusted=sio.get_untrusted_types(data=data)),
}


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_payloads_are_live(kind: str, sentinel: pathlib.Path) -> None:
    """Control: handed to the reader that trusts it, each payload does create the sentinel."""
    UNSAFE_READERS[kind](PAYLOADS[kind](sentinel))
    assert sentinel.exists()


# -- pickle: refused unless trusted, and the grant is bound to one digest ----------------------------------
@pytest.mark.parametrize("kind", ["pickle", "os-system-pickle", "cloudpickle-like"])
@pytest.mark.parametrize("flavor", ["python", "sklearn"])
def test_untrusted_pickle_is_refused(client: modelyard.Client, sentinel: pathlib.Path, flavor: str, kind: str) -> None:
    hostile.hostile(client, flavor=flavor, format="pickle", files={"model.pkl": PAYLOADS[kind](sentinel)})
    with refused(UnsafeModelError, NOT_TRUSTED, sentinel):
        predict(client)


@pytest.mark.parametrize("flavor", ["python", "sklearn"])
def test_trusted_pickle_loads(client: modelyard.Client, flavor: str) -> None:
    hostile.hostile(client, flavor=flavor, format="pickle", files={"model.pkl": pickle.dumps(Doubler(), protocol=5)})
    with pytest.raises(UnsafeModelError, match=NOT_TRUSTED):
        predict(client)
    client.models.trust("evil/1", reason="built from Doubler by this test")
    np.testing.assert_allclose(predict(client), np.asarray(ROWS) * 2)


@pytest.mark.parametrize("flavor", ["python", "sklearn"])
def test_trust_does_not_follow_a_swapped_manifest(
    client: modelyard.Client, sentinel: pathlib.Path, flavor: str
) -> None:
    trusted = hostile.hostile(
        client, flavor=flavor, format="pickle", files={"model.pkl": pickle.dumps(Doubler(), protocol=5)}
    )
    client.models.trust("evil/1", reason="built from Doubler by this test")
    evil = hostile.hostile(client, flavor=flavor, format="pickle", files={"model.pkl": PAYLOADS["pickle"](sentinel)})
    assert evil != trusted
    with refused(UnsafeModelError, NOT_TRUSTED, sentinel):  # a new version: another digest, no grant
        predict(client, "evil/2")
    hostile.repoint(client, "evil", 1, evil)  # the trusted version's row now names the other package
    with refused(UnsafeModelError, NOT_TRUSTED, sentinel):
        predict(client, "evil/1")
    hostile.repoint(client, "evil", 1, trusted)
    hostile.rewrite_manifest_row(client, trusted, hostile.manifest_row(client, evil))  # same digest, other text
    with refused(IntegrityError, "does not match its digest", sentinel):
        predict(client, "evil/1")


@pytest.mark.parametrize("flavor", ["python", "sklearn"])
def test_trust_does_not_cover_swapped_bytes(client: modelyard.Client, sentinel: pathlib.Path, flavor: str) -> None:
    hostile.hostile(client, flavor=flavor, format="pickle", files={"model.pkl": pickle.dumps(Doubler(), protocol=5)})
    client.models.trust("evil/1", reason="built from Doubler by this test")
    spec = client.models.manifest("evil/1").files["model.pkl"]
    hostile.overwrite_blob(client, spec, PAYLOADS["pickle"](sentinel))
    with refused(IntegrityError, "is corrupt: its content hashes to", sentinel):
        predict(client)


# -- the pickle family and other containers under the skops format -------------------------------------------
@pytest.mark.parametrize(
    "kind", ["pickle", "joblib", "cloudpickle-like", "gzip-pickle", "shelve", "npy-object-array", "os-system-pickle"]
)
def test_pickle_family_renamed_skops_is_refused(client: modelyard.Client, sentinel: pathlib.Path, kind: str) -> None:
    hostile.hostile(client, flavor="sklearn", format="skops", files={"model.skops": PAYLOADS[kind](sentinel)})
    with refused(UnsafeModelError, "holds an unreadable skops file", sentinel):
        predict(client)


def test_object_npy_inside_a_skops_archive_is_refused(client: modelyard.Client, sentinel: pathlib.Path) -> None:
    archive = hostile.SkopsArchive.of(sio.dumps(fitted_logistic()))
    coef = archive.schema["content"]["content"]["coef_"]
    archive.members[coef["file"]] = hostile.object_npy(sentinel)  # np.load(..., allow_pickle=True) would run it
    hostile.hostile(client, flavor="sklearn", format="skops", files={"model.skops": archive.dumps()})
    with refused(UnsafeModelError, "skops", sentinel):
        predict(client)


# -- skops files naming code or types outside the safe list --------------------------------------------------
def _function_node(archive_data: bytes, module: str, name: str) -> bytes:
    archive = hostile.SkopsArchive.of(archive_data)
    archive.schema["content"]["content"]["C"] = {
        "__class__": name,
        "__module__": module,
        "__loader__": "FunctionNode",
        "__id__": 515151,
    }
    return archive.dumps()


SKOPS_CODE = {
    "function-transformer-os-system": (lambda s: sio.dumps(FunctionTransformer(func=os.system)), "posix.system"),
    "function-transformer-eval": (lambda s: sio.dumps(FunctionTransformer(func=eval)), "builtins.eval"),
    "edited-function-node-posix-system": (
        lambda s: _function_node(sio.dumps(fitted_logistic()), "posix", "system"),
        "posix.system",
    ),
    "edited-function-node-builtins-exec": (
        lambda s: _function_node(sio.dumps(fitted_logistic()), "builtins", "exec"),
        "builtins.exec",
    ),
    "edited-reduce-node-os-system": (_skops_reduce, "posix.system"),
}


@pytest.mark.parametrize("case", sorted(SKOPS_CODE))
def test_skops_naming_code_is_refused(client: modelyard.Client, sentinel: pathlib.Path, case: str) -> None:
    build, named = SKOPS_CODE[case]
    hostile.hostile(client, flavor="sklearn", format="skops", files={"model.skops": build(sentinel)})
    with refused(UnsafeModelError, rf"outside modelyard's safe list: \['{named}'\]", sentinel):
        predict(client)


def test_skops_type_outside_the_safe_list_is_refused(client: modelyard.Client, sentinel: pathlib.Path) -> None:
    hostile.hostile(client, flavor="sklearn", format="skops", files={"model.skops": _skops_custom_type(sentinel)})
    named = f"{__name__}.EvilOrderedDict"
    with refused(UnsafeModelError, rf"outside modelyard's safe list: \['{named}'\]", sentinel):
        predict(client)
    client.models.trust("evil/1", reason="only the grant lets the custom type in")
    client.models.load("evil/1", cache=False)
    assert sentinel.exists()  # the payload was live: the refusal above, not luck, kept it out


# -- manifests that name code, flavors or formats nothing registered loads -----------------------------------
@pytest.mark.parametrize("key", ["loader_module", "code_dir", "python_function"])
def test_manifest_naming_code_is_refused(
    client: modelyard.Client, sentinel: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    (tmp_path / "evil_loader.py").write_text(f"import pathlib\npathlib.Path({str(sentinel)!r}).touch()\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # importable, were anything to import it
    values = {"loader_module": "evil_loader", "code_dir": str(tmp_path), "python_function": "evil_loader:load"}
    benign = {"model.skops": sio.dumps(fitted_logistic())}
    document = hostile.manifest(client, flavor="sklearn", format="skops", files=benign).model_dump(mode="json")
    evil = hostile.store(client, {**document, key: values[key]})
    phrase = f"invalid manifest: Extra inputs are not permitted at {key}"
    with refused(UnsafeModelError, phrase, sentinel):
        client.register_model("evil", str(evil))
    hostile.hostile(client, flavor="sklearn", format="skops", files=benign)
    hostile.repoint(client, "evil", 1, evil)
    with refused(UnsafeModelError, phrase, sentinel):
        predict(client)
    assert "evil_loader" not in sys.modules


UNLOADABLE = {
    ("pyfunc", "pickle"): "names flavor 'pyfunc', which is not registered here",
    ("sklearn", "joblib"): "has format 'joblib', which flavor 'sklearn' does not load",
    ("torch", "torch-pickle"): "has format 'torch-pickle', which flavor 'torch' does not load",
    ("torch", "pickle"): "has format 'pickle', which flavor 'torch' does not load",
    ("python", "skops"): "has format 'skops', which flavor 'python' does not load",
    ("xgboost", "pickle"): "has format 'pickle', which flavor 'xgboost' does not load",
    ("lightgbm", "pickle"): "has format 'pickle', which flavor 'lightgbm' does not load",
    ("onnx", "pickle"): "has format 'pickle', which flavor 'onnx' does not load",
}


@pytest.mark.parametrize(("flavor", "format"), sorted(UNLOADABLE))
def test_unknown_flavor_or_undeclared_format_is_refused(
    client: modelyard.Client, sentinel: pathlib.Path, flavor: str, format: str
) -> None:
    payload = PAYLOADS["pickle"](sentinel)
    hostile.hostile(client, flavor=flavor, format=format, files=dict.fromkeys(hostile.MODEL_FILES, payload))
    with refused(UnsafeModelError, UNLOADABLE[flavor, format], sentinel):
        predict(client)


# -- file names escaping the package -------------------------------------------------------------------------
ESCAPING = ["../x", "/etc/passwd", "a/../../b", "C:\\x", "%2e%2e/x", "file:///etc/passwd", "../canary.txt"]


@pytest.mark.parametrize("where", ["files", "representation"])
@pytest.mark.parametrize("name", ESCAPING)
def test_file_names_escaping_the_package_are_refused(
    client: modelyard.Client, tmp_path: pathlib.Path, name: str, where: str
) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    benign = {"model.skops": sio.dumps(fitted_logistic())}
    good = hostile.manifest(client, flavor="sklearn", format="skops", files=benign)
    spec = hostile.put(client, b"overwritten")
    if where == "files":
        evil = hostile.store(client, good.model_copy(update={"files": {**good.files, name: spec}}))
    else:
        rep = Representation(flavor="onnx", format="onnx", files={name: spec})
        evil = hostile.store(client, good.model_copy(update={"representations": (rep,)}))
    hostile.hostile(client, flavor="sklearn", format="skops", files=benign)
    hostile.repoint(client, "evil", 1, evil)
    representation = None if where == "files" else "onnx"
    with pytest.raises(UnsafePathError, match="Unsafe path"):
        client.models.load("evil/1", representation=representation, cache=False)
    dest = tmp_path / "out"
    with pytest.raises(UnsafePathError, match="Unsafe path"):
        client.models.download("evil/1", dest)
    assert canary.read_text() == "untouched"
    assert not dest.exists() or not any(dest.iterdir())
    if where == "files":
        with pytest.raises(UnsafePathError, match="Unsafe path"):
            client.register_model("evil", str(evil))


def test_manifest_altered_in_the_database_is_an_integrity_error(
    client: modelyard.Client, sentinel: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    digest = hostile.hostile(
        client, flavor="sklearn", format="skops", files={"model.skops": sio.dumps(fitted_logistic())}
    )
    swapped = hostile.manifest(
        client, flavor="python", format="pickle", files={"model.pkl": PAYLOADS["pickle"](sentinel)}
    )
    text = orjson.dumps(swapped.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS).decode()
    hostile.rewrite_manifest_row(client, digest, text)
    with refused(IntegrityError, "does not match its digest", sentinel):
        predict(client)
    with refused(IntegrityError, "does not match its digest", sentinel):
        client.models.download("evil/1", tmp_path / "out")
    hostile.rewrite_manifest_row(client, digest, hostile.manifest_row(client, digest) + " ")
    with refused(IntegrityError, "does not match its digest", sentinel):
        predict(client)


# -- one payload of each kind under every registered (flavor, format) ----------------------------------------
REGISTERED = sorted((f.name, fmt) for f in default_flavors() for fmt in f.safe_formats | f.code_formats)
FILE_REFUSAL = {
    "sklearn": "holds an unreadable skops file",
    "xgboost": "holds a file XGBoost cannot read",
    "lightgbm": "holds model text LightGBM cannot read",
    "onnx": "is not a valid ONNX file|cannot be opened by onnxruntime",
    "torch": "is not a valid ONNX file|cannot be opened by onnxruntime",  # the torch flavor's safe format is ONNX
}
WELL_FORMED_OPTIONS = {"xgboost": {"wrapper": "booster"}, "lightgbm": {"wrapper": "booster"}}


@pytest.mark.filterwarnings(TORCHSCRIPT_DEPRECATED)
@pytest.mark.parametrize("kind", ["yaml-python-tag", "pickle", "npy-object-array"])
@pytest.mark.parametrize(("flavor", "format"), REGISTERED)
def test_payload_under_every_registered_format_is_refused(
    client: modelyard.Client, sentinel: pathlib.Path, flavor: str, format: str, kind: str
) -> None:
    """modelyard never reads YAML, pickle or object arrays from a package, whatever the manifest says."""
    data = hostile.yaml_payload(sentinel) if kind == "yaml-python-tag" else PAYLOADS[kind](sentinel)
    options = WELL_FORMED_OPTIONS.get(flavor, {})
    hostile.hostile(
        client, flavor=flavor, format=format, options=options, files=dict.fromkeys(hostile.MODEL_FILES, data)
    )
    code = any(format in f.code_formats for f in default_flavors() if f.name == flavor)
    if not code and flavor not in FILE_REFUSAL:
        pytest.fail(f"Add the refusal message of flavor {flavor!r} to FILE_REFUSAL.")
    with refused(UnsafeModelError, NOT_TRUSTED if code else FILE_REFUSAL[flavor], sentinel):
        predict(client)


# -- torch ---------------------------------------------------------------------------------------------------
def _torch_save(sentinel: pathlib.Path, extra: dict[str, bytes] | None = None) -> bytes:
    """A ``torch.save`` full-object archive whose pickle touches the sentinel, plus ``extra`` members."""
    import torch

    buffer = io.BytesIO()
    torch.save({"model": hostile.TouchOnUnpickle(sentinel)}, buffer)
    if not extra:
        return buffer.getvalue()
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    root = source.namelist()[0].split("/")[0]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        for name, data in extra.items():
            archive.writestr(name.replace("ROOT", root), data)
    return out.getvalue()


TORCH_CASES = {
    "torch-save-pickle": ({}, "is not a TorchScript archive"),
    "torch-save-posing-as-torchscript": (
        {"ROOT/constants.pkl": b"", "ROOT/code/__torch__.py": b""},  # looks like TorchScript, data.pkl is a pickle
        "cannot be read by TorchScript",
    ),
    "member-escaping-the-archive": ({"ROOT/../x": b"", "ROOT/code/__torch__.py": b""}, "unsafe names"),
}


@pytest.mark.filterwarnings(TORCHSCRIPT_DEPRECATED)
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_torch_pickle_archives_are_refused(client: modelyard.Client, sentinel: pathlib.Path, case: str) -> None:
    """TorchScript needs trust; and even a trusted package must be a TorchScript archive, never a torch.save pickle."""
    extra, phrase = TORCH_CASES[case]
    data = _torch_save(sentinel, extra)
    hostile.hostile(client, flavor="torch", format="torchscript", files={"model.pt": data})
    with refused(UnsafeModelError, NOT_TRUSTED, sentinel):
        predict(client)
    client.models.trust("evil/1", reason="the test trusts it to reach the archive checks")
    with refused(UnsafeModelError, phrase, sentinel):
        predict(client)


def _file_writing_torchscript(path: pathlib.Path) -> bytes:
    """A TorchScript archive whose forward maps (and so creates and writes) the file at ``path``."""
    import torch

    class WritesFile(torch.nn.Module):
        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mapped = torch.from_file(self.path, shared=True, size=8, dtype=torch.uint8)
            mapped.fill_(33)
            return x + mapped[:1].to(x.dtype) * 0

    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(WritesFile(str(path))), buffer)
    return buffer.getvalue()


@pytest.mark.filterwarnings(TORCHSCRIPT_DEPRECATED)
def test_torchscript_cannot_write_files(client: modelyard.Client, sentinel: pathlib.Path) -> None:
    """TorchScript is code: ``torch.from_file(path, shared=True)`` creates and writes any file it names."""
    data = _file_writing_torchscript(sentinel)
    hostile.hostile(
        client, flavor="torch", format="torchscript", options={"input_dtype": "float32"}, files={"model.pt": data}
    )
    with refused(UnsafeModelError, NOT_TRUSTED, sentinel):  # so TorchScript is a code format: trust required
        predict(client)


# -- ONNX ----------------------------------------------------------------------------------------------------
def _onnx_model(external: str | None = None, *, where: str = "initializer") -> bytes:
    """``Y = X + W`` with W = [1, 2, 3]; ``external`` moves W into external data at that path."""
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("W", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    if external is not None:
        weight.ClearField("float_data")
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", external), ("offset", "0"), ("length", "12")):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])]
    if where == "initializer":
        graph = helper.make_graph([helper.make_node("Add", ["X", "W"], ["Y"])], "g", inputs, outputs, [weight])
    elif where == "constant":
        nodes = [helper.make_node("Constant", [], ["W"], value=weight), helper.make_node("Add", ["X", "W"], ["Y"])]
        graph = helper.make_graph(nodes, "g", inputs, outputs)
    else:  # inside the then-branch of an If: a subgraph
        branch_out = [helper.make_tensor_value_info("B", TensorProto.FLOAT, [3])]
        then = helper.make_graph([helper.make_node("Constant", [], ["B"], value=weight)], "then", [], branch_out)
        other = helper.make_graph(
            [helper.make_node("Constant", [], ["B"], value=helper.make_tensor("Z", TensorProto.FLOAT, [3], [0, 0, 0]))],
            "else",
            [],
            branch_out,
        )
        flag = helper.make_tensor("flag", TensorProto.BOOL, [], [True])
        nodes = [
            helper.make_node("If", ["flag"], ["W"], then_branch=then, else_branch=other),
            helper.make_node("Add", ["X", "W"], ["Y"]),
        ]
        graph = helper.make_graph(nodes, "g", inputs, outputs, [flag])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if external is None:
        onnx.checker.check_model(model)
    return model.SerializeToString()


def test_onnx_control_loads(client: modelyard.Client) -> None:
    for where in ("initializer", "constant", "subgraph"):
        hostile.hostile(client, flavor="onnx", format="onnx", files={"model.onnx": _onnx_model(where=where)})
    for version in (1, 2, 3):
        result = client.models.load(f"evil/{version}", cache=False).predict(np.asarray(ROWS, dtype=np.float32))
        np.testing.assert_allclose(result, np.add(ROWS, [1, 2, 3]), rtol=1e-6)


@pytest.mark.parametrize("where", ["initializer", "constant", "subgraph"])
@pytest.mark.parametrize("location", ["/etc/passwd", "../../../../etc/passwd", "passwd"])
def test_onnx_external_data_is_refused(
    client: modelyard.Client, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, location: str, where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "passwd").write_bytes(b"secret-bytes")  # what a relative path would read from the working dir
    hostile.hostile(client, flavor="onnx", format="onnx", files={"model.onnx": _onnx_model(location, where=where)})
    with pytest.raises(UnsafeModelError, match=r"keeps tensors \['W'\] as external data"):
        predict(client)


# -- XGBoost and LightGBM: options are data, never import paths ----------------------------------------------
CODE_OPTIONS = {
    "wrapper-os-system": ({"wrapper": "os.system"}, "names wrapper 'os.system'"),
    "wrapper-class-path": (
        {"wrapper": "xgboost.sklearn.XGBClassifier"},
        "names wrapper 'xgboost.sklearn.XGBClassifier'",
    ),
    "wrapper-missing": ({"loader": "os.system"}, "names wrapper None"),
    "wrapper-not-text": ({"wrapper": ["os", "system"]}, r"names wrapper \['os', 'system'\]"),
}


@pytest.mark.parametrize("case", sorted(CODE_OPTIONS))
def test_xgboost_options_naming_code_are_refused(client: modelyard.Client, sentinel: pathlib.Path, case: str) -> None:
    options, phrase = CODE_OPTIONS[case]
    hostile.hostile(
        client, flavor="xgboost", format="json", options=options, files={"model.json": hostile.xgboost_json()}
    )
    with refused(UnsafeModelError, phrase, sentinel):
        predict(client)


LIGHTGBM_OPTIONS = {
    **CODE_OPTIONS,
    "feature-names-not-a-list": (
        {"wrapper": "regressor", "feature_names": {"__import__": "os"}},
        "has feature_names",
    ),
    "classes-of-the-wrong-count": ({"wrapper": "classifier", "classes": [0, 1, 2, 3]}, "has classes"),
}


@pytest.mark.parametrize("case", sorted(LIGHTGBM_OPTIONS))
def test_lightgbm_options_naming_code_are_refused(client: modelyard.Client, sentinel: pathlib.Path, case: str) -> None:
    options, phrase = LIGHTGBM_OPTIONS[case]
    hostile.hostile(
        client, flavor="lightgbm", format="text", options=options, files={"model.txt": hostile.lightgbm_text()}
    )
    with refused(UnsafeModelError, phrase, sentinel):
        predict(client)


def test_xgboost_and_lightgbm_controls_load(client: modelyard.Client) -> None:
    """Control: the same files with well-formed options load, so the refusals above are about the options."""
    booster = {"wrapper": "booster"}
    hostile.hostile(
        client, flavor="xgboost", format="json", options=booster, files={"model.json": hostile.xgboost_json()}
    )
    hostile.hostile(
        client, flavor="lightgbm", format="text", options=booster, files={"model.txt": hostile.lightgbm_text()}
    )
    for version in (1, 2):
        assert np.asarray(predict(client, f"evil/{version}")).shape == (2,)


# -- the registry is complete: every loader has a malicious case ---------------------------------------------
TREE_CASES = [
    "test_tampered_decision_tree_is_refused",
    "test_tampered_forest_is_refused",
    "test_tampered_hist_gradient_boosting_is_refused",
    "test_tree_outside_an_estimator_is_refused",
    "test_gradient_boosting_stage_tree_cannot_read_outside_the_input",
    "test_hist_gradient_boosting_preprocessor_cannot_narrow_the_input",
    "test_hist_gradient_boosting_categorical_split_on_a_numeric_feature_is_refused",
]
CASES: dict[tuple[str, str], list[str]] = {
    ("python", "pickle"): [
        "test_untrusted_pickle_is_refused",
        "test_trusted_pickle_loads",
        "test_trust_does_not_follow_a_swapped_manifest",
        "test_trust_does_not_cover_swapped_bytes",
    ],
    ("sklearn", "pickle"): [
        "test_untrusted_pickle_is_refused",
        "test_trusted_pickle_loads",
        "test_trust_does_not_follow_a_swapped_manifest",
        "test_trust_does_not_cover_swapped_bytes",
    ],
    ("sklearn", "skops"): [
        "test_pickle_family_renamed_skops_is_refused",
        "test_object_npy_inside_a_skops_archive_is_refused",
        "test_skops_naming_code_is_refused",
        "test_skops_type_outside_the_safe_list_is_refused",
        *TREE_CASES,
    ],
    ("xgboost", "json"): [
        "test_xgboost_options_naming_code_are_refused",
        "test_tampered_xgboost_tree_is_refused",
        "test_tampered_xgboost_model_is_refused_in_a_child",
        "test_xgboost_file_that_is_not_json_is_refused_in_a_child",
        "test_xgboost_duplicate_key_cannot_smuggle_a_tree_past_the_checks",
    ],
    ("lightgbm", "text"): [
        "test_lightgbm_options_naming_code_are_refused",
        "test_lightgbm_text_with_odd_tree_indices_or_garbage_is_a_clean_error",
        "test_tampered_lightgbm_tree_is_refused",
        "test_tampered_lightgbm_text_is_refused_in_a_child",
    ],
    ("onnx", "onnx"): ["test_onnx_external_data_is_refused"],
    ("torch", "torchscript"): ["test_torch_pickle_archives_are_refused", "test_torchscript_cannot_write_files"],
    ("torch", "onnx"): ["test_payload_under_every_registered_format_is_refused"],
}


def _flavors_in_the_package() -> list[object]:
    """Instances of every flavor class defined under modelyard.registry.flavors, registered by default or not."""
    found = []
    for info in pkgutil.iter_modules(flavor_package.__path__):
        module = importlib.import_module(f"{flavor_package.__name__}.{info.name}")
        for _, kind in inspect.getmembers(module, inspect.isclass):
            is_flavor = all(hasattr(kind, a) for a in ("name", "safe_formats", "code_formats", "load", "save"))
            if kind.__module__ == module.__name__ and is_flavor and not getattr(kind, "_is_protocol", False):
                found.append(kind())
    return found


def test_every_registered_loader_has_a_malicious_case(client: modelyard.Client) -> None:
    from tests.registry import test_tampered_boosters, test_tampered_trees

    for flavor in _flavors_in_the_package():  # a flavor module not yet in default_flavors() counts too
        if flavor.name not in {f.name for f in client.loaders.flavors()}:  # type: ignore[attr-defined]
            client.loaders.register(flavor)
    modules = (globals(), vars(test_tampered_trees), vars(test_tampered_boosters))
    defined = {name for module in modules for name in module if name.startswith("test_")}
    missing, unknown = [], []
    for flavor in client.loaders.flavors():
        for fmt in sorted(flavor.safe_formats | flavor.code_formats):
            names = CASES.get((flavor.name, fmt), [])
            if not names:
                missing.append(f"{flavor.name}/{fmt}")
            unknown += [f"{flavor.name}/{fmt}: {n}" for n in names if n not in defined]
    assert not missing, f"Loaders registered without a malicious-package case (add them to CASES): {missing}"
    assert not unknown, f"CASES names tests that do not exist: {unknown}"
