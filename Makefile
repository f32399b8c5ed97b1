# The two commands of the README: `make demo` and `make test`. Both set up their own environment.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: setup demo test check services bench

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

setup: $(UV)
	$(UV) sync --locked --quiet

demo: setup
	$(VENV)/bin/modelyard demo

services:
	bash .ci/services

test: setup services check
	$(VENV)/bin/pytest

check: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup
	$(VENV)/bin/python bench/tracking.py
	$(VENV)/bin/python bench/registry.py
	$(VENV)/bin/python bench/data.py
	$(VENV)/bin/python bench/pipelines.py
