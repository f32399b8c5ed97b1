"""Signatures: inferred from an input example, enforced on every ``predict``.

A table signature names columns and their logical types; a tensor signature gives a dtype and a shape. Input
may come as pandas, pyarrow, polars, numpy, a list of records or a dict of columns: ``prepare`` turns it into
what the model was trained on (a DataFrame in signature order, or an array) and refuses missing or extra
columns and values of the wrong type with an error that names them. pandas and numpy are imported only here,
and only when a signature is inferred or enforced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInputError
from modelyard.registry.models import ColumnSpec, Signature, TensorSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["example_rows", "infer_signature", "prepare", "to_frame"]

_NUMERIC = {"integer", "float", "bool"}


def _logical(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("bytes",):
        return "binary"
    if kind in ("string", "empty"):
        return "string"
    if kind in ("integer",):
        return "integer"
    if kind in ("floating", "mixed-integer-float", "decimal"):
        return "float"
    if kind == "boolean":
        return "bool"
    raise InvalidInputError(
        f"Column {series.name!r} holds values of mixed or unsupported kind {kind!r}.",
        hint="Give the input example one type per column (numbers, strings, booleans or datetimes).",
    )


def to_frame(data: object) -> pd.DataFrame:
    """Any supported tabular input as a pandas DataFrame (a copy is made only when the input is not one)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas") and callable(data.to_pandas):  # pyarrow Table/RecordBatch, polars DataFrame
        frame = data.to_pandas()
        if isinstance(frame, pd.DataFrame):
            return frame
    if isinstance(data, Mapping):
        if all(isinstance(v, str | bytes) or not hasattr(v, "__len__") for v in data.values()):
            return pd.DataFrame([{str(key): value for key, value in data.items()}])  # one record
        return pd.DataFrame({str(key): value for key, value in data.items()})
    if isinstance(data, Sequence) and not isinstance(data, str | bytes) and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame.from_records(list(data))
    raise InvalidInputError(
        f"Cannot read a table from a {type(data).__name__}.",
        hint="Pass a pandas/polars DataFrame, a pyarrow Table, a list of records or a dict of columns.",
    )


def _is_tensor(data: object) -> bool:
    import numpy as np

    return isinstance(data, np.ndarray) or type(data).__module__.startswith("torch")


def infer_signature(example: object, output: object | None = None) -> Signature:
    """The signature of an input example (and of the model's output on it, when given).

    Example:
        >>> infer_signature(frame.head(5)).input_names
        ('dep_delay', 'carrier', ...)
    """
    inputs: tuple[ColumnSpec, ...] | TensorSpec
    if _is_tensor(example):
        inputs = _tensor_spec(example)
    else:
        frame = to_frame(example)
        inputs = tuple(
            ColumnSpec(name=str(name), type=_logical(frame[name]), nullable=bool(frame[name].isna().any()))  # type: ignore[arg-type]
            for name in frame.columns
        )
        _check_names([c.name for c in inputs])
    outputs = None if output is None else _output_spec(output)
    return Signature(inputs=inputs, outputs=outputs)


def _check_names(names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInputError(
            f"The input example repeats column names {duplicates}.", hint="Give every column a unique name."
        )


def _tensor_spec(value: object) -> TensorSpec:
    import numpy as np

    array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"An array example of dtype {array.dtype} has no tensor signature.",
            hint="Use a numeric or boolean array, or a DataFrame for mixed columns.",
        )
    shape = (-1, *array.shape[1:]) if array.ndim else ()
    return TensorSpec(dtype=str(array.dtype), shape=shape)


def _output_spec(output: object) -> tuple[ColumnSpec, ...] | TensorSpec | None:
    import numpy as np

    if _is_tensor(output):
        array = np.asarray(output.detach().cpu().numpy() if hasattr(output, "detach") else output)
        if array.dtype.kind in "biuf":
            return _tensor_spec(array)
        return (ColumnSpec(name="prediction", type="string"),)
    try:
        frame = to_frame(output)
    except InvalidInputError:
        return None
    return tuple(ColumnSpec(name=str(n), type=_logical(frame[n])) for n in frame.columns)  # type: ignore[arg-type]


def example_rows(example: object, limit: int = 5) -> list[dict[str, Any]] | list[Any]:
    """The first rows of an input example in JSON-ready form (records for tables, nested lists for arrays)."""
    import numpy as np

    if _is_tensor(example):
        array = np.asarray(example.detach().cpu().numpy() if hasattr(example, "detach") else example)
        return list(array[:limit].tolist())
    frame = to_frame(example).head(limit)
    records = frame.to_dict(orient="records")
    return [{str(k): _jsonable(v) for k, v in row.items()} for row in records]


def _jsonable(value: object) -> object:
    import pandas as pd

    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


# -- enforcement ----------------------------------------------------------------------------------------------
def prepare(data: object, signature: Signature | None) -> object:
    """Validate ``data`` against ``signature`` and return it in the form the model was trained on.

    Raises:
        InvalidInputError: missing or extra columns, a value of the wrong type, an array of the wrong shape.
    """
    if signature is None:
        return data
    if isinstance(signature.inputs, TensorSpec):
        return _prepare_tensor(data, signature.inputs)
    return _prepare_table(data, signature.inputs)


def _prepare_table(data: object, columns: tuple[ColumnSpec, ...]) -> pd.DataFrame:
    import numpy as np

    names = [c.name for c in columns]
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] != len(names):
            raise InvalidInputError(
                f"The model takes a table of {len(names)} columns {names}; got an array of shape {data.shape}.",
                hint="Pass a DataFrame or records with these columns, or an array with one column per name.",
            )
        data = {name: data[:, i] for i, name in enumerate(names)}
    frame = to_frame(data)
    present = [str(c) for c in frame.columns]
    missing = [n for n in names if n not in present]
    extra = [c for c in present if c not in names]
    if missing or extra:
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        raise InvalidInputError(
            f"The input does not match the model's signature: {'; '.join(parts)}.",
            hint=f"The model takes exactly these columns: {names}.",
        )
    if present != names:
        frame = frame.rename(columns=str)[names]
    problems = [problem for spec in columns if (problem := _type_problem(frame[spec.name], spec))]
    if problems:
        raise InvalidInputError(
            "The input has values of the wrong type: " + "; ".join(problems) + ".",
            hint="Cast the columns to the types of the model's signature (`modelyard models show NAME`).",
        )
    return frame


def _type_problem(series: pd.Series, spec: ColumnSpec) -> str | None:
    if len(series) == 0 or series.isna().all():
        return None
    try:
        actual = _logical(series)
    except InvalidInputError:
        return f"column {spec.name!r} mixes kinds"
    wanted = spec.type
    if actual == wanted:
        return None
    accepted = {
        "float": {"integer", "bool"},
        "integer": {"bool"},
        "category": {"string"},
        "string": {"category"},
    }.get(wanted, set())
    if actual in accepted:
        return None
    if wanted == "integer" and actual == "float":
        values = series.dropna()
        if bool((values == values.round()).all()):
            return None
    return f"column {spec.name!r} should be {wanted}, got {actual} ({series.dtype})"


def _prepare_tensor(data: object, spec: TensorSpec) -> np.ndarray:
    import numpy as np

    if hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    elif not isinstance(data, np.ndarray):
        try:
            data = to_frame(data).to_numpy()
        except InvalidInputError:
            data = np.asarray(data)
    array = np.asarray(data)
    wanted = np.dtype(spec.dtype)
    if array.dtype.kind not in "biuf" or (wanted.kind in "iu" and array.dtype.kind == "f"):
        raise InvalidInputError(
            f"The model takes an array of {spec.dtype}; got {array.dtype}.",
            hint=f"Convert the input with numpy: array.astype({spec.dtype!r}).",
        )
    expected = spec.shape
    if len(expected) and (
        array.ndim != len(expected) or any(e not in (-1, a) for e, a in zip(expected, array.shape, strict=True))
    ):
        raise InvalidInputError(
            f"The model takes arrays of shape {expected} (-1: any length); got shape {array.shape}.",
            hint="Reshape the input to the model's signature (`modelyard models show NAME`).",
        )
    return array.astype(wanted, copy=False)
