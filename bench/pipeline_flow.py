"""The modelyard side of the pipeline benchmark: ``bench/pipeline_work.py``'s three functions as modelyard steps.

``flow`` is prepare -> train -> evaluate with the parameters of DVC's ``params.yaml`` as step parameters
(``prepare.rows``, ``prepare.seed``, ``train.max_depth``, ``evaluate.threshold``): set them with
``--set train.max_depth=8`` on the CLI or ``flow.run(**{"train.max_depth": 8})``. The step bodies only call
``pipeline_work`` (which imports numpy, pandas and scikit-learn inside its functions), so loading this file
imports modelyard and the standard library only; the annotations name pandas and scikit-learn types under
``from __future__ import annotations`` without importing them, so they do not resolve and modelyard's type
checks of the edges are off for these steps (the values are still stored by their runtime types: the frame as
Parquet, the model as a model package, the metrics as JSON).

``fanout`` is the parallelism workload: one small source step, ``FANOUT`` independent CPU-bound steps
(pure-Python integer arithmetic, deterministic, ``iterations`` steps of a 64-bit LCG; each call has its own
``k``, so each is its own cache key) and one join step taking all their outputs.

Everything is at module level so that worker processes (``runner="local"``) import the steps by reference.

Usage::

    modelyard --uri HOME pipeline run bench/pipeline_flow.py:flow --runner inline --set evaluate.threshold=0.6
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pipeline_work as work

import modelyard as my

if TYPE_CHECKING:
    import pandas
    from sklearn.ensemble import HistGradientBoostingClassifier

FANOUT = 20
FANOUT_ITERATIONS = 4_000_000  # about 1.5 s of one core here; bench/pipelines.py calibrates its own count
_MASK = (1 << 64) - 1


# -- the 3-stage pipeline: the same work as the DVC stages ----------------------------------------------------
@my.step
def prepare(rows: int = work.ROWS, seed: int = work.SEED) -> pandas.DataFrame:
    """The seeded synthetic frame (``pipeline_work.prepare``)."""
    return work.prepare(rows=rows, seed=seed)


@my.step
def train(frame: pandas.DataFrame, max_depth: int = work.MAX_DEPTH) -> HistGradientBoostingClassifier:
    """Fit the gradient-boosting model on the training rows (``pipeline_work.train``)."""
    return work.train(frame, max_depth=max_depth)


@my.step
def evaluate(
    model: HistGradientBoostingClassifier, frame: pandas.DataFrame, threshold: float = work.THRESHOLD
) -> dict[str, Any]:
    """ROC AUC and accuracy at ``threshold`` on the held-out rows (``pipeline_work.evaluate``)."""
    return work.evaluate(model, frame, threshold=threshold)


@my.pipeline
def flow() -> None:
    """prepare -> train -> evaluate; every parameter is a step parameter."""
    frame = prepare()
    model = train(frame)
    evaluate(model, frame)


# -- the fan-out pipeline: FANOUT independent CPU-bound steps between a source and a join ---------------------
def lcg(seed: int, iterations: int) -> tuple[int, int]:
    """``iterations`` steps of a 64-bit linear congruential generator: (last state, sum of the top 4 bits)."""
    x, total = seed & _MASK, 0
    for _ in range(iterations):
        x = (x * 6364136223846793005 + 1442695040888963407) & _MASK
        total += x >> 60
    return x, total


@my.step
def source(seed: int = 1) -> dict[str, int]:
    """The small input every CPU-bound step takes."""
    return {"seed": seed}


@my.step
def spin(start: dict[str, int], k: int = 0, iterations: int = FANOUT_ITERATIONS) -> dict[str, int]:
    """Pure-Python CPU work (no I/O, no threads), seeded by ``start`` and ``k``."""
    last, total = lcg(start["seed"] * 1_000_003 + k, iterations)
    return {"k": k, "last": last, "total": total, "iterations": iterations}


@my.step
def join(
    r00: dict[str, int], r01: dict[str, int], r02: dict[str, int], r03: dict[str, int], r04: dict[str, int],
    r05: dict[str, int], r06: dict[str, int], r07: dict[str, int], r08: dict[str, int], r09: dict[str, int],
    r10: dict[str, int], r11: dict[str, int], r12: dict[str, int], r13: dict[str, int], r14: dict[str, int],
    r15: dict[str, int], r16: dict[str, int], r17: dict[str, int], r18: dict[str, int], r19: dict[str, int],
) -> dict[str, int]:  # fmt: skip
    """Combine the FANOUT results (one input each: a step input cannot be a list of outputs)."""
    parts = [r00, r01, r02, r03, r04, r05, r06, r07, r08, r09, r10, r11, r12, r13, r14, r15, r16, r17, r18, r19]
    return {"parts": len(parts), "total": sum(p["total"] for p in parts), "ks": sum(p["k"] for p in parts)}


@my.pipeline
def fanout(iterations: int = FANOUT_ITERATIONS) -> None:
    """source -> FANOUT x spin (k = 0..FANOUT-1) -> join."""
    start = source()
    join(*(spin(start, k=k, iterations=iterations) for k in range(FANOUT)))
