"""PyTorch modules: stored as ONNX by default (safe), as TorchScript only when the package is trusted.

TorchScript is not a safe format: its code runs TorchScript ops, and some of them touch the file system
(``torch.from_file(path, shared=True)`` creates and writes any file on ``predict``; a test proves it). So by
default a module is exported with ``torch.onnx.export`` (the input example fixes the input shape; the batch
dimension stays dynamic) and served by onnxruntime through the ONNX flavor's loader, which runs no code of the
file's choosing. ``trusted=True`` keeps the TorchScript form for modules ONNX cannot express; loading it then
needs the package's trust grant like any code-executing format.

Why TorchScript and not safetensors: a safetensors file holds weights only. Rebuilding the model around them
needs its architecture, the Python class that defines ``forward``, and the package would have to name that
class for the loader to import, which the safe-loading policy forbids (a manifest never names code to import).
A TorchScript archive carries the architecture itself, as TorchScript code that TorchScript's own interpreter
runs (no Python), and its pickles (``data.pkl``, ``constants.pkl``) are read by TorchScript's restricted
unpickler, which resolves only TorchScript and tensor types.

A full-object ``torch.save`` archive is also a zip, and ``torch.load`` would run its pickle, so before
anything reads the bytes ``load`` inspects the zip: every member name must be relative without ``..`` or
backslashes, all members sit under one archive directory holding ``data.pkl``, ``constants.pkl`` and a
``code/`` tree, members are stored or deflated, and deflated code stays under 64 MiB. Anything else is refused.

Saving traces the module with the input example (converted to a float tensor) in eval mode, or scripts it
when there is no example. A loaded module is put in eval mode; ``predict`` runs it under ``torch.no_grad()``.

torch 2.9 and later deprecate TorchScript (``torch.jit.*`` emit ``DeprecationWarning``); ``torch.export``
archives are the candidate successor format.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from modelyard.errors import InvalidInputError, UnsafeModelError
from modelyard.registry.flavors.base import NativeModel, PackageFiles, Saved, qualified_name, require

__all__ = ["TorchFlavor"]

_FILE = "model.pt"
_MODULE = "torch.nn.modules.module.Module"
_FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})
_MAX_DEFLATED_BYTES = 64 * 2**20


def _torch() -> Any:
    return require("torch", extra="torch", models="PyTorch")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _example_tensor(torch: Any, example: object) -> Any:
    import numpy as np

    if isinstance(example, torch.Tensor):
        return example
    if hasattr(example, "to_numpy") and hasattr(example, "columns"):  # a DataFrame
        example = example.to_numpy()
    try:
        array = np.asarray(example, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"The input example ({type(example).__name__}) cannot be turned into a float tensor: {exc}",
            hint="Pass a numeric numpy array, DataFrame or torch tensor as the example.",
        ) from exc
    return torch.from_numpy(np.ascontiguousarray(array))


def _check_archive(data: bytes, what: str) -> None:
    """Refuse anything but a TorchScript zip, before torch reads a byte."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise UnsafeModelError(f"{what} is not a TorchScript archive (not a zip file).", hint="Log it again.") from exc
    names = [info.filename for info in infos]
    bad = [n for n in names if n.startswith("/") or "\\" in n or ".." in n.split("/") or n[1:2] == ":"]
    if bad:
        raise UnsafeModelError(
            f"{what} has archive members with unsafe names {bad[:5]}. Nothing was loaded.",
            hint="The archive was altered; log the model again.",
        )
    roots = {n.split("/", 1)[0] for n in names}
    root = next(iter(roots)) if len(roots) == 1 else ""
    is_script = (
        root != ""
        and all("/" in n for n in names)
        and f"{root}/data.pkl" in names
        and f"{root}/constants.pkl" in names
        and any(n.startswith(f"{root}/code/") for n in names)
    )
    if not is_script:
        raise UnsafeModelError(
            f"{what} is not a TorchScript archive (no single archive directory with data.pkl, constants.pkl "
            "and code/); a torch.save pickle would run code when loaded. Nothing was loaded.",
            hint="Log the module again with modelyard, which stores it as TorchScript.",
        )
    methods = {info.compress_type for info in infos}
    deflated = sum(info.file_size for info in infos if info.compress_type == zipfile.ZIP_DEFLATED)
    if not methods <= {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED} or deflated > _MAX_DEFLATED_BYTES:
        raise UnsafeModelError(
            f"{what} uses compression torch does not write (or unpacks to {deflated} bytes of code).",
            hint="The archive was altered; log the model again.",
        )


class _TorchModel:
    """A loaded TorchScript module behind ``predict``."""

    def __init__(self, module: Any, *, input_dtype: str) -> None:
        self._module = module
        self._torch = _torch()
        self._dtype = getattr(self._torch, input_dtype)  # input_dtype is one of _FLOAT_DTYPES

    @property
    def module(self) -> Any:
        """The loaded ``torch.jit.ScriptModule``."""
        return self._module

    def _tensor(self, data: Any) -> Any:
        import numpy as np

        torch = self._torch
        if isinstance(data, torch.Tensor):
            return data
        if hasattr(data, "to_numpy") and hasattr(data, "columns"):  # a DataFrame
            data = data.to_numpy(dtype=np.float32)
        array = np.asarray(data)
        if array.dtype.kind not in "biuf":
            raise InvalidInputError(
                f"A torch model takes numeric input; got an array of dtype {array.dtype}.",
                hint="Pass a numeric numpy array, DataFrame or torch tensor.",
            )
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        return tensor.to(self._dtype) if tensor.is_floating_point() else tensor

    def _numpy(self, value: Any) -> Any:
        if isinstance(value, self._torch.Tensor):
            value = value.detach().cpu()
            return (value.float() if value.dtype == self._torch.bfloat16 else value).numpy()
        if isinstance(value, list | tuple):
            return [self._numpy(item) for item in value]
        if isinstance(value, dict):
            return {key: self._numpy(item) for key, item in value.items()}
        return value

    def predict(self, data: Any) -> Any:
        """The module's output on ``data`` as a numpy array (a list or dict of arrays for several outputs)."""
        with self._torch.no_grad():
            return self._numpy(self._module(self._tensor(data)))


class TorchFlavor:
    """``torch.nn.Module`` models: ONNX by default, TorchScript when trusted.

    Example:
        >>> loaders.register(TorchFlavor())
        >>> flavor, saved = loaders.save(net, flavor=None, trusted=False, example=x_train[:8])
    """

    name = "torch"
    safe_formats = frozenset({"onnx"})
    code_formats = frozenset({"torchscript"})
    distributions: tuple[str, ...] = ("torch",)

    def detect(self, model: object) -> bool:
        """Whether ``model`` is a ``torch.nn.Module`` (script modules included)."""
        return any(qualified_name(kind) == _MODULE for kind in type(model).__mro__)

    def save(self, model: object, *, trusted: bool, example: object | None) -> Saved:
        """Trace (with an example) or script the module and save the TorchScript archive.

        Raises:
            InvalidInputError: TorchScript cannot trace or compile the module, or the example is not numeric.
        """
        torch = _torch()
        if not trusted:
            return self._save_onnx(torch, model, example)
        dtype = "float32"
        if isinstance(model, torch.jit.ScriptModule):
            scripted = model
        elif example is not None:
            tensor = _example_tensor(torch, example)
            dtype = str(tensor.dtype).removeprefix("torch.") if tensor.is_floating_point() else dtype
            scripted = self._trace(torch, model, tensor)
        else:
            scripted = self._script(torch, model)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
        return Saved(
            format="torchscript",
            files={_FILE: buffer.getvalue()},
            model_class=qualified_name(type(model)),
            options={"input_dtype": dtype},
            modules=("numpy", "torch"),
        )

    @staticmethod
    def _save_onnx(torch: Any, model: Any, example: object | None) -> Saved:
        import warnings

        if example is None:
            raise InvalidInputError(
                "A torch module is stored as ONNX, which needs an input example to fix the input shape.",
                hint="Pass input_example=... (a few rows of input), or trusted=True to store TorchScript.",
            )
        tensor = _example_tensor(torch, example)
        training = model.training
        model.eval()
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings():  # torch deprecates its TorchScript-based exporter; it still works
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.onnx.export(
                    model, (tensor,), buffer, dynamo=False, input_names=["input"], output_names=["output"],
                    dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                )  # fmt: skip
        except (RuntimeError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"torch.onnx.export failed on this {type(model).__name__}: {_first_line(exc)}",
                hint="Log it with trusted=True to store TorchScript instead (loading then needs the trust grant).",
            ) from exc
        finally:
            model.train(training)
        return Saved(
            format="onnx",
            files={"model.onnx": buffer.getvalue()},
            model_class=qualified_name(type(model)),
            modules=("numpy", "torch", "onnx", "onnxruntime"),
        )

    @staticmethod
    def _trace(torch: Any, model: Any, tensor: Any) -> Any:
        training = model.training
        model.eval()  # trace inference behaviour (dropout off, batch-norm running stats)
        try:
            with torch.no_grad():
                return torch.jit.trace(model, tensor)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"torch.jit.trace failed on this {type(model).__name__} with the example: {_first_line(exc)}",
                hint="Pass an example forward() accepts as one tensor, or no example to script the module.",
            ) from exc
        finally:
            model.train(training)

    @staticmethod
    def _script(torch: Any, model: Any) -> Any:
        try:
            return torch.jit.script(model)
        except (RuntimeError, TypeError, ValueError, torch.jit.frontend.FrontendError) as exc:
            raise InvalidInputError(
                f"TorchScript cannot compile this {type(model).__name__}: {_first_line(exc)}",
                hint="Pass an input example so the module is traced instead, or make forward() TorchScript-compatible.",
            ) from exc

    def load(self, files: PackageFiles) -> NativeModel:
        """Check the archive is TorchScript, then ``torch.jit.load`` it on the CPU in eval mode.

        Raises:
            UnsafeModelError: not a TorchScript zip (a ``torch.save`` pickle, unsafe member names), a bad
                ``input_dtype`` option, or an archive TorchScript cannot read.
        """
        if files.format == "onnx":
            from modelyard.registry.flavors.onnx import OnnxFlavor

            return OnnxFlavor().load(files)
        what = f"The torch package {files.manifest.model_class}"
        dtype = files.manifest.options.get("input_dtype", "float32")
        if not isinstance(dtype, str) or dtype not in _FLOAT_DTYPES:
            raise UnsafeModelError(
                f"{what} names input dtype {dtype!r}, which is not one of {sorted(_FLOAT_DTYPES)}. Nothing was loaded.",
                hint="Log the model again.",
            )
        data = files.read(_FILE)
        _check_archive(data, what)
        torch = _torch()
        try:
            module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        except (RuntimeError, ValueError) as exc:
            raise UnsafeModelError(
                f"{what} cannot be read by TorchScript: {_first_line(exc)}", hint="Log it again."
            ) from exc
        module.eval()
        return _TorchModel(module, input_dtype=dtype)
