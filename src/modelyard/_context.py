"""The only process-wide state: the current client and the stack of active runs (context variables)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.tracking.runs import ActiveRun

current_client: ContextVar[Client | None] = ContextVar("modelyard_client", default=None)
run_stack: ContextVar[tuple[ActiveRun, ...]] = ContextVar("modelyard_runs", default=())

# Threads do not inherit context variables, so `connect()` also records the client it made here: a worker
# thread that logs without a client of its own then talks to the store the program connected to, not to a
# fresh default. This is the single exception to "two context variables" (see docs/design.md).
process_client: list[Client] = []

# While a `@pipeline` function is being traced, calling a step records it in this graph builder instead of
# running it. Steps are plain functions the rest of the time; a context variable (not an argument) keeps the
# user's pipeline code free of plumbing. See docs/design.md, "Pipelines are traced".
tracing: ContextVar[object | None] = ContextVar("modelyard_pipeline_tracing", default=None)
