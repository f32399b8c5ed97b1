"""Small generators of files and tables for the data tests (the ``yard`` fixtures live in tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def make_files(root: Path, count: int, size: int = 2048, *, seed: int = 0, old: bool = True) -> Path:
    """``count`` files of random bytes under ``root`` in subfolders of 100; mtimes an hour back when ``old``."""
    import random

    rng = random.Random(seed)
    for i in range(count):
        path = root / f"d{i // 100:03d}" / f"f{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    if old:
        age(root)
    return root


def age(root: Path, seconds: float = 3600) -> None:
    """Move every file's mtime back, as files on a real disk are (the stat cache distrusts fresh writes)."""
    import time

    when = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (when, when))


def flights_like(rows: int, *, seed: int = 0, start: int = 0) -> Any:
    """A small pandas frame shaped like flights: numbers with nulls, categories, a timestamp, a key."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    delay = rng.normal(10, 30, rows)
    delay[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "flight": np.arange(start, start + rows),
            "carrier": rng.choice(["AA", "B6", "DL", "UA"], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "dep_delay": delay,
            "distance": rng.integers(80, 5000, rows),
            "time_hour": pd.Timestamp("2013-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 8760, rows), "h"),
            "cancelled": rng.random(rows) < 0.02,
        }
    )
