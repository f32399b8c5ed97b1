"""Pipelines: typed steps composed by the data they pass, each output content-addressed and cached.

Owns: ``@step`` (``steps.py``) and ``@pipeline`` / ``Pipeline.from_steps`` (``definitions.py``); tracing a
pipeline into a graph checked before anything runs (``graphs.py``: missing inputs, type mismatches,
cycles); params from a config file and ``--set`` overrides (``parameters.py``); output serialization
(``outputs.py``: Parquet, npy, JSON, records, model packages, your serializers; never pickle); code
fingerprints and cache keys (``fingerprints.py``, ``planning.py``); running a step in any process
(``execution.py``); runners (``runners.py``: inline, local worker processes; Ray in
``integrations.ray``); the coordinator that consults the cache, retries, resumes and records each run as a
tracked run with one child run per step (``runs.py``, ``records.py``); built-in steps (``builtins.py``:
load, validate, split, evaluate, check model, register, promote) over ``splits.py``, ``evaluation.py`` and
``gates.py``.

Main types: ``Step``, ``Pipeline``, ``PipelineRun`` / ``StepRun`` (what a run did), ``Pipelines`` (the
service behind ``client.pipelines``: run, resume, get).

Stores used: ``store.step_cache`` (cache key -> outputs), ``store.runs`` (pipeline and step runs, their
files), the artifact store (outputs), and through the data and registry capabilities their stores.
"""

from modelyard.pipelines.definitions import Pipeline, pipeline
from modelyard.pipelines.models import CacheEntry, OutputRef, PipelineRun, StepOptions, StepRun, StepStatus
from modelyard.pipelines.outputs import Serializer
from modelyard.pipelines.steps import Step, step

__all__ = [
    "CacheEntry",
    "OutputRef",
    "Pipeline",
    "PipelineRun",
    "Serializer",
    "Step",
    "StepOptions",
    "StepRun",
    "StepStatus",
    "pipeline",
    "step",
]
