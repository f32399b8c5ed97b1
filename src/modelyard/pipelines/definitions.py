"""Pipelines as definitions: ``@pipeline`` on a function that calls steps, or ``Pipeline.from_steps``.

A ``Pipeline`` holds no state of a run. ``graph(...)`` traces it into a checked graph; ``run(...)`` hands it
to the client's pipeline service (``client.pipelines``), which plans, caches, runs and records.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from modelyard.errors import InvalidInputError
from modelyard.ids import check_name
from modelyard.pipelines import graphs
from modelyard.pipelines.graphs import Graph
from modelyard.pipelines.models import PipelineRun
from modelyard.pipelines.outputs import Serializer
from modelyard.pipelines.parameters import Parameters, load_config, resolve
from modelyard.pipelines.steps import Step

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.pipelines.runners import Runner

__all__ = ["Pipeline", "pipeline"]


class Pipeline:
    """A named pipeline: a function that calls steps (traced), or a list of steps wired by input names.

    Args:
        function: the pipeline function (its parameters are the pipeline's parameters).
        name: the pipeline's name (default: the function's name); its runs go to an experiment of that name.
        steps: instead of a function, steps wired by name (see ``from_steps``).
        serializers: extra output serializers, tried before the built-in ones.
        record_types: your record classes (``to_json``/``from_json``) stored as JSON outputs.
        config: a default config file (TOML/YAML/JSON) for ``run``.
        connect: where ``run`` gets a client when none is passed (the top-level ``modelyard.pipeline`` passes
            the current client).
    """

    def __init__(
        self,
        function: Callable[..., object] | None = None,
        *,
        name: str | None = None,
        steps: Sequence[Step[Any, Any]] | None = None,
        serializers: Sequence[Serializer] = (),
        record_types: Sequence[type] = (),
        config: str | Path | None = None,
        connect: Callable[[], Client] | None = None,
    ) -> None:
        if (function is None) == (steps is None):
            raise InvalidInputError("A pipeline needs a function or a list of steps.", hint="Pass exactly one.")
        if function is not None and not callable(function):
            raise InvalidInputError(
                f"@pipeline decorates functions, not {type(function).__name__}.", hint="Decorate a def."
            )
        self.function = function
        self.steps = tuple(steps or ())
        default_name = function.__name__ if function is not None else "pipeline"
        self.name = check_name(name or default_name, "Pipeline name")
        self.serializers = tuple(serializers)
        self.record_types = tuple(record_types)
        self.config = None if config is None else Path(config)
        self._connect = connect
        self.entry: str | None = None  # "file.py:name" when loaded from a file, for resume
        if function is not None:
            self.__doc__ = function.__doc__
            self.__wrapped__ = function

    @classmethod
    def from_steps(cls, name: str, steps: Sequence[Step[Any, Any]], **options: Any) -> Pipeline:
        """A pipeline whose steps are wired by name: an input named like a step (or a named output) takes it."""
        return cls(None, name=name, steps=steps, **options)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r}>"

    @property
    def parameters(self) -> list[str]:
        """Names of the pipeline function's parameters."""
        if self.function is None:
            return sorted({p for s in self.steps for p in s.signature.parameters})
        return list(inspect.signature(self.function).parameters)

    def resolve(
        self,
        *,
        config: str | Path | Mapping[str, object] | None = None,
        overrides: Sequence[str] = (),
        params: Mapping[str, object] | None = None,
    ) -> Parameters:
        """Merge the config file, ``--set`` overrides and keyword params (last wins)."""
        chosen = config if config is not None else self.config
        loaded = load_config(chosen) if isinstance(chosen, str | Path) else chosen
        return resolve(
            function_params=self.parameters,
            config=loaded,
            overrides=overrides,
            params=params or {},
        )

    def graph(self, resolved: Parameters | None = None, **params: object) -> Graph:
        """Trace the pipeline into a checked graph (nothing runs). Raises PipelineError or CycleError."""
        chosen = resolved or self.resolve(params=params)
        if self.function is None:
            flat = {**chosen.pipeline, **{f"{k}.{n}": v for k, s in chosen.steps.items() for n, v in s.items()}}
            return graphs.from_steps(self.name, self.steps, flat)
        return graphs.trace(self.name, self.function, chosen.pipeline, chosen.steps)

    def run(
        self,
        *,
        runner: str | Runner | None = None,
        config: str | Path | Mapping[str, object] | None = None,
        overrides: Sequence[str] = (),
        cache: bool = True,
        force: Sequence[str] = (),
        workers: int | None = None,
        experiment: str | None = None,
        client: Client | None = None,
        **params: object,
    ) -> PipelineRun:
        """Run the pipeline and return its record (see ``Pipelines.run``)."""
        target = client or (self._connect() if self._connect is not None else None)
        if target is None:
            raise InvalidInputError(
                f"Pipeline {self.name!r} has no client to run with.",
                hint="Pass client=..., or use @modelyard.pipeline.",
            )
        return target.pipelines.run(
            self, runner=runner, config=config, overrides=overrides, cache=cache, force=force, workers=workers,
            experiment=experiment, params=params,
        )  # fmt: skip


@overload
def pipeline(function: Callable[..., object], /) -> Pipeline: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    serializers: Sequence[Serializer] = (),
    record_types: Sequence[type] = (),
    config: str | Path | None = None,
    connect: Callable[[], Client] | None = None,
) -> Callable[[Callable[..., object]], Pipeline]: ...


def pipeline(
    function: Callable[..., object] | None = None,
    /,
    *,
    name: str | None = None,
    serializers: Sequence[Serializer] = (),
    record_types: Sequence[type] = (),
    config: str | Path | None = None,
    connect: Callable[[], Client] | None = None,
) -> Pipeline | Callable[[Callable[..., object]], Pipeline]:
    """Make a function that calls steps a pipeline (see ``Pipeline`` for the options)."""

    def decorate(fn: Callable[..., object]) -> Pipeline:
        return Pipeline(
            fn, name=name, serializers=serializers, record_types=record_types, config=config, connect=connect
        )

    return decorate if function is None else decorate(function)
