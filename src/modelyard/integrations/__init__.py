"""Integrations with ML libraries: the only place heavy libraries are imported (each module lazily).

``sklearn``: ``autolog()`` records params, the training score and the fitted estimator (skops format, never
pickle) of every scikit-learn ``fit``.
"""

__all__: list[str] = []
