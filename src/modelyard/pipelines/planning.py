"""Planning a step: its inputs, its cache key, and the task that runs it.

The cache key is the blake3 of the step's code fingerprint (its source, the project code it reaches, the
constants it reads, the versions of the libraries it uses), its parameter values, the digests of its inputs
(step outputs and dataset versions), the Python version and platform, and its output names. Change any of
them and the key changes; leave them alone and the key is the same in every process and on every machine.
"""

from __future__ import annotations

import inspect
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import blake3

from modelyard.errors import PipelineError
from modelyard.ids import RunId
from modelyard.pipelines.fingerprints import Fingerprinter
from modelyard.pipelines.graphs import Node, Upstream, union_members
from modelyard.pipelines.models import OutputRef
from modelyard.pipelines.outputs import Outputs, canonical_json

if TYPE_CHECKING:
    from modelyard.client import Client

__all__ = ["Planned", "Planner"]

_PLATFORM = f"python {sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro} {platform.machine()}"


@dataclass(slots=True, kw_only=True)
class Planned:
    """A node ready to run: its inputs resolved and its cache key computed."""

    key: str
    cache_key: str
    values: dict[str, object] = field(default_factory=dict)
    upstream: dict[str, OutputRef] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)  # input -> exact "name@number"
    params: dict[str, str] = field(default_factory=dict)  # what the step run logs as params


def _is_dataset_input(node: Node, name: str, value: object) -> bool:
    from modelyard.data.models import DatasetVersion

    if isinstance(value, DatasetVersion):
        return True
    wanted = node.step.hints.get(name, inspect.Parameter.empty)
    members = union_members(wanted) or (wanted,)
    return isinstance(value, str) and any(isinstance(m, type) and issubclass(m, DatasetVersion) for m in members)


class Planner:
    """Resolves a node's inputs and computes its cache key; one per pipeline run (it caches parses)."""

    def __init__(self, client: Client, outputs: Outputs, fingerprints: Fingerprinter) -> None:
        self.parent: str | None = None  # the pipeline run: it records the dataset versions its steps read
        self._client = client
        self._outputs = outputs
        self._fingerprints = fingerprints
        self._datasets: dict[str, Any] = {}

    def dataset(self, ref: object) -> Any:
        """The exact dataset version a reference names now (``flights@q1`` -> ``flights@3``), resolved once per run."""
        from modelyard.data.models import DatasetVersion

        if isinstance(ref, DatasetVersion):
            return ref
        text = str(ref)
        if text not in self._datasets:
            version = self._datasets[text] = self._client.datasets.get(text)
            if self.parent is not None:
                self._client.datasets.record_use(version, RunId(self.parent), "input")
        return self._datasets[text]

    def plan(self, node: Node, done: Mapping[str, tuple[OutputRef, ...]]) -> Planned:
        """Resolve ``node``'s inputs against finished nodes' outputs and compute its cache key."""
        planned = Planned(key=node.key, cache_key="")
        digests: dict[str, str] = {}
        for name, value in node.inputs.items():
            if isinstance(value, Upstream):
                ref = next(r for r in done[value.node] if r.name == value.output)
                planned.upstream[name] = ref
                digests[name] = ref.digest.partition("=")[2] if ref.kind == "dataset" else ref.digest  # content
            elif _is_dataset_input(node, name, value):
                version = self.dataset(value)
                planned.datasets[name] = version.ref
                planned.params[name] = version.ref
                digests[name] = str(version.digest)
            else:
                self._literal(node, name, value, planned, digests)
        fingerprint = self._fingerprints.fingerprint(node.step.fn)
        body = {
            "code": fingerprint.digest,
            "inputs": digests,
            "outputs": list(node.step.output_names),
            "platform": _PLATFORM,
        }
        planned.cache_key = "blake3:" + blake3.blake3(canonical_json(body)).hexdigest()
        return planned

    def _literal(self, node: Node, name: str, value: object, planned: Planned, digests: dict[str, str]) -> None:
        text = None
        if not self._outputs.is_table(value):
            try:
                text = canonical_json(value)
            except TypeError:
                text = None
        if text is not None:
            planned.values[name] = value
            digests[name] = "value:" + blake3.blake3(text).hexdigest()
            shown = text.decode()
            if len(shown) <= 500:
                planned.params[name] = shown.strip('"')
            return
        try:
            ref = self._outputs.save(name, value, run_id=None)  # a table or array passed in: stored like an output
        except Exception as exc:
            raise PipelineError(
                f"Step {node.key!r} input {name!r} is a {type(value).__qualname__}, which can be neither hashed "
                "for the cache key nor stored.",
                hint="Pass JSON values, dataclasses, pydantic models, tables or arrays; or make a step produce it.",
            ) from exc
        planned.upstream[name] = ref
        digests[name] = ref.digest
