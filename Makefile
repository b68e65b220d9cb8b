# Every target creates/uses .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo analyses test test-fast lint bench readme schemas mutate constraints clean

# The tap (with its dev tools) and the sandbox, its own distribution, both from this tree, at
# the versions locked in constraints-dev.txt.
$(STAMP): pyproject.toml sandbox/pyproject.toml constraints-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints-dev.txt -e ./sandbox -e '.[dev]'
	touch $(STAMP)

## make constraints: lock the dev environment again (after a dependency changed) from .venv
constraints: $(STAMP)
	{ sed -n '/^#/p' constraints-dev.txt; $(BIN)/python -m pip freeze --exclude-editable; } \
		> constraints-dev.txt.new
	mv constraints-dev.txt.new constraints-dev.txt

## make demo: start the sandbox, sync every stream into ./output, print row counts
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# dbt in a venv of its own: its pins are not the tap's (transform/requirements.txt).
DBT_VENV := .venv-dbt
DBT_STAMP := $(DBT_VENV)/.installed
$(DBT_STAMP): transform/requirements.txt
	test -x $(DBT_VENV)/bin/python || $(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install --quiet -r transform/requirements.txt
	touch $(DBT_STAMP)

# Where `make analyses` loads and builds (database created if missing; schemas replaced).
PGHOST ?= 127.0.0.1
PGPORT ?= 5432
PGUSER ?= postgres
ANALYSES_DATABASE ?= klaviyo_demo
RAW_SCHEMA ?= klaviyo
ANALYTICS_SCHEMA ?= klaviyo_analytics
FIVETRAN_SCHEMA ?= klaviyo_fivetran
SCALE ?=
REVISION ?=

## make analyses: load a sandbox account into PostgreSQL, dbt build transform/, show each analysis
analyses: $(STAMP) $(DBT_STAMP)
	PGHOST=$(PGHOST) PGPORT=$(PGPORT) PGUSER=$(PGUSER) ANALYSES_DATABASE=$(ANALYSES_DATABASE) \
	KLAVIYO_RAW_SCHEMA=$(RAW_SCHEMA) DBT_POSTGRES_SCHEMA=$(ANALYTICS_SCHEMA) \
	KLAVIYO_FIVETRAN_SCHEMA=$(FIVETRAN_SCHEMA) \
	$(BIN)/python scripts/analyses.py --dbt $(DBT_VENV)/bin/dbt $(if $(SCALE),--scale $(SCALE)) \
	$(if $(REVISION),--revision $(REVISION))

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

## make mutate: mutation testing of the modules that decide what lands (pyproject [tool.mutmut]);
## MUTANTS='tap_klaviyo.timestamps*' limits it; survivors explained in tests/MUTANTS.md
MUTANTS ?=
mutate: $(STAMP)
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/mutmut results

## make bench: the benchmark scenarios against the sandbox, one table
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## make readme: refresh the README's settings and streams tables from the code
readme: $(STAMP)
	$(BIN)/python scripts/readme_tables.py

## make schemas: re-derive schemas/ from the spec's facts in spec/ (SPEC=... for another)
SPEC ?= spec/klaviyo-2026-07-15.json
schemas: $(STAMP)
	$(BIN)/python scripts/derive_schemas.py $(SPEC) --beta spec/klaviyo-2026-07-15.pre.json

clean:
	rm -rf $(VENV) $(DBT_VENV) mutants output .pytest_cache .mypy_cache .ruff_cache dist
