# Connect Hub — developer entry points. Needs only Python 3.11+, git and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ORACLE_DIR := .cache/streams-oracle
PLUGIN_PKGS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))

.PHONY: install demo test lint typecheck oracle bench clean

$(STAMP): pyproject.toml requirements.lock $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . $(foreach p,$(PLUGIN_PKGS),-e $(p))
	touch $(STAMP)

install: $(STAMP)

## The main job on embedded defaults (SQLite, no broker server).
demo: $(STAMP)
	$(BIN)/connect-hub demo

## The real Streams library for differential tests (needs Node >= 18; skipped without it).
oracle:
	@if command -v node >/dev/null 2>&1; then \
	  $(BIN)/python -m hub.testing.oracle_setup $(ORACLE_DIR); \
	else echo "node not found: differential tests against the real Streams library will be skipped"; fi

## The whole test suite.
test: $(STAMP) oracle
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check hub plugins tests bench migrations tools
	$(BIN)/ruff format --check hub plugins tests bench migrations tools
	$(BIN)/mypy

bench: $(STAMP) oracle
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis
