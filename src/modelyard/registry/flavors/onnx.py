"""ONNX models, run with onnxruntime on the CPU; also the export of scikit-learn models to ONNX.

An ONNX file is a protobuf graph of standard operators: loading it runs no Python. Two things are refused
before onnxruntime sees the bytes: a file that is not a valid ONNX protobuf, and any tensor stored as
*external data* (its ``data_location`` is ``EXTERNAL``). External data names a file path that onnxruntime
would open relative to the working directory; modelyard never reads a file an artifact names (onnx < 1.13
even let such a path escape its directory, PYSEC-2023-38). Keep models under protobuf's 2 GB limit.

``predict`` feeds a single-input graph the whole array, cast to the input's element type, and a multi-input
graph (skl2onnx's form for a DataFrame: one ``[None, 1]`` input per column) one column per input, by name
(or by the name skl2onnx made of it: ``dep delay`` becomes input ``dep_delay``).
It returns the first output as onnxruntime gives it (skl2onnx regressors give shape ``(n, 1)``).
``predict_proba`` exists when a later output is named ``probabilities`` or ``output_probability``.

``export_sklearn`` converts a fitted scikit-learn estimator or pipeline with skl2onnx, with ZipMap disabled
so probabilities are a plain 2-D float tensor; ``parity`` compares the two forms' predictions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors.base import NativeModel, PackageFiles, Saved, qualified_name, require

__all__ = ["OnnxFlavor", "export_sklearn", "parity"]

_FILE = "model.onnx"
_PROBABILITIES = ("probabilities", "output_probability")
_TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint64)": "uint64",
    "tensor(uint32)": "uint32",
    "tensor(uint16)": "uint16",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}
_ORT_ERRORS = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NotImplemented", "RuntimeException")


def _import(name: str) -> Any:
    return require(name, extra="onnx", models="ONNX")


def _ort_errors(ort: Any) -> tuple[type[Exception], ...]:
    state = ort.capi.onnxruntime_pybind11_state
    return tuple(getattr(state, name) for name in _ORT_ERRORS if hasattr(state, name))


def _tensors(graph: Any) -> Any:
    """Every tensor of a graph or function: initializers and node attributes, subgraphs included."""
    yield from getattr(graph, "initializer", ())
    for sparse in getattr(graph, "sparse_initializer", ()):
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield from (attribute.sparse_tensor.values, attribute.sparse_tensor.indices)
            for sparse in attribute.sparse_tensors:
                yield from (sparse.values, sparse.indices)
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _external_tensors(model: Any) -> list[str]:
    onnx = _import("onnx")
    found = []
    for graph in (model.graph, *model.functions):
        for tensor in _tensors(graph):
            if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
                found.append(tensor.name or "<unnamed>")
    return found


def _onnx_name(column: str) -> str:
    """The input name skl2onnx gives a column (it keeps word characters and '+', and no leading digit)."""
    name = re.sub(r"[^\w+]", "_", column)
    return "_" + name if re.match(r"^[0-9]", name) else name


def _feed_column(values: Any, dtype: str, rank: int) -> Any:
    import numpy as np

    array = np.asarray(values)
    if dtype == "object":
        array = np.asarray([str(v) for v in array.ravel()], dtype=object).reshape(array.shape)
    else:
        array = array.astype(dtype, copy=False)
    if rank == 2 and array.ndim == 1:
        return array.reshape(-1, 1)
    if rank == 1 and array.ndim == 2 and array.shape[1] == 1:
        return array.reshape(-1)
    return array


class _OnnxModel:
    """An onnxruntime session behind ``predict`` and ``predict_proba``."""

    def __init__(self, session: Any, errors: tuple[type[Exception], ...]) -> None:
        self._session = session
        self._errors = errors
        self._inputs = [(i.name, _DTYPES.get(i.type, "float32"), len(i.shape or ())) for i in session.get_inputs()]
        self._outputs = [o.name for o in session.get_outputs()]

    def _feeds(self, data: Any) -> dict[str, Any]:
        import numpy as np

        if len(self._inputs) == 1:
            name, dtype, rank = self._inputs[0]
            values = data.to_numpy() if hasattr(data, "to_numpy") and hasattr(data, "columns") else data
            return {name: _feed_column(values, dtype, rank)}
        names = [name for name, _, _ in self._inputs]
        if isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[1] == len(names):
            columns: Mapping[str, Any] = {name: data[:, i] for i, name in enumerate(names)}
        else:
            from modelyard.registry.signatures import to_frame

            frame = to_frame(data)
            columns = {str(c): frame[c] for c in frame.columns}
        renamed = {_onnx_name(name): values for name, values in columns.items()}
        columns = {name: columns[name] if name in columns else renamed.get(name) for name in names}
        missing = [name for name in names if columns.get(name) is None]
        if missing:
            raise InvalidInputError(
                f"The ONNX model takes columns {names}; the input lacks {missing}.",
                hint="Pass a DataFrame (or records) with one column per model input.",
            )
        return {name: _feed_column(columns[name], dtype, rank) for name, dtype, rank in self._inputs}

    def _run(self, output: str, data: Any) -> Any:
        try:
            feeds = self._feeds(data)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(
                f"The input cannot be cast to the ONNX model's input types: {exc}",
                hint=f"The model takes {[(n, t) for n, t, _ in self._inputs]}.",
            ) from exc
        try:
            return self._session.run([output], feeds)[0]
        except self._errors as exc:
            raise InvalidInputError(
                f"onnxruntime refused the input: {exc}",
                hint=f"The model takes {[(n, t) for n, t, _ in self._inputs]}.",
            ) from exc

    def predict(self, data: Any) -> Any:
        """The graph's first output."""
        return self._run(self._outputs[0], data)

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities as a 2-D float array (a ZipMap's list of dicts is turned into one)."""
        import numpy as np

        name = next((n for n in self._outputs[1:] if n in _PROBABILITIES), None)
        if name is None:
            raise InvalidInputError(
                f"This ONNX model has no probability output (its outputs: {self._outputs}).",
                hint="Call predict, or export the classifier with skl2onnx so it has a 'probabilities' output.",
            )
        result = self._run(name, data)
        if isinstance(result, list) and result and isinstance(result[0], Mapping):
            return np.asarray([list(row.values()) for row in result], dtype=np.float64)
        return np.asarray(result)


class OnnxFlavor:
    """``onnx.ModelProto`` graphs, stored as ONNX bytes and run with onnxruntime's CPU provider.

    Example:
        >>> loaders.register(OnnxFlavor())
        >>> flavor, saved = loaders.save(onnx.load("model.onnx"), flavor=None, trusted=False, example=None)
    """

    name = "onnx"
    safe_formats = frozenset({"onnx"})
    code_formats: frozenset[str] = frozenset()
    distributions: tuple[str, ...] = ("onnx", "onnxruntime")

    def detect(self, model: object) -> bool:
        """Whether ``model`` is an ``onnx.ModelProto``."""
        return type(model).__module__.startswith("onnx.") and type(model).__qualname__ == "ModelProto"

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """The model's protobuf bytes.

        Raises:
            InvalidInputError: the model keeps tensors as external data, or is too large for one protobuf.
        """
        del trusted, example
        external = _external_tensors(model)
        if external:
            raise InvalidInputError(
                f"This ONNX model keeps tensors {external[:5]} in external files, which modelyard does not read.",
                hint="Load it with onnx.load(path) (which inlines external data) before logging; "
                "models over 2 GB cannot be stored as ONNX.",
            )
        try:
            data = model.SerializeToString()  # type: ignore[attr-defined]
        except ValueError as exc:  # protobuf refuses messages over 2 GB
            raise InvalidInputError(f"This ONNX model cannot be serialized: {exc}", hint="Keep it under 2 GB.") from exc
        outputs = [o.name for o in model.graph.output]  # type: ignore[attr-defined]
        has_proba = any(name in _PROBABILITIES for name in outputs[1:])
        return Saved(
            format="onnx",
            files={_FILE: data},
            model_class=qualified_name(type(model)),
            methods=("predict", "predict_proba") if has_proba else ("predict",),
            modules=("numpy", "onnx", "onnxruntime"),
        )

    def load(self, files: PackageFiles) -> NativeModel:
        """Check the graph for external data, then open an onnxruntime session on the bytes.

        Raises:
            UnsafeModelError: not an ONNX protobuf, external data, or a graph onnxruntime refuses.
        """
        what = f"The ONNX package {files.manifest.model_class}"
        data = files.read(_FILE)
        onnx = _import("onnx")
        decode_error = _import("google.protobuf.message").DecodeError
        try:
            model = onnx.load_model_from_string(data)
        except decode_error as exc:
            raise UnsafeModelError(f"{what} is not a valid ONNX file: {exc}", hint="Log the model again.") from exc
        external = _external_tensors(model)
        if external:
            raise UnsafeModelError(
                f"{what} keeps tensors {external[:5]} as external data, which names files modelyard does not "
                "read. Nothing was loaded.",
                hint="Inline the data (onnx.load then log the model again) so the package holds every tensor.",
            )
        ort = _import("onnxruntime")
        errors = _ort_errors(ort)
        try:
            session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except errors as exc:
            raise UnsafeModelError(f"{what} cannot be opened by onnxruntime: {exc}", hint="Log it again.") from exc
        return _OnnxModel(session, errors)


# -- export and parity ----------------------------------------------------------------------------------------
def _initial_types(example: object) -> list[tuple[str, Any]]:
    import numpy as np

    types = _import("skl2onnx.common.data_types")
    if isinstance(example, np.ndarray):
        if example.ndim != 2:
            raise InvalidInputError(
                f"The input example has shape {example.shape}; ONNX export needs a 2-D array or a DataFrame.",
                hint="Pass rows like those the model was fit on.",
            )
        return [("X", _tensor_type(types, example.dtype.kind, "X", example.dtype)([None, example.shape[1]]))]
    import pandas as pd

    from modelyard.registry.signatures import to_frame

    frame = to_frame(example)
    seen: dict[str, str] = {}
    for column in map(str, frame.columns):
        if seen.setdefault(_onnx_name(column), column) != column:
            raise InvalidInputError(
                f"Columns {seen[_onnx_name(column)]!r} and {column!r} both become ONNX input {_onnx_name(column)!r}.",
                hint="Rename one of them; the ONNX form is optional, so you can also log without it.",
            )
    initial = []
    for name in frame.columns:
        dtype = frame[name].dtype
        values = dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype
        kind = (
            "b" if pd.api.types.is_bool_dtype(values)
            else "i" if pd.api.types.is_integer_dtype(values)
            else "f" if pd.api.types.is_float_dtype(values)
            else "O" if pd.api.types.is_string_dtype(values)
            else "?"
        )  # fmt: skip
        initial.append((str(name), _tensor_type(types, kind, str(name), dtype)([None, 1])))
    return initial


def _tensor_type(types: Any, kind: str, name: str, dtype: object) -> Any:
    if kind == "f":
        return types.FloatTensorType
    if kind in ("b", "i", "u"):
        return types.Int64TensorType
    if kind in ("O", "U", "S"):
        return types.StringTensorType
    raise InvalidInputError(
        f"Input {name!r} has dtype {dtype}, which has no ONNX input type here.",
        hint="Use float, integer, boolean or string columns; the ONNX form is optional, so log without it.",
    )


def _classifiers(model: object) -> list[object]:
    from sklearn.base import is_classifier

    params = model.get_params(deep=True) if callable(getattr(model, "get_params", None)) else {}  # type: ignore[attr-defined]
    found = [model, *(v for v in params.values() if callable(getattr(v, "get_params", None)))]
    return [estimator for estimator in found if is_classifier(estimator)]


def export_sklearn(model: object, example: object) -> bytes:
    """Convert a fitted scikit-learn estimator or pipeline to ONNX bytes with skl2onnx.

    Input types come from the example: one ``[None, 1]`` input per DataFrame column (float32 for floats,
    int64 for integers and booleans, string for strings), or one ``X`` input for a 2-D array. Classifiers are
    converted without ZipMap, so probabilities come out as a 2-D float tensor.

    Args:
        model: a fitted scikit-learn estimator or pipeline.
        example: rows like those the model was fit on (a DataFrame, records or a 2-D array).

    Returns:
        The serialized ONNX model.

    Raises:
        InvalidInputError: skl2onnx is missing, or cannot convert a part of the model or a column type.

    Example:
        >>> data = export_sklearn(pipeline, frame.head(20))
        >>> parity(pipeline.predict_proba(frame), OnnxFlavor().load(...).predict_proba(frame)) < 1e-4
    """
    skl2onnx = _import("skl2onnx")
    initial_types = _initial_types(example)
    options = {id(estimator): {"zipmap": False} for estimator in _classifiers(model)}
    try:
        converted = skl2onnx.convert_sklearn(
            model, initial_types=initial_types, options=options, target_opset=_TARGET_OPSET
        )
    except (RuntimeError, NotImplementedError, NameError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            f"skl2onnx cannot convert this {type(model).__name__}: {first}",
            hint="The ONNX form is optional: log the model without it, or replace the part skl2onnx does not "
            "support (https://onnx.ai/sklearn-onnx/supported.html).",
        ) from exc
    data: bytes = converted.SerializeToString()
    return data


def parity(native_predictions: object, onnx_predictions: object) -> float:
    """The largest absolute difference between two forms' predictions; labels are compared for equality.

    Args:
        native_predictions: the original model's output.
        onnx_predictions: the ONNX model's output on the same input.

    Returns:
        The max absolute difference for numbers (``inf`` when shapes or NaNs differ); for labels ``0.0``
        when every label is equal, else ``inf``.

    Example:
        >>> parity(model.predict_proba(x), onnx_model.predict_proba(x))
        3.1e-08
    """
    import numpy as np

    native = np.asarray(native_predictions)
    other = np.asarray(onnx_predictions)
    if native.size != other.size:
        return math.inf
    native, other = native.reshape(-1), other.reshape(-1)
    if native.size == 0:
        return 0.0
    numeric = native.dtype.kind in "biuf" and other.dtype.kind in "biuf"
    if not numeric or (native.dtype.kind != "f" and other.dtype.kind != "f"):
        return 0.0 if bool(np.all(native == other)) else math.inf
    left, right = native.astype(np.float64), other.astype(np.float64)
    if not np.array_equal(np.isnan(left), np.isnan(right)):
        return math.inf
    valid = ~np.isnan(left)
    return float(np.max(np.abs(left[valid] - right[valid]), initial=0.0))
