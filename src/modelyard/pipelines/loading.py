"""Finding pipeline code by reference: ``file.py:name``, ``package.module:name``, or (module, qualname, file).

Worker processes (local and Ray runners) and ``pipeline resume`` import steps and pipelines by reference, the
way they were defined, never by unpickling code. A module that is not importable by name (a script passed to
``modelyard pipeline run train.py:training``) is loaded from its file under a private module name, with
``__name__`` not ``"__main__"``, so a script's ``if __name__ == "__main__":`` block does not run again.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import blake3

from modelyard.errors import NotFoundError, PipelineError, close_matches

__all__ = ["load_attribute", "load_entry", "module_from_file"]


def module_from_file(path: str | Path) -> types.ModuleType:
    """Import a Python file as a module (once per process per file)."""
    file = Path(path).resolve()
    if not file.is_file():
        raise NotFoundError(f"Pipeline file {str(path)!r} does not exist.", hint="Pass a path such as train.py.")
    for module in list(sys.modules.values()):
        known = getattr(module, "__file__", None)
        if known and Path(known).resolve() == file and module.__name__ not in ("__main__", "__mp_main__"):
            return module
    name = f"modelyard_pipeline_{file.stem}_{blake3.blake3(str(file).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise PipelineError(f"{file} is not a Python file.", hint="Pass a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))  # its sibling modules import as they do when run as a script
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _module(name: str, file: str | None) -> types.ModuleType:
    if name in ("__main__", "__mp_main__"):
        main = sys.modules.get("__main__")
        main_file = getattr(main, "__file__", None)
        if main is not None and (file is None or (main_file and Path(main_file).resolve() == Path(file).resolve())):
            return main
        if file is None:
            raise PipelineError("The step is defined in __main__ without a file.", hint="Define it in a .py file.")
        return module_from_file(file)
    if name in sys.modules:
        return sys.modules[name]
    try:
        return importlib.import_module(name)
    except ImportError:
        if file is None or not Path(file).is_file():
            raise
        return module_from_file(file)


def load_attribute(module: str, qualname: str, file: str | None) -> object:
    """The object ``qualname`` of ``module`` (imported by name, else from ``file``)."""
    if "<locals>" in qualname:
        raise PipelineError(
            f"{module}:{qualname} is defined inside a function, so another process cannot import it.",
            hint="Define steps and pipelines at module level, or run with runner='inline'.",
        )
    found: object = _module(module, file)
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            names = [n for n in dir(found) if not n.startswith("_")]
            raise NotFoundError(
                f"{module} has no {qualname!r}.", hint=(close_matches(part, names) or " Check the name.").strip()
            ) from None
    return found


def load_entry(entry: str) -> object:
    """The object named by ``path/to/file.py:name`` or ``package.module:name``."""
    target, sep, name = entry.rpartition(":")
    if not sep or not target or not name:
        raise PipelineError(
            f"{entry!r} does not name a pipeline.",
            hint="Write FILE.py:NAME or package.module:NAME, e.g. train.py:training.",
        )
    if target.endswith(".py") or "/" in target or Path(target).is_file():
        module = module_from_file(target)
        return load_attribute(module.__name__, name, target)
    return load_attribute(target, name, None)
