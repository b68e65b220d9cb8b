# Every target creates/uses .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean

# The tap (with its dev tools) and the sandbox, its own distribution, both from this tree.
$(STAMP): pyproject.toml sandbox/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./sandbox -e '.[dev]'
	touch $(STAMP)

## make demo: start the sandbox, sync every stream into ./output, print row counts
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## make lint: ruff (lint + format) and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make test: lint, type check and the whole suite: tests/unit, tests/e2e (the sandbox over
## HTTP), tests/integration (PostgreSQL, Meltano, packaging, kill and resume), sandbox/tests
test: lint
	$(BIN)/python -m pytest

## make test-fast: the unit tests only (no network, no subprocess), in seconds
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit -n 0

## make bench: the benchmark scenarios against the sandbox, one table
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) output .pytest_cache .mypy_cache .ruff_cache dist
