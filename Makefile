# feedsvc task runner, and executable documentation of how the project is worked on.
# `make ingest` and `make test` are the README's quick start; each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: ingest run serve status publish test lint typecheck check bench bench-quick bench-setup bench-fetch bench-http clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "feedsvc needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
		else echo "python3 -m venv failed: on Debian run 'sudo apt-get install python3-venv'"; exit 1; fi; }
	@echo "Installing feedsvc and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	@{ $(BIN)/python -m pip install --upgrade pip && \
	   $(BIN)/python -m pip install -e '.[test,bench]'; } > $(VENV)/install.log 2>&1 || \
		{ tail -30 $(VENV)/install.log; echo "pip install failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

ingest: $(STAMP)  ## ingest every source of config.toml once and publish feeds/atom.xml
	$(BIN)/feedsvc ingest

run: $(STAMP)  ## run the daemon: scheduled ingestion + HTTP server on [server] host:port
	$(BIN)/feedsvc run

serve: $(STAMP)  ## serve feeds/ over HTTP only (no ingestion)
	$(BIN)/feedsvc serve

bench-http: $(STAMP)  ## requests/s of `feedsvc serve` next to nginx (needs wrk; nginx optional)
	$(BIN)/python bench/http_bench.py

status: $(STAMP)  ## show sources, counts, last runs and errors
	$(BIN)/feedsvc status

publish: $(STAMP)  ## regenerate feeds/ (atom.xml, rss.xml, feed.json, archive, index.html)
	$(BIN)/feedsvc publish

test: $(STAMP)  ## run the whole test suite (lint and type checks included)
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy --strict on feedsvc/
	$(BIN)/mypy

check: lint typecheck test  ## everything CI checks

bench: $(STAMP)  ## the benchmark suite, full size (see bench/README.md; several minutes)
	$(BIN)/python bench/run.py

bench-quick: $(STAMP)  ## the benchmark suite on a small corpus (under two minutes, not judged)
	$(BIN)/python bench/run.py --quick

bench-setup:  ## Debian packages for the serving figure: wrk and nginx (needs root)
	@command -v wrk >/dev/null && command -v nginx >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light; }

bench-fetch: $(STAMP)  ## fetch benchmark: 1,000 feeds on loopback servers with 100 ms latency
	$(BIN)/python bench/fetch_bench.py

bench-dedup: $(STAMP)  ## dedup cost per entry as the database grows (quick sizes; see bench/README.md)
	$(BIN)/python bench/dedup_bench.py --quick

clean:  ## remove the venv, the database and published output
	rm -rf $(VENV) db/*.sqlite3* feeds/*.xml feeds/*.json feeds/*.html feeds/*.css \
		feeds/archive feeds/sources
