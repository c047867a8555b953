# Every target bootstraps .venv from pyproject.toml; only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(STAMP_RUN)

## Run the service on the embedded defaults (SQLite under ./var, in-process cache), with the
## sandbox SIMULATORS of the card platforms beside it on 127.0.0.1:8090 (stopped with the service).
run: $(STAMP_RUN)
	$(BIN)/dualcode migrate
	$(BIN)/dualcode sandbox & sandbox=$$!; trap 'kill $$sandbox 2>/dev/null' EXIT INT TERM; DUALCODE_CONNECTORS_FILE=$${DUALCODE_CONNECTORS_FILE:-sandbox/his/demo_connectors.toml} $(BIN)/dualcode serve

## Run the whole test suite (PostgreSQL and Redis tests skip without them, fail under CI=true).
test: $(STAMP_TEST)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Lint, formatting, types and the architecture test.
check: $(STAMP_TEST)
	$(BIN)/ruff check adapter mappings his_connectors sandbox tests bench
	$(BIN)/ruff format --check adapter mappings his_connectors sandbox tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q tests/test_architecture.py

## Benchmarks print figures; they assert nothing.
bench: $(STAMP_TEST)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
