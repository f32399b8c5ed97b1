"""Pipeline parameters: a config file (TOML, YAML or JSON) plus ``--set key=value`` overrides.

The config's top level holds the pipeline function's parameters (``data = "flights@q1"``); a table named
after a step sets that step's parameters (``[train] max_depth = 8``); the ``[run]`` table sets how it runs
(``runner``, ``workers``, ``experiment``). ``--set train.max_depth=8`` overrides one value; its value is read
as YAML, so ``8`` is an int, ``0.5`` a float, ``true`` a bool and ``[1, 2]`` a list.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.errors import ConfigError, PipelineError

__all__ = ["RUN_KEYS", "Parameters", "load_config", "parse_override", "resolve"]

RUN_KEYS = ("runner", "workers", "experiment", "cache")


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameters:
    """Resolved parameters: the pipeline function's, each step's overrides, and the run settings."""

    pipeline: dict[str, object] = field(default_factory=dict)
    steps: dict[str, dict[str, object]] = field(default_factory=dict)
    run: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """A JSON object (recorded with the run so it can be resumed)."""
        return {"pipeline": self.pipeline, "steps": self.steps, "run": self.run}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Parameters:
        """Read what ``to_json`` wrote."""
        return cls(
            pipeline=dict(data["pipeline"]), steps={k: dict(v) for k, v in data["steps"].items()}, run=dict(data["run"])
        )


def load_config(path: str | Path) -> dict[str, object]:
    """Read a TOML, YAML or JSON config file into a dict."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read pipeline config {str(path)!r}: {exc.strerror}.", hint="Check the path."
        ) from exc
    suffix = file.suffix.lower()
    try:
        if suffix == ".toml":
            data: object = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"Config {file.name!r} is not .toml, .yaml or .json.", hint="Rename it.")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Config {file.name!r} is not valid: {exc}.", hint="Fix the syntax.") from exc
    except ImportError as exc:  # pragma: no cover - pyyaml is a dependency
        raise ConfigError("Reading YAML needs PyYAML.", hint="pip install pyyaml.") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):
            raise ConfigError(f"Config {file.name!r} is not valid YAML: {exc}.", hint="Fix the syntax.") from exc
        raise
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config {file.name!r} must be a table of keys, not a {type(data).__name__}.", hint="See docs/pipelines.md."
        )
    return data


def parse_override(text: str) -> tuple[list[str], object]:
    """Split ``train.max_depth=8`` into (["train", "max_depth"], 8)."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or not all(path) or len(path) > 2:
        raise PipelineError(
            f"--set {text!r} is not KEY=VALUE or STEP.KEY=VALUE.",
            hint="Write --set train.max_depth=8 or --set data=flights@4.",
        )
    return path, _scalar(raw)


def _scalar(raw: str) -> object:
    """A ``--set`` value: int, float (``1e-3`` too), ``true``/``false``, null, a YAML list or mapping, or text."""
    import yaml

    text = raw.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return raw
    if isinstance(value, bool) and text.lower() not in ("true", "false"):
        return raw  # YAML 1.1 reads yes/no/on/off as booleans; a --set value means what it says
    return value


def resolve(
    *,
    function_params: Sequence[str],
    config: Mapping[str, object] | None,
    overrides: Sequence[str],
    params: Mapping[str, object],
) -> Parameters:
    """Merge config, then ``--set`` overrides, then keyword arguments (last wins)."""
    pipeline: dict[str, object] = {}
    steps: dict[str, dict[str, object]] = {}
    run: dict[str, object] = {}

    def put(path: Sequence[str], value: object) -> None:
        head = path[0]
        if head == "run":
            if len(path) == 1 and isinstance(value, Mapping):
                for k, v in value.items():
                    put(["run", str(k)], v)
                return
            if len(path) != 2 or path[1] not in RUN_KEYS:
                raise PipelineError(
                    f"Unknown run setting {'.'.join(path)!r}.", hint=f"Run settings: {', '.join(RUN_KEYS)}."
                )
            run[path[1]] = value
        elif len(path) == 1 and isinstance(value, Mapping) and head not in function_params:
            for k, v in value.items():
                steps.setdefault(head, {})[str(k)] = v
        elif len(path) == 1:
            pipeline[head] = value
        else:
            steps.setdefault(head, {})[path[1]] = value

    for key, value in (config or {}).items():
        put([str(key)], value)
    for text in overrides:
        put(*parse_override(text))
    for key, value in params.items():
        put(key.split(".", 1) if "." in key else [key], value)
    _check_pipeline_params(pipeline, function_params)
    return Parameters(pipeline=pipeline, steps=steps, run=run)


def _check_pipeline_params(pipeline: Mapping[str, object], function_params: Sequence[str]) -> None:
    from modelyard.errors import close_matches

    for key in pipeline:
        if key not in function_params:
            raise PipelineError(
                f"Pipeline parameter {key!r} is not a parameter of the pipeline function.",
                hint=(
                    close_matches(key, function_params) or f" Its parameters: {', '.join(function_params) or 'none'}."
                ).strip(),
            )
