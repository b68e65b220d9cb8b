# Every target creates/uses .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench readme schemas clean

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

## make test: lint, type check and the whole test suite (sandbox over HTTP, real Postgres)
test: lint
	$(BIN)/python -m pytest

## make bench: the benchmark scenarios against the sandbox, one table
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## make readme: refresh the README's settings and streams tables from the code
readme: $(STAMP)
	$(BIN)/python scripts/readme_tables.py

## make schemas: re-derive schemas/ from Klaviyo's OpenAPI spec (SPEC=... to use another)
SPEC ?= ../shared/klaviyo-openapi/stable-2026-07-15.json
schemas: $(STAMP)
	$(BIN)/python scripts/derive_schemas.py $(SPEC)

clean:
	rm -rf $(VENV) output .pytest_cache .mypy_cache .ruff_cache dist
