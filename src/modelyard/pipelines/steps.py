"""Steps: plain typed Python functions, decorated with ``@step``.

Called normally, a step is its function. Called while a ``@pipeline`` function is being traced, it runs
nothing: it records itself in the pipeline's graph and returns placeholders for its outputs, which later
steps take as inputs. That is how the graph follows the data.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Generic, ParamSpec, TypeVar, overload

from modelyard import _context
from modelyard.errors import InvalidInputError, PipelineError
from modelyard.ids import check_name
from modelyard.pipelines.models import StepOptions

__all__ = ["Step", "StepOutput", "load_step", "step"]

P = ParamSpec("P")
R = TypeVar("R")


class StepOutput:
    """A placeholder for a step's output while a pipeline is traced: pass it to other steps."""

    __slots__ = ("annotation", "node", "output")

    def __init__(self, node: str, output: str, annotation: object) -> None:
        self.node = node
        self.output = output
        self.annotation = annotation

    def __repr__(self) -> str:
        return f"<output {self.output!r} of step {self.node!r}>"

    def _misuse(self, *_: object) -> typing.NoReturn:
        raise PipelineError(
            f"{self!r} was used as a value while the pipeline was being defined; it has no value yet.",
            hint="Pass step outputs to other steps; do the work (comparisons, arithmetic, indexing) inside a step.",
        )

    def __getattr__(self, name: str) -> typing.NoReturn:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # copy, pickle and inspect probe dunders: answer as a plain object does
        self._misuse()

    def __eq__(self, other: object) -> typing.NoReturn:
        self._misuse()

    __hash__ = object.__hash__
    __bool__ = __iter__ = __len__ = __getitem__ = __contains__ = __call__ = _misuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _misuse
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = _misuse
    __neg__ = __pos__ = __abs__ = __invert__ = __int__ = __float__ = __index__ = __round__ = _misuse
    __lt__ = __le__ = __gt__ = __ge__ = __ne__ = __and__ = __or__ = __xor__ = _misuse


def _output_names(
    fn: Callable[..., object], hints: dict[str, Any], declared: tuple[str, ...] | None
) -> tuple[str, ...]:
    returned = hints.get("return", inspect.Signature.empty)
    if typing.get_origin(returned) is tuple:
        members = typing.get_args(returned)
        if members and members[-1] is not Ellipsis:
            if declared is not None and len(declared) != len(members):
                raise InvalidInputError(
                    f"Step {fn.__qualname__!r} declares outputs {declared} but returns {len(members)} values.",
                    hint="Name every value of the returned tuple in outputs=(...).",
                )
            return declared or tuple(f"output_{i}" for i in range(len(members)))
    return declared or ("output",)


def _hints(fn: Callable[..., object]) -> dict[str, Any]:
    """The resolved annotations, one by one: a name only imported for type checkers drops just its own hint."""
    try:
        return typing.get_type_hints(fn)
    except Exception:
        pass
    hints: dict[str, Any] = {}
    scope = getattr(fn, "__globals__", {})
    for name, annotation in inspect.get_annotations(fn).items():
        try:
            hints[name] = typing.get_type_hints(_Annotated(annotation, scope))["value"]
        except Exception:
            continue
    return hints


class _Annotated:
    """An object with one annotation, resolved in the step's module (``get_type_hints`` reads ``__globals__``)."""

    def __init__(self, annotation: object, scope: dict[str, Any]) -> None:
        self.__annotations__ = {"value": annotation}
        self.__globals__ = scope


class Step(Generic[P, R]):
    """A pipeline step: a typed function with options (cache, retries, timeout, output names).

    Use ``@step`` to make one. ``step.fn`` is the plain function.
    """

    def __init__(self, fn: Callable[P, R], *, name: str | None = None, options: StepOptions | None = None) -> None:
        if not inspect.isfunction(fn):
            raise InvalidInputError(f"@step decorates functions, not {type(fn).__name__}.", hint="Decorate a def.")
        if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
            raise InvalidInputError(
                f"Step {fn.__qualname__!r} is async or a generator.", hint="Make it a plain function returning values."
            )
        self.fn: Callable[P, R] = fn
        self.name = check_name(name or fn.__name__, "Step name")
        self.options = options or StepOptions()
        self.signature = inspect.signature(fn)
        self.hints = _hints(fn)
        self.output_names = _output_names(fn, self.hints, self.options.outputs)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<Step {self.name!r} ({self.fn.__module__}:{self.fn.__qualname__})>"

    def __reduce__(self) -> tuple[Callable[..., Step[Any, Any]], tuple[str, str, str | None]]:
        """Steps travel to worker processes by reference (module, name, file), never by value."""
        return load_step, (self.fn.__module__, self.fn.__qualname__, inspect.getsourcefile(self.fn))

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function; while a pipeline is traced, record the call and return output placeholders."""
        tracer = _context.tracing.get()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return typing.cast(R, tracer.add(self, args, kwargs))  # type: ignore[attr-defined]

    def output_type(self, index: int) -> object:
        """The annotated type of output ``index`` (``inspect.Signature.empty`` when not annotated)."""
        returned = self.hints.get("return", inspect.Signature.empty)
        if len(self.output_names) > 1 and typing.get_origin(returned) is tuple:
            return typing.get_args(returned)[index]
        return returned

    def configure(self, *, name: str | None = None, **options: Any) -> Step[P, R]:
        """A copy with another name or options, e.g. ``evaluate.configure(name="evaluate_champion")``."""
        return Step(self.fn, name=name or self.name, options=replace(self.options, **options))


def load_step(module: str, qualname: str, file: str | None) -> Step[Any, Any]:
    """Find a step by reference in this process (importing its module, by file when it is not importable)."""
    from modelyard.pipelines.loading import load_attribute

    found = load_attribute(module, qualname, file)
    if isinstance(found, Step):
        return found
    if inspect.isfunction(found):
        return Step(found)
    raise PipelineError(f"{module}:{qualname} is a {type(found).__name__}, not a step.", hint="Decorate it with @step.")


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_delay_s: float = 1.0,
    timeout_s: float | None = None,
    outputs: tuple[str, ...] | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_delay_s: float = 1.0,
    timeout_s: float | None = None,
    outputs: tuple[str, ...] | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a typed function a pipeline step.

    Args:
        fn: the function (when used as ``@step`` without parentheses).
        name: the step's name in the pipeline (default: the function's name).
        cache: reuse stored outputs when code, params, inputs and environment are unchanged.
        retries: how many times to run the step again after it fails (backoff doubles from ``retry_delay_s``).
        retry_delay_s: the first wait before a retry.
        timeout_s: fail the attempt after this many seconds (the worker running it is stopped).
        outputs: names of the values of a step that returns a tuple.

    Returns:
        A ``Step``; calling it outside a pipeline calls the function.

    Example:
        >>> @step(retries=2)
        ... def train(frame: pd.DataFrame, max_depth: int = 6) -> RandomForestClassifier: ...

    Added in 0.1.
    """
    options = StepOptions(
        cache=cache, retries=retries, retry_delay_s=retry_delay_s, timeout_s=timeout_s, outputs=outputs
    )

    def decorate(function: Callable[P, R]) -> Step[P, R]:
        return Step(function, name=name, options=options)

    return decorate if fn is None else decorate(fn)
