# Two commands matter: `make run` and `make test`. Both set up what they need first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup run test test-fast test-stack lint bench clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

run: $(STAMP)
	$(BIN)/algopioneer up

# Everything: unit and integration tests, then the whole stack as processes (e2e and chaos).
# `make test-fast` and `make test-stack` run either half alone.
test: test-fast test-stack

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not chaos"

test-stack: $(STAMP)
	$(BIN)/python -m pytest -q -m "e2e or chaos" tests/e2e tests/chaos

# Style: ruff (lint and format), then strict mypy over shared, services, tests, bench and the example strategies (its scope,
# and the few test modules still excused from some error codes, are in pyproject.toml). CI runs it first.
lint: $(STAMP)
	$(BIN)/ruff check shared services tests bench examples
	$(BIN)/ruff format --check shared services tests bench examples
	$(BIN)/mypy
	$(BIN)/mypy examples/strategies

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data
