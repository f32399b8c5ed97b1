"""Code fingerprints of pipeline steps: the part of a step-cache key that says "the code did not change".

A step's fingerprint hashes its own source and the source of every function and class of the user's project it
reaches (called helpers, helpers of helpers, methods of project classes it uses), the values of plain constants
it reads from module globals, and the installed versions of the libraries it touches. Installed libraries and
the standard library are not hashed by source: their versions stand for them. Changing a helper therefore
invalidates exactly the steps that reach it, and upgrading a library invalidates the steps that use it.

The walk is static: names a function loads (``helper``, ``module.helper``, ``Class.method``) are resolved
against its globals and closure, the way Python would resolve them when it runs. Code reached only through
``getattr`` with computed names, or through objects passed in as inputs, is not seen; inputs are hashed by
their digests instead. Sources are read from the files as they are when the fingerprint is taken, which
for a pipeline run is right after its modules were imported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import sys
import sysconfig
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from modelyard._environment import distributions_of

__all__ = ["CodeFingerprint", "Fingerprinter", "fingerprint"]

_CONSTANTS = (int, float, str, bytes, bool, type(None))
_MAX_CONSTANT_CHARS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeFingerprint:
    """The digest of a step's code, what went into it, and the libraries it depends on."""

    digest: str
    code: tuple[str, ...]  # "module:qualname" of every project function and class hashed by source
    libraries: dict[str, str] = field(default_factory=dict)  # distribution -> version


def _library_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"], paths["purelib"], paths["platlib"], sys.prefix, sys.base_prefix}
    return tuple(Path(p).resolve() for p in roots if p)


def _module_file(module_name: str) -> Path | None:
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve() if filename else None


def _stable_module_name(module_name: str) -> str:
    """The module's name, except for a script (``__main__``, or loaded from its file): its file name.

    A pipeline file run as ``python train.py`` and loaded by ``modelyard pipeline run train.py:...`` is the
    same code under two module names; both must give the same fingerprint.
    """
    if module_name in ("__main__", "__mp_main__") or module_name.startswith("modelyard_pipeline_"):
        path = _module_file(module_name)
        if path is not None:
            return path.stem  # what `import train` calls train.py
    return module_name


class _ModuleIndex:
    """One parse of a module's file: the source and syntax tree of each function and class, by qualname."""

    def __init__(self, path: Path) -> None:
        self.nodes: dict[str, ast.AST] = {}
        self.lines: list[str] = []
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            return
        self.lines = text.splitlines()
        self._index(tree, "")

    def _index(self, node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                self.nodes[prefix + child.name] = child
                self._index(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                self.nodes[prefix + child.name] = child
                self._index(child, f"{prefix}{child.name}.")

    def source(self, node: ast.AST) -> str:
        decorated = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorated)])  # type: ignore[attr-defined]
        return textwrap.dedent("\n".join(self.lines[start - 1 : node.end_lineno]))  # type: ignore[attr-defined]


class _Walker:
    """Collects the project code reachable from one function."""

    def __init__(self, project_root: Path | None, indexes: dict[tuple[str, int, int], _ModuleIndex]) -> None:
        self._root = project_root.resolve() if project_root is not None else None
        self._libraries = _library_roots()
        self.sources: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.library_modules: set[str] = set()
        self._indexes = indexes

    def _node(self, target: types.FunctionType | type) -> tuple[ast.AST, _ModuleIndex] | None:
        path = _module_file(target.__module__)
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (str(path), stat.st_mtime_ns, stat.st_size)  # an edited file is parsed again
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = _ModuleIndex(path)
        node = index.nodes.get(target.__qualname__)
        return None if node is None else (node, index)

    def is_project(self, module_name: str) -> bool:
        if module_name in ("__main__", "__mp_main__"):
            return True
        if module_name.partition(".")[0] == "modelyard":
            return False  # modelyard itself counts by its version, like any library
        path = _module_file(module_name)
        if path is None or any(path.is_relative_to(root) for root in self._libraries):
            return False  # builtins, the standard library and installed packages
        return self._root is None or path.is_relative_to(self._root)

    def visit(self, value: object) -> None:
        target = inspect.unwrap(value) if callable(value) else value
        if isinstance(target, types.MethodType):
            target = target.__func__
        if isinstance(target, types.ModuleType):
            if not self.is_project(target.__name__):
                self.library_modules.add(target.__name__)
            return
        module = getattr(target, "__module__", None)
        if not isinstance(module, str) or not isinstance(target, types.FunctionType | type):
            if isinstance(module, str) and callable(target):
                self.library_modules.add(module)
            return
        if not self.is_project(module):
            self.library_modules.add(module)
            return
        key = f"{_stable_module_name(module)}:{target.__qualname__}"
        if key in self.sources:
            return
        found = self._node(target)
        if found is not None:
            self.sources[key] = found[1].source(found[0])
        else:  # defined in a REPL or generated: its bytecode stands for its source
            self.sources[key] = repr(getattr(getattr(target, "__code__", None), "co_code", key))
        if isinstance(target, type):
            for member in vars(target).values():
                func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                if isinstance(func, types.FunctionType):
                    self._names_of(func, key)
            return
        self._names_of(target, key)

    def _names_of(self, func: types.FunctionType, owner: str) -> None:
        """Resolve every name ``func`` loads, in its globals and closure, and visit what they name."""
        scope = {**func.__globals__, **inspect.getclosurevars(func).nonlocals}
        found = self._node(func)  # without source, the names its bytecode loads
        if found is not None:
            scope.update(self._local_imports(found[0], func))
        chains = _loaded_names(found[0]) if found is not None else [[name] for name in func.__code__.co_names]
        for chain in chains:
            self._resolve(chain, scope, owner)

    def _local_imports(self, tree: ast.AST, func: types.FunctionType) -> dict[str, object]:
        """Names the function binds by importing in its body (``import numpy as np`` inside a step).

        A library is never imported here (that is the step's business, and may take seconds): its
        top-level name joins the libraries, which count by version. A project module is imported, as the
        step will import it, so the names taken from it are followed like module-level ones.
        """
        bound: dict[str, object] = {}
        package = func.__globals__.get("__package__") or ""
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    module = self._project_module(alias.name)
                    if module is not None:
                        top = alias.name.partition(".")[0]
                        bound[alias.asname or top] = module if alias.asname else sys.modules.get(top, module)
            elif isinstance(node, ast.ImportFrom):
                name = ("." * node.level + (node.module or "")) if node.level else (node.module or "")
                try:
                    absolute = importlib.util.resolve_name(name, package) if node.level else name
                except (ImportError, ValueError):
                    continue
                module = self._project_module(absolute)
                for alias in node.names if module is not None else ():
                    value = getattr(module, alias.name, None)
                    if value is None:
                        value = self._project_module(f"{absolute}.{alias.name}")
                    if value is not None:
                        bound[alias.asname or alias.name] = value
        return bound

    def _project_module(self, name: str) -> types.ModuleType | None:
        """The project module ``name`` (imported if needed), or None for a library (recorded as one)."""
        top = name.partition(".")[0]
        loaded = sys.modules.get(name)
        if loaded is not None:
            if self.is_project(name):
                return loaded
            self.library_modules.add(top)
            return None
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return None
        origin = getattr(spec, "origin", None)
        path = Path(origin).resolve() if origin and origin not in ("built-in", "frozen") else None
        if path is None or any(path.is_relative_to(root) for root in self._libraries):
            self.library_modules.add(top)
            return None
        if self._root is not None and not path.is_relative_to(self._root):
            return None
        try:
            return importlib.import_module(name)
        except ImportError:
            return None

    def _resolve(self, chain: list[str], scope: dict[str, object], owner: str) -> None:
        if chain[0] not in scope:
            return
        value = scope[chain[0]]
        for attribute in chain[1:]:
            if isinstance(value, _CONSTANTS):
                break
            if isinstance(value, types.ModuleType) and not self.is_project(value.__name__):
                break  # a library: its version stands for it
            try:
                value = inspect.getattr_static(value, attribute)
            except AttributeError:
                break
        if isinstance(value, _CONSTANTS) or (isinstance(value, tuple | frozenset) and len(repr(value)) < 1000):
            text = repr(value)
            self.constants[f"{owner}:{'.'.join(chain)}"] = text[:_MAX_CONSTANT_CHARS]
            return
        self.visit(value)


def _loaded_names(tree: ast.AST) -> list[list[str]]:
    """Dotted name chains the code loads: ``a``, ``a.b.c`` (as ``["a", "b", "c"]``)."""
    chains: list[list[str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            parts: list[str] = []
            current: ast.expr = node
            while isinstance(current, ast.Attribute):
                parts.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name):
                chains.append([current.id, *reversed(parts)])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            chains.append([node.id])
    return chains


class Fingerprinter:
    """Fingerprints many steps, parsing each module file once (again only when the file changes).

    Args:
        project_root: only modules under this folder count as project code (default: every module outside
            the standard library, installed packages and modelyard itself).
    """

    def __init__(self, project_root: Path | None = None) -> None:
        self._root = project_root
        self._indexes: dict[tuple[str, int, int], _ModuleIndex] = {}

    def fingerprint(self, func: object) -> CodeFingerprint:
        """The code fingerprint of a step function (see the module docstring)."""
        walker = _Walker(self._root, self._indexes)
        walker.visit(func)
        libraries = distributions_of(walker.library_modules)
        hasher = blake3.blake3()
        for key in sorted(walker.sources):
            hasher.update(f"code {key}\n{walker.sources[key]}\n".encode())
        for key in sorted(walker.constants):
            hasher.update(f"const {key}={walker.constants[key]}\n".encode())
        for name in sorted(libraries):
            hasher.update(f"lib {name}=={libraries[name]}\n".encode())
        code = tuple(sorted(walker.sources))
        return CodeFingerprint(digest=f"blake3:{hasher.hexdigest()}", code=code, libraries=libraries)


def fingerprint(func: object, *, project_root: Path | None = None) -> CodeFingerprint:
    """The code fingerprint of one step function (a ``Fingerprinter`` reuses its parses across steps).

    Example:
        >>> fingerprint(train).digest
        'blake3:5f1c...'
    """
    return Fingerprinter(project_root).fingerprint(func)
