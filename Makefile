# Two commands matter: `make run` and `make test`. Both set up what they need first.
SHELL := /bin/bash
# Python 3.11 to 3.13: the newest that runs is used (a pyenv shim can exist without its version);
# `make PYTHON=python3.11 ...` picks one, `make VENV=.venv311 ...` keeps a second venv beside .venv.
SUPPORTED_PYTHONS := python3.13 python3.12 python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export UV_PYTHON_DOWNLOADS := never
ifneq ($(MAKECMDGOALS),clean)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in $(SUPPORTED_PYTHONS); do $$p -c '' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
# The interpreter as venv records it (`executable` in pyvenv.cfg): another one means a new venv.
PYTHON_EXE := $(shell $(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null)
VENV_EXE := $(shell sed -n 's/^executable = //p' $(VENV)/pyvenv.cfg 2>/dev/null)
$(info make: $(if $(PYTHON_EXE),using $(PYTHON) ($(PYTHON_EXE)),no Python found (tried $(or $(PYTHON),$(SUPPORTED_PYTHONS)))) for $(VENV))
endif

.PHONY: setup run test test-fast test-stack lint bench clean FORCE

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml $(if $(filter-out $(VENV_EXE),$(PYTHON_EXE)),FORCE)
	@test -n "$(PYTHON_EXE)" || { echo "make: no Python 3.11-3.13 runs here; install one or pass PYTHON=..." >&2; exit 1; }
	@if [ -e $(VENV)/pyvenv.cfg ] && [ "$(VENV_EXE)" != "$(PYTHON_EXE)" ]; then \
		echo "make: $(VENV) was made by $(or $(VENV_EXE),another Python); recreating it with $(PYTHON_EXE)"; \
		rm -rf $(VENV); fi
	@test -x $(BIN)/python || { $(PYTHON) -m venv $(VENV) && echo '*' > $(VENV)/.gitignore; }
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

run: $(STAMP)
	$(BIN)/algopioneer up

# Everything: unit and integration tests, then the whole stack as processes (e2e and chaos).
# `make test-fast` and `make test-stack` run either half alone.
test: test-fast test-stack test-browser

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not chaos and not browser"

test-stack: $(STAMP)
	$(BIN)/python -m pytest -q -m "e2e or chaos" tests/e2e tests/chaos

# The web console in a real headless Chromium: Debian's chromium and its chromedriver (selenium drives
# them, nothing is downloaded). Installed with apt-get when missing and run as root; otherwise it says so.
.PHONY: browser-deps test-browser
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
		else echo "make: the browser test needs chromium and chromium-driver (apt-get install chromium chromium-driver, as root)" >&2; exit 1; fi; \
	fi

test-browser: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -m browser tests/browser

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
