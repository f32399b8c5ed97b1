"""Experiment tracking: experiments, runs (nested), params, metrics with steps, tags and run artifacts.

Main types: ``Run``, ``RunStatus``, ``Experiment``, ``MetricPoint`` and ``RunPage`` (``models.py``);
``Tracker`` and ``ActiveRun`` (``runs.py``) behind ``modelyard.Client``. Logged values are buffered and
written in batches by a background flusher (``buffer.py``). Search filters are parsed in ``search.py`` and
compiled by the store. Stores used: ``MetadataStore.experiments``, ``.runs``; ``ArtifactStore`` for files.
"""

from modelyard.tracking.models import Experiment, MetricPoint, MetricSummary, Run, RunPage, RunStatus

__all__ = ["Experiment", "MetricPoint", "MetricSummary", "Run", "RunPage", "RunStatus"]
