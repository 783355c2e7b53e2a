# rosterjobs: `make demo` runs the main job on the embedded defaults; `make test` runs the
# whole suite (lint, types, unit, integration on real Postgres/Redis/S3-over-HTTP, end to end).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-slow bench lint types services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rosterjobs demo

services:
	bash scripts/services.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) services lint types
	$(BIN)/pytest

test-slow: $(STAMP) services
	$(BIN)/pytest -m slow

# `make bench ONLY=exports,queue` runs some of the measurements (see scripts/bench.py --help)
bench: $(STAMP) services
	$(BIN)/python scripts/bench.py $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
