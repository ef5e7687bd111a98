# Two entry points for a fresh machine with Python >= 3.11:
#   make demo   - create .venv, install valuescope, analyze the bundled sample into runs/demo
#   make test   - create .venv, install with test extras, run setup hooks, run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint format install install-test hooks clean-venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "valuescope needs Python >= 3.11 (found " + sys.version.split()[0] + "); run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(BIN)/python
	$(PIP) install --quiet -e .

demo: install
	$(BIN)/valuescope demo

install-test: $(BIN)/python
	$(PIP) install --quiet -e '.[dev,ner,ray]'

# Other parts of valuescope drop executable hooks here (build a llama.cpp server,
# install chromium for browser tests...). Each gets VENV and PYTHON in its environment.
hooks: install-test
	@set -e; for hook in scripts/test-setup.d/*.sh; do \
	  if [ -x "$$hook" ]; then echo ">> $$hook"; VENV="$(abspath $(VENV))" PYTHON="$(abspath $(BIN))/python" "$$hook"; fi; \
	done

# Layer contracts (import-linter), lint, format and types; the same four commands CI runs through `make test`.
LINTED := src tests benchmarks scripts training
lint: install-test
	$(BIN)/lint-imports
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

# Rewrite the tree: ruff's safe fixes, then the formatter (one mechanical commit, never mixed with changes).
format: install-test
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

test: hooks lint
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)
