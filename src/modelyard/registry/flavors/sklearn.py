"""scikit-learn models and pipelines, stored with skops (no pickle) and loaded with a fixed trusted-type list.

skops already trusts scikit-learn's estimators. On top of that modelyard trusts exactly three types: numpy
dtypes and the two tree structures, which ``trees.check_trees`` bounds-checks before anything predicts. A
package whose skops file names any other type (a custom transformer, a function) loads only when its digest
is trusted. The types skops reported at save time are stored in the manifest, for display: the list that
decides is this module's, never the package's.
"""

from __future__ import annotations

import sys
from typing import Any

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors import pickled
from modelyard.registry.flavors.base import NativeModel, PackageFiles, Saved, model_modules, qualified_name, require
from modelyard.registry.flavors.trees import check_trees

__all__ = ["SklearnFlavor"]

SAFE_EXTRA_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
_FILE = "model.skops"


def _is_sklearn(model: object) -> bool:
    return any(kind.__module__.startswith("sklearn.") for kind in type(model).__mro__)


_TORCH_SHIM = "sklearn.externals.array_api_compat.torch"


def _skops() -> Any:
    """skops.io, imported without dragging in PyTorch.

    Importing skops lists every scikit-learn estimator (``sklearn.utils.all_estimators``), which imports
    scikit-learn's array-API shim for torch and so torch itself when it is installed: 1.3 s of 1.8 s here,
    for nothing skops uses (its trusted list is the same 208 estimators). The shim is hidden during that one
    import unless torch is already loaded, then put back so later imports behave as usual.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules or _TORCH_SHIM in sys.modules:
        return require("skops.io", extra="sklearn", models="scikit-learn")
    sys.modules[_TORCH_SHIM] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        return require("skops.io", extra="sklearn", models="scikit-learn")
    finally:
        if sys.modules.get(_TORCH_SHIM, 0) is None:
            del sys.modules[_TORCH_SHIM]


def _modules(model: object) -> tuple[str, ...]:
    names = set(model_modules(model)) | {"sklearn", "skops", "numpy", "scipy"}
    steps = getattr(model, "get_params", None)
    if callable(steps):
        for value in steps(deep=True).values():
            names.update(model_modules(value))
    return tuple(sorted(n for n in names if n != "builtins"))


def _skops_bytes(model: object) -> tuple[bytes, list[str]]:
    """The skops archive of ``model``, reproducible: the same model always makes the same package digest.

    skops names shared objects and array files by ``id()``, which changes from one dump to the next; they are
    renumbered in order of first appearance and member times are fixed. The object graph comes from skops'
    own ``get_state`` (what ``skops.io.dumps`` runs), and the schema is encoded with orjson: skops' indented
    stdlib JSON was half the cost of logging a forest. skops reads it back with its usual ``loads``.
    """
    import io
    import zipfile

    import orjson
    import skops

    try:  # skops' own building blocks of ``dumps``; a skops that moved them gets the slower public path
        from skops.io._audit import get_tree
        from skops.io._persist import SaveContext, get_state
        from skops.io._utils import LoadContext
    except ImportError:
        data = _skops().dumps(model)
        return _stable_archive(data), sorted(_skops().get_untrusted_types(data=data))

    scratch = io.BytesIO()
    with zipfile.ZipFile(scratch, "w") as archive:
        context = SaveContext(zip_file=archive)
        state = get_state(model, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
    ids: dict[object, int] = {}
    files: dict[str, str] = {}

    def renumber(node: object) -> object:
        if isinstance(node, list | tuple):  # the state holds tuples where its JSON holds lists
            return [renumber(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int):
                value = ids.setdefault(value, len(ids) + 1)
            elif key == "file" and isinstance(value, str):
                value = files.setdefault(value, f"{len(files) + 1}{value[value.rfind('.') :]}")
            out[key] = renumber(value)
        return out

    stable_state = renumber(state)
    schema = orjson.dumps(stable_state, option=orjson.OPT_SERIALIZE_NUMPY)
    out = io.BytesIO()
    with zipfile.ZipFile(scratch) as source, zipfile.ZipFile(out, "w") as target:
        members = {files.get(info.filename, info.filename): info for info in source.infolist()}
        members.pop("schema.json", None)
        for name in [*sorted(members), "schema.json"]:
            stable = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            target.writestr(stable, schema if name == "schema.json" else source.read(members[name]))
    with zipfile.ZipFile(out) as final:  # the types skops will ask a loader to trust, for the manifest
        tree = get_tree(stable_state, load_context=LoadContext(src=final, protocol=state["protocol"]), trusted=None)
        untrusted = sorted(tree.get_unsafe_set())
    return out.getvalue(), untrusted


def _stable_archive(data: bytes) -> bytes:
    """Fixed member times and sorted members (the fallback when skops' internals are not importable)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            target.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), source.read(info))
    return out.getvalue()


class SklearnFlavor:
    """scikit-learn estimators and pipelines (skops; pickle only when trusted)."""

    name = "sklearn"
    safe_formats = frozenset({"skops"})
    code_formats = frozenset({"pickle"})
    distributions: tuple[str, ...] = ("scikit-learn", "skops")

    def detect(self, model: object) -> bool:
        """Any object whose class comes from scikit-learn."""
        return _is_sklearn(model)

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """Skops bytes and the types skops will ask a loader to trust."""
        del example
        _skops()  # a clear error when skops is missing
        methods = ("predict", "predict_proba") if hasattr(model, "predict_proba") else ("predict",)
        try:
            data, untrusted = _skops_bytes(model)
        except (TypeError, ValueError, AttributeError) as exc:
            if not trusted:
                raise InvalidInputError(
                    f"skops cannot store this {type(model).__name__} safely: {exc}.",
                    hint="Use importable, picklable-by-name parts, or log it with trusted=True to store it as pickle.",
                ) from exc
            return pickled.save(model, methods=methods, modules=_modules(model))
        return Saved(
            format="skops",
            files={_FILE: data},
            model_class=qualified_name(type(model)),
            methods=methods,
            options={"skops_untrusted_types": untrusted},
            modules=_modules(model),
        )

    def load(self, files: PackageFiles) -> NativeModel:
        """Rebuild with skops, trusting only the fixed list (or the package's own list when it is trusted)."""
        if files.format == "pickle":
            return pickled.load(files)
        sio = _skops()
        data = files.read(_FILE)
        what = f"The model package {files.manifest.model_class}"
        try:
            untrusted = set(sio.get_untrusted_types(data=data))
        except Exception as exc:  # skops raises many kinds on a malformed archive
            raise UnsafeModelError(
                f"{what} holds an unreadable skops file: {exc}.", hint="Log the model again."
            ) from exc
        unknown = sorted(untrusted - SAFE_EXTRA_TYPES)
        if unknown and not files.trusted:
            raise UnsafeModelError(
                f"{what} names types outside modelyard's safe list: {unknown}. Nothing was loaded.",
                hint="If you made this package, trust it with my.models.trust(REF, reason=...); "
                "the grant is bound to its digest.",
            )
        try:
            model = sio.loads(data, trusted=sorted(untrusted))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OSError) as exc:
            raise UnsafeModelError(  # e.g. object arrays (pickle) inside, or arrays of the wrong shape
                f"{what} could not be rebuilt from its skops file: {exc}. Nothing was run.",
                hint="The file was damaged or tampered with; log the model again.",
            ) from exc
        check_trees(model, what)
        return model  # type: ignore[no-any-return]
