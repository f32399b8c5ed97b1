"""Pipelines: typed steps, a DAG that follows the data, a content-addressed step cache, quality gates, runners.

Being built (issue 5). So far: ``fingerprints.py``, the code part of a step's cache key (the step's source,
the project code it reaches, the constants it reads and the versions of the libraries it uses).
"""

__all__: list[str] = []
