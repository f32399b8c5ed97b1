"""Every exception modelyard raises.

The tree (each class has a stable ``code``; ``docs/errors.md`` has one section per code)::

    ModelyardError                      code="error"
    ├── ConfigError                     code="config"
    ├── NotFoundError (LookupError)     code="not-found"
    ├── AlreadyExistsError              code="already-exists"
    ├── ConflictError                   code="conflict"
    ├── InvalidInputError (ValueError)  code="invalid-input"
    │   ├── UnsafePathError             code="unsafe-path"
    │   └── UnsafeModelError            code="unsafe-model"
    ├── NoActiveRunError                code="no-active-run"
    ├── DataTestsFailedError            code="data-tests-failed"
    ├── PipelineError                   code="pipeline"
    │   ├── CycleError                  code="cycle"
    │   ├── StepFailedError             code="step-failed"
    │   └── GateFailedError             code="gate-failed"
    └── StoreError                      code="store"
        ├── StoreUnavailableError       code="store-unavailable"
        └── IntegrityError              code="integrity"

A message states what happened, the offending value and the next step; ``hint`` carries the next step on its
own so the CLI and (later) the server can show it apart from the message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "AlreadyExistsError",
    "ConfigError",
    "ConflictError",
    "CycleError",
    "DataTestsFailedError",
    "GateFailedError",
    "IntegrityError",
    "InvalidInputError",
    "ModelyardError",
    "NoActiveRunError",
    "NotFoundError",
    "PipelineError",
    "StepFailedError",
    "StoreError",
    "StoreUnavailableError",
    "UnsafeModelError",
    "UnsafePathError",
    "close_matches",
]


class ModelyardError(Exception):
    """Base class of every modelyard error; ``code`` is stable, ``hint`` says what to do next."""

    code = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(ModelyardError):
    """A setting, URI or configuration file is invalid."""

    code = "config"


class NotFoundError(ModelyardError, LookupError):
    """A named object (experiment, run, artifact, object digest) does not exist."""

    code = "not-found"


class AlreadyExistsError(ModelyardError):
    """A create call named an object that already exists."""

    code = "already-exists"


class ConflictError(ModelyardError):
    """A write conflicts with stored state (a param logged twice with different values, a finished run)."""

    code = "conflict"


class InvalidInputError(ModelyardError, ValueError):
    """An argument is malformed: wrong type, out of range, too long, unparsable filter."""

    code = "invalid-input"


class UnsafePathError(InvalidInputError):
    """A user-supplied path is absolute, escapes its root, or crosses a symbolic link."""

    code = "unsafe-path"


class UnsafeModelError(InvalidInputError):
    """A model package would run code to load (pickle, an untrusted type, a tampered tree) and is not trusted."""

    code = "unsafe-model"


class NoActiveRunError(ModelyardError):
    """A logging call was made with no run started in this context."""

    code = "no-active-run"


class DataTestsFailedError(ModelyardError):
    """Data failed the data tests that guard it; ``report`` holds every expectation's result."""

    code = "data-tests-failed"

    def __init__(self, message: str, *, report: object = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class PipelineError(ModelyardError):
    """A pipeline is defined wrongly (a missing input, a type mismatch) or its run failed.

    ``run`` holds the pipeline run record when the error ends a run (see ``modelyard.pipelines.PipelineRun``).
    """

    code = "pipeline"

    def __init__(self, message: str, *, hint: str | None = None, run: object = None) -> None:
        super().__init__(message, hint=hint)
        self.run = run


class CycleError(PipelineError):
    """The steps of a pipeline depend on each other in a cycle."""

    code = "cycle"


class StepFailedError(PipelineError):
    """A step raised, timed out or lost its worker after every retry; the run can be resumed from it."""

    code = "step-failed"


class GateFailedError(PipelineError):
    """A quality gate (post-train model checks) failed; ``report`` holds every check's result."""

    code = "gate-failed"

    def __init__(self, message: str, *, hint: str | None = None, run: object = None, report: object = None) -> None:
        super().__init__(message, hint=hint, run=run)
        self.report = report


class StoreError(ModelyardError):
    """A storage backend failed."""

    code = "store"


class StoreUnavailableError(StoreError):
    """A storage backend cannot be reached (database down, bucket missing, permissions)."""

    code = "store-unavailable"


class IntegrityError(StoreError):
    """Stored bytes do not match their digest, or a referenced object is missing."""

    code = "integrity"


def close_matches(name: str, candidates: Iterable[str]) -> str:
    """Return a ``did you mean`` phrase for ``name`` among ``candidates`` (empty when nothing is close)."""
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"
