# feedsvc task runner, and executable documentation of how the project is worked on.
# `make ingest` and `make test` are the README's quick start; each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: ingest run serve status publish test lint typecheck check bench clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "feedsvc needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
		else echo "python3 -m venv failed: on Debian run 'sudo apt-get install python3-venv'"; exit 1; fi; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

ingest: $(STAMP)  ## ingest every source of config.toml once and publish feeds/atom.xml
	$(BIN)/feedsvc ingest

status: $(STAMP)  ## show sources, counts, last runs and errors
	$(BIN)/feedsvc status

publish: $(STAMP)  ## regenerate feeds/atom.xml from the database
	$(BIN)/feedsvc publish

test: $(STAMP)  ## run the whole test suite (lint and type checks included)
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy --strict on feedsvc/
	$(BIN)/mypy

check: lint typecheck test  ## everything CI checks

bench: $(STAMP)  ## quick benchmark runs (full runs: see bench/README.md)
	$(BIN)/python bench/dedup_bench.py --quick

clean:  ## remove the venv, the database and published output
	rm -rf $(VENV) db/*.sqlite3* feeds/*.xml
