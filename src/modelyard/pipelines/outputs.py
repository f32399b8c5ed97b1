"""Step outputs: every value a step returns is serialized and stored content-addressed.

Tables (pandas, polars, pyarrow) become Parquet, numpy arrays ``.npy`` (never with pickled objects), small
plain values canonical JSON, records (modelyard's own and those you list) JSON, models the model package
format (safe flavors only, through ``log_model``), and a dataset version a reference to itself. A serializer
you register handles anything else. Nothing is ever pickled.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import math
import tempfile
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

import orjson

from modelyard.errors import IntegrityError, InvalidInputError
from modelyard.ids import Digest, RunId
from modelyard.pipelines.models import OutputRef

if TYPE_CHECKING:
    from modelyard.client import Client

__all__ = ["Outputs", "Serializer", "canonical_json", "model_name", "recorded_json", "type_name"]

_SPOOL_BYTES = 64 * 1024 * 1024
_MAX_JSON_BYTES = 16 * 1024 * 1024
_RECORDS = (
    "modelyard.pipelines.evaluation:Evaluation",
    "modelyard.pipelines.gates:GateReport",
    "modelyard.data.models:CheckReport",
    "modelyard.pipelines.builtins:Registered",
    "modelyard.pipelines.builtins:Promotion",
)


@runtime_checkable
class Serializer(Protocol):
    """Stores one kind of value: ``accepts`` it, ``dump``s it to bytes, ``load``s it back."""

    kind: str

    def accepts(self, value: object) -> bool:
        """Whether this serializer handles ``value``."""
        ...

    def dump(self, value: object, out: IO[bytes]) -> None:
        """Write ``value`` as bytes; the same value must give the same bytes."""
        ...

    def load(self, data: BinaryIO, type_name: str) -> object:
        """Read a value back; ``type_name`` is the ``module:qualname`` of the type that was dumped."""
        ...


def type_name(value: object) -> str:
    """``module:qualname`` of a value's type."""
    kind = type(value)
    return f"{kind.__module__}:{kind.__qualname__}"


def _plain(value: object, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def canonical_json(value: object) -> bytes:
    """JSON with sorted keys: the same value always gives the same bytes (used in cache keys too).

    Raises TypeError for values JSON cannot hold exactly: tables, arrays (their dtype would be lost) and
    objects that are not records, dataclasses, pydantic models or enums.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_jsonable)


def recorded_json(value: object) -> bytes:
    """Canonical JSON for records of a run: a value JSON cannot hold is recorded by its type only."""

    def describe(item: object) -> object:
        try:
            return _jsonable(item)
        except TypeError:
            return {"__unrecorded__": type_name(item)}

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=describe)


_DATA_PACKAGES = frozenset({"pandas", "numpy", "pyarrow", "polars"})


def _jsonable(value: object) -> object:
    package = type(value).__module__.partition(".")[0]
    if package == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()  # a numpy scalar (np.float64 is a float: stored as the plain number it is)
    if package in _DATA_PACKAGES:
        raise TypeError(f"{type_name(value)} is data, not a JSON value")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type_name(value), **{f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    if isinstance(value, enum.Enum):
        return value.value
    dump = getattr(value, "model_dump", None) or getattr(value, "to_json", None)
    if callable(dump):
        return {"__type__": type_name(value), "value": dump(mode="json") if hasattr(value, "model_dump") else dump()}
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__qualname__} is not JSON")


class _Json:
    kind = "json"

    def accepts(self, value: object) -> bool:
        return _plain(value)

    def dump(self, value: object, out: IO[bytes]) -> None:
        out.write(canonical_json(value))

    def load(self, data: BinaryIO, type_name: str) -> object:
        value = orjson.loads(data.read())
        return tuple(value) if type_name == "builtins:tuple" else value


def _package_and_name(value: object) -> tuple[str, str]:
    kind = type(value)
    return kind.__module__.partition(".")[0], kind.__qualname__


class _Parquet:
    kind = "parquet"
    _TYPES = (("pandas", "DataFrame"), ("pyarrow", "Table"), ("polars", "DataFrame"))

    def accepts(self, value: object) -> bool:
        return _package_and_name(value) in self._TYPES

    def dump(self, value: object, out: IO[bytes]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        name = type_name(value)
        if name.startswith("pandas"):
            table = pa.Table.from_pandas(value)
        elif name.startswith("polars"):
            table = value.to_arrow()  # type: ignore[attr-defined]
        else:
            table = value
        pq.write_table(table, out, compression="zstd")

    def load(self, data: BinaryIO, type_name: str) -> object:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(data.read()))  # read whole: the digest is verified at EOF
        if type_name.startswith("pandas"):
            return table.to_pandas()
        if type_name.startswith("polars"):
            import polars as pl

            return pl.from_arrow(table)
        return table


class _Numpy:
    kind = "numpy"

    def accepts(self, value: object) -> bool:
        return (
            _package_and_name(value) == ("numpy", "ndarray")
            and getattr(getattr(value, "dtype", None), "hasobject", True) is False
        )

    def dump(self, value: object, out: IO[bytes]) -> None:
        import numpy as np

        np.save(out, value, allow_pickle=False)  # type: ignore[arg-type]

    def load(self, data: BinaryIO, type_name: str) -> object:
        import numpy as np

        return np.load(io.BytesIO(data.read()), allow_pickle=False)


class _Records:
    """modelyard's result records (and ones you name): stored as JSON, rebuilt only from an allow-list."""

    kind = "record"

    def __init__(self, extra: Sequence[type]) -> None:
        self._allowed = set(_RECORDS) | {f"{t.__module__}:{t.__qualname__}" for t in extra}

    def accepts(self, value: object) -> bool:
        return type_name(value) in self._allowed

    def dump(self, value: object, out: IO[bytes]) -> None:
        dump = getattr(value, "model_dump", None)
        out.write(canonical_json(dump(mode="json") if callable(dump) else value.to_json()))  # type: ignore[attr-defined]

    def load(self, data: BinaryIO, type_name: str) -> object:
        if type_name not in self._allowed:
            raise InvalidInputError(f"Record type {type_name!r} is not allowed here.", hint="List it in record_types.")
        from modelyard.pipelines.loading import load_attribute

        module, _, qualname = type_name.partition(":")
        cls: Any = load_attribute(module, qualname, None)
        body = orjson.loads(data.read())
        return cls.model_validate(body) if hasattr(cls, "model_validate") else cls.from_json(body)


def _input_example(model: object, tables: Sequence[object]) -> object | None:
    """Five rows of the features a fitted model knows by name (``feature_names_in_``), from a table input."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None
    wanted = [str(n) for n in names]
    for table in tables:
        columns = getattr(table, "columns", None)
        if columns is not None and set(wanted) <= {str(c) for c in columns}:
            return table[wanted].head(5)  # type: ignore[index, no-any-return]
    return None


def model_name(step: str, output: str) -> str:
    """The name a step's model output is logged under in its run: the step's, or ``step.output``."""
    return step if output in ("output", step) else f"{step}.{output}"


class Outputs:
    """Saves and loads step outputs through the client's stores.

    Args:
        client: where outputs are stored (artifact store; models through the registry's packages).
        serializers: yours, tried before the built-in ones.
        record_types: your record classes (with ``to_json``/``from_json``) to store as JSON records.
    """

    def __init__(self, client: Client, serializers: Sequence[Serializer] = (), record_types: Sequence[type] = ()):
        self._client = client
        self._serializers: list[Serializer] = [*serializers, _Parquet(), _Numpy(), _Records(record_types), _Json()]

    def is_table(self, value: object) -> bool:
        """Whether ``value`` is stored as a table or an array (and so hashed by its bytes, never as JSON)."""
        return any(s.kind in ("parquet", "numpy") and s.accepts(value) for s in self._serializers)

    def save(
        self,
        name: str,
        value: object,
        *,
        run_id: RunId | None,
        step: str | None = None,
        tables: Sequence[object] = (),
    ) -> OutputRef:
        """Store ``value`` (as output ``name`` of step ``step``'s run ``run_id``) and describe it.

        A model is logged with the step's run under ``model_name(step, name)``: ``runs:/<run>/train`` for
        the single output of step ``train``. Its signature and input example come from the first of
        ``tables`` (the step's table inputs) holding every feature the model was fitted on.
        """
        from modelyard.data.models import DatasetVersion

        if isinstance(value, DatasetVersion):  # a version names itself: "name@number=digest"
            return OutputRef(
                name=name, kind="dataset", digest=f"{value.ref}={value.digest}", size_bytes=value.size_bytes,
                type_name=type_name(value), run_id=run_id,
            )  # fmt: skip
        for serializer in self._serializers:
            if serializer.accepts(value):
                return self._put(name, value, serializer, run_id)
        if self._client.loaders.find_flavor(value) is not None and run_id is not None:
            example = _input_example(value, tables)
            info = self._client.log_model(value, name=model_name(step or name, name), input_example=example)
            return OutputRef(
                name=name,
                kind="model",
                digest=str(info.digest),
                size_bytes=info.size_bytes,
                type_name=type_name(value),
                run_id=run_id,
            )
        raise InvalidInputError(
            f"Output {name!r} is a {type_name(value)}, which modelyard cannot store without pickling it.",
            hint="Return a DataFrame, an array, JSON values or a model of a known flavor, or pass a Serializer "
            "for the type in @pipeline(serializers=[...]).",
        )

    def _put(self, name: str, value: object, serializer: Serializer, run_id: RunId | None) -> OutputRef:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as buffer:
            serializer.dump(value, buffer)
            size = buffer.tell()
            if serializer.kind == "json" and size > _MAX_JSON_BYTES:
                raise InvalidInputError(
                    f"Output {name!r} is {size:,} bytes of JSON.", hint="Return large data as a DataFrame or an array."
                )
            buffer.seek(0)
            stored = self._client.artifacts.put(buffer)  # type: ignore[arg-type]
        return OutputRef(
            name=name,
            kind=serializer.kind,
            digest=str(stored.digest),
            size_bytes=size,
            type_name=type_name(value),
            run_id=run_id,
        )

    def load(self, ref: OutputRef) -> object:
        """Read an output back (bytes verified against the digest)."""
        if ref.kind == "dataset":
            return self._client.datasets.get(ref.digest.partition("=")[0])
        if ref.kind == "model":
            return self._client.models.packages.load(Digest.parse(ref.digest)).model
        for serializer in self._serializers:
            if serializer.kind == ref.kind:
                with self._client.artifacts.open(Digest.parse(ref.digest)) as data:
                    return serializer.load(data, ref.type_name)
        raise IntegrityError(
            f"Output {ref.name!r} was stored by serializer {ref.kind!r}, which this pipeline does not have.",
            hint="Pass the same serializers to @pipeline(serializers=[...]) as the run that stored it.",
        )
