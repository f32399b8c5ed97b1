"""Pipeline graphs: nodes (step calls), the data edges between them, checks before anything runs, drawings.

A graph comes from tracing a ``@pipeline`` function (each step call becomes a node; a step output passed to
another step becomes an edge) or from a list of steps wired by name (a step input named like another step's
output takes that output). Both end in the same checks: every required input is provided, every edge's types
fit, the graph has no cycle, and every config override names a real step and parameter.
"""

from __future__ import annotations

import graphlib
import html
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelyard import _context
from modelyard.errors import CycleError, PipelineError, close_matches
from modelyard.pipelines.models import OutputRef
from modelyard.pipelines.steps import Step, StepOutput

__all__ = ["Graph", "Node", "Upstream", "from_steps", "trace", "union_members"]


@dataclass(frozen=True, slots=True)
class Upstream:
    """An input that is another node's output."""

    node: str
    output: str


@dataclass(slots=True, kw_only=True)
class Node:
    """One step call: its key in the graph and where each of its inputs comes from."""

    key: str
    step: Step[Any, Any]
    inputs: dict[str, Upstream | object] = field(default_factory=dict)

    @property
    def upstream(self) -> set[str]:
        """Keys of the nodes this one takes outputs from."""
        return {value.node for value in self.inputs.values() if isinstance(value, Upstream)}


@dataclass(slots=True, kw_only=True)
class Graph:
    """A checked pipeline graph; ``nodes`` in definition order, ``order`` in a valid execution order."""

    name: str
    nodes: dict[str, Node]
    order: list[str] = field(default_factory=list)

    def dependents(self, key: str) -> set[str]:
        """Keys of every node downstream of ``key`` (transitively)."""
        found: set[str] = set()
        frontier = [key]
        while frontier:
            current = frontier.pop()
            for node in self.nodes.values():
                if current in node.upstream and node.key not in found:
                    found.add(node.key)
                    frontier.append(node.key)
        return found

    def text(self) -> str:
        """The graph as indented text: each step in execution order with what it takes."""
        lines = [f"pipeline {self.name}"]
        for key in self.order:
            node = self.nodes[key]
            sources = [
                f"{name}<-{v.node}" + ("" if v.output == "output" else f".{v.output}")
                for name, v in node.inputs.items()
                if isinstance(v, Upstream)
            ]
            params = [f"{name}={_short(v)}" for name, v in node.inputs.items() if not isinstance(v, Upstream)]
            outs = ", ".join(node.step.output_names)
            lines.append(f"  {key} -> [{outs}]")
            if sources:
                lines.append(f"      from  {', '.join(sources)}")
            if params:
                lines.append(f"      with  {', '.join(params)}")
        return "\n".join(lines)

    def dot(self) -> str:
        """The graph in Graphviz DOT (``dot -Tsvg`` draws it)."""
        lines = [f'digraph "{_escape(self.name)}" {{', "  rankdir=LR;", '  node [shape=box, style="rounded"];']
        lines += [f'  "{_escape(key)}";' for key in self.order]
        for key in self.order:
            for name, value in self.nodes[key].inputs.items():
                if isinstance(value, Upstream):
                    label = name if value.output == "output" else f"{value.output} -> {name}"
                    lines.append(f'  "{_escape(value.node)}" -> "{_escape(key)}" [label="{_escape(label)}"];')
        lines.append("}")
        return "\n".join(lines)

    def svg(self) -> str:
        """The graph as a standalone SVG: steps in columns by depth, data edges as arrows (no Graphviz needed)."""
        depth: dict[str, int] = {}
        for key in self.order:
            depth[key] = 1 + max((depth[u] for u in self.nodes[key].upstream), default=-1)
        columns: dict[int, list[str]] = {}
        for key in self.order:
            columns.setdefault(depth[key], []).append(key)
        width = {k: max(80, 8 * len(k) + 24) for k in self.order}
        column_x, x = {}, 20
        for level in sorted(columns):
            column_x[level] = x
            x += max(width[k] for k in columns[level]) + 90
        box: dict[str, tuple[int, int]] = {}
        for level, keys in columns.items():
            for row, key in enumerate(keys):
                box[key] = (column_x[level], 20 + row * 70)
        height = 60 + 70 * max(len(keys) for keys in columns.values()) if columns else 60
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{x}" height="{height}" font-family="sans-serif" '
            'font-size="13"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
            f"<title>{html.escape(self.name)}</title>",
        ]
        for key in self.order:
            for name, value in self.nodes[key].inputs.items():
                if isinstance(value, Upstream):
                    (x1, y1), (x2, y2) = box[value.node], box[key]
                    x1, y1, y2 = x1 + width[value.node], y1 + 16, y2 + 16
                    skips = depth[key] - depth[value.node] > 1  # bend below the columns it passes
                    bend = height - 8 if skips else (y1 + y2) // 2
                    curve = f"C {x1 + 40},{bend} {x2 - 40},{bend}" if skips else f"L {x2 - 1},{y2}"
                    label_y = bend - 4 if skips else (y1 + y2) // 2 - 4
                    parts.append(
                        f'<path d="M {x1},{y1} {curve} {x2},{y2}" fill="none" stroke="#555" '
                        f'marker-end="url(#arrow)"/><text x="{(x1 + x2) // 2}" y="{label_y}" font-size="10" '
                        f'fill="#555" text-anchor="middle">{html.escape(name)}</text>'
                    )
        for key, (bx, by) in box.items():
            parts.append(
                f'<rect x="{bx}" y="{by}" width="{width[key]}" height="32" rx="6" fill="#eef3fb" stroke="#3a6ea5"/>'
                f'<text x="{bx + width[key] // 2}" y="{by + 21}" text-anchor="middle">{html.escape(key)}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Tracer:
    """Records step calls made while a pipeline function runs; used through ``modelyard._context.tracing``."""

    def __init__(self, overrides: Mapping[str, Mapping[str, object]]) -> None:
        self.nodes: dict[str, Node] = {}
        self.problems: list[str] = []
        self._overrides = overrides

    def add(self, step: Step[Any, Any], args: Sequence[object], kwargs: Mapping[str, object]) -> object:
        key = step.name
        number = 2
        while key in self.nodes:
            key, number = f"{step.name}_{number}", number + 1
        try:
            bound = step.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            self.problems.append(f"step {key!r}: {exc}")
            bound = step.signature.bind_partial()
        inputs: dict[str, Upstream | object] = {}
        for name, value in bound.arguments.items():
            inputs[name] = Upstream(value.node, value.output) if isinstance(value, StepOutput) else value
            if isinstance(value, tuple | list | dict) and _holds_output(value):
                self.problems.append(
                    f"step {key!r} input {name!r} is a container of step outputs; pass each output as its own input."
                )
        self._override(key, step, inputs)
        for name, parameter in step.signature.parameters.items():
            if name not in inputs and parameter.default is not inspect.Parameter.empty:
                inputs[name] = parameter.default
        self.nodes[key] = Node(key=key, step=step, inputs=inputs)
        outputs = tuple(StepOutput(key, name, step.output_type(i)) for i, name in enumerate(step.output_names))
        return outputs[0] if len(outputs) == 1 else outputs

    def _override(self, key: str, step: Step[Any, Any], inputs: dict[str, Upstream | object]) -> None:
        for name, value in self._overrides.get(key, {}).items():
            if name not in step.signature.parameters:
                hint = close_matches(name, step.signature.parameters)
                self.problems.append(f"config sets {key}.{name}, but step {key!r} has no parameter {name!r}.{hint}")
            elif isinstance(inputs.get(name), Upstream):
                source = typing.cast(Upstream, inputs[name])
                self.problems.append(f"config sets {key}.{name}, but that input is the output of step {source.node!r}.")
            else:
                inputs[name] = value


def _holds_output(value: object) -> bool:
    items = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list | tuple) else []
    return any(isinstance(item, StepOutput) for item in items)


def trace(
    name: str,
    function: typing.Callable[..., object],
    params: Mapping[str, object],
    overrides: Mapping[str, Mapping[str, object]],
) -> Graph:
    """Call ``function(**params)`` with steps recording themselves; check and return the graph."""
    tracer = _Tracer(overrides)
    token = _context.tracing.set(tracer)
    try:
        function(**params)
    except PipelineError:
        raise
    except TypeError as exc:
        raise PipelineError(
            f"Pipeline {name!r} cannot be called with {dict(params)}: {exc}.", hint=_params_hint(function)
        ) from exc
    finally:
        _context.tracing.reset(token)
    unknown = sorted(set(overrides) - set(tracer.nodes))
    for key in unknown:
        tracer.problems.append(
            f"config names step {key!r}, which the pipeline does not call.{close_matches(key, tracer.nodes)}"
        )
    return _checked(Graph(name=name, nodes=tracer.nodes), tracer.problems)


def _params_hint(function: typing.Callable[..., object]) -> str:
    names = ", ".join(inspect.signature(function).parameters) or "none"
    return f"Its parameters: {names}. Set them as run(name=value) or in the config's top level."


def from_steps(name: str, steps: Sequence[Step[Any, Any]], params: Mapping[str, object]) -> Graph:
    """Wire steps by name: an input called like another step's output (or the step, for one output) takes it."""
    produced: dict[str, Upstream] = {}
    for candidate in steps:
        outputs = candidate.output_names
        for output in outputs:
            produced[candidate.name if outputs == ("output",) else output] = Upstream(candidate.name, output)
    nodes: dict[str, Node] = {}
    problems: list[str] = []
    for candidate in steps:
        if candidate.name in nodes:
            problems.append(
                f"two steps are called {candidate.name!r}; give one another name with .configure(name=...)."
            )
        inputs: dict[str, Upstream | object] = {}
        for parameter in candidate.signature.parameters.values():
            given = params.get(
                f"{candidate.name}.{parameter.name}", params.get(parameter.name, inspect.Parameter.empty)
            )
            if parameter.name in produced and produced[parameter.name].node != candidate.name:
                inputs[parameter.name] = produced[parameter.name]
            elif given is not inspect.Parameter.empty:
                inputs[parameter.name] = given
            elif parameter.default is not inspect.Parameter.empty:
                inputs[parameter.name] = parameter.default
        nodes[candidate.name] = Node(key=candidate.name, step=candidate, inputs=inputs)
    return _checked(Graph(name=name, nodes=nodes), problems)


def _checked(graph: Graph, problems: list[str]) -> Graph:
    for node in graph.nodes.values():
        problems.extend(_node_problems(graph, node))
    if problems:
        raise PipelineError(
            f"Pipeline {graph.name!r} is not valid:\n  - " + "\n  - ".join(problems),
            hint="Fix the definition or the config; nothing has run.",
        )
    sorter = graphlib.TopologicalSorter({key: node.upstream for key, node in graph.nodes.items()})
    try:
        graph.order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise CycleError(f"Pipeline {graph.name!r} has a cycle: {cycle}.", hint="Make the data flow one way.") from None
    return graph


def _node_problems(graph: Graph, node: Node) -> list[str]:
    problems: list[str] = []
    for name, parameter in node.step.signature.parameters.items():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if name not in node.inputs:
            problems.append(f"step {node.key!r} input {name!r} is not provided (no step output, value or default).")
            continue
        wanted = node.step.hints.get(name, inspect.Parameter.empty)
        value = node.inputs[name]
        if isinstance(value, Upstream):
            producer = graph.nodes.get(value.node)
            if producer is None:
                problems.append(
                    f"step {node.key!r} input {name!r} names a step {value.node!r} that is not in the pipeline."
                )
                continue
            given = producer.step.output_type(producer.step.output_names.index(value.output))
            if not _type_fits(given, wanted):
                problems.append(
                    f"step {node.key!r} input {name!r} wants {_type_name(wanted)}, but step {value.node!r} "
                    f"output {value.output!r} is {_type_name(given)}."
                )
        elif not _value_fits(value, wanted):
            problems.append(f"step {node.key!r} input {name!r} wants {_type_name(wanted)}, got {value!r}.")
    return problems


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


def union_members(annotation: object) -> tuple[object, ...] | None:
    """The alternatives of a union (``A | B``, ``Optional[A]``), else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return None


def _type_fits(given: object, wanted: object) -> bool:
    """Whether an output annotated ``given`` may feed an input annotated ``wanted`` (unknown types fit)."""
    if given is inspect.Signature.empty or wanted is inspect.Parameter.empty or Any in (given, wanted):
        return True
    if wanted is OutputRef:
        return True  # the step takes the stored output itself (e.g. register takes the model package)
    wanted_members = union_members(wanted)
    if wanted_members is not None:
        return any(_type_fits(given, member) for member in wanted_members)
    given_members = union_members(given)
    if given_members is not None:
        return all(_type_fits(member, wanted) for member in given_members)
    given_class = typing.get_origin(given) or given
    wanted_class = typing.get_origin(wanted) or wanted
    if not isinstance(given_class, type) or not isinstance(wanted_class, type):
        return True  # TypeVars, Literals, protocols-by-string: not checked
    if wanted_class is float and given_class is int:
        return True
    try:
        return issubclass(given_class, wanted_class)
    except TypeError:
        return True


def _value_fits(value: object, wanted: object) -> bool:
    if wanted is inspect.Parameter.empty or wanted is Any:
        return True
    members = union_members(wanted)
    if members is not None:
        return any(_value_fits(value, member) for member in members)
    if value is None:
        return wanted is type(None)
    wanted_class = typing.get_origin(wanted) or wanted
    if not isinstance(wanted_class, type) or typing.get_origin(wanted) is typing.Literal:
        return True
    if wanted_class is float and isinstance(value, int) and not isinstance(value, bool):
        return True
    if wanted_class.__name__ == "DatasetVersion" and isinstance(value, str):
        return True  # a dataset reference, resolved when the run is planned
    try:
        return isinstance(value, wanted_class)
    except TypeError:
        return True
