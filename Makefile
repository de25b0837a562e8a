# One set of commands for people and CI. Every target installs what it needs first.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
DB ?= sqlite:///data/localpay.db
PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: install system-deps run test lint bench fmt clean messages screenshots

# uv from PyPI when missing; the locked environment; Debian's PostgreSQL for the tests.
install:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! ldconfig -p | grep -q libpangoft2 || ! fc-list 2>/dev/null | grep -qi nanum; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-nanum libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; \
	  else echo "the browser tests need Debian's chromium and fonts-nanum: apt-get install chromium fonts-nanum" >&2; exit 1; fi; fi
	@if [ ! -x $(PG_BIN)/pg_ctl ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL 15 server binaries missing in $(PG_BIN): install Debian's postgresql package" >&2; exit 1; fi; fi

run: install
	@$(UV) run localpay --db $(DB) up

test: install system-deps
	@$(UV) run pytest -n 2 -q

lint: install
	@$(UV) run ruff check src tests bench scripts
	@$(UV) run ruff format --check src tests bench scripts
	@$(UV) run mypy
	@$(UV) run lint-imports

bench: install system-deps
	@$(UV) run python bench/run.py

# The pages' message catalogs: extract every message, merge it into each language's .po
# (Korean, the default, and English); translate the new entries, then commit the .po files.
LOCALES := src/localpay/entrypoints/web/locale
messages: install
	@$(UV) run pybabel -q extract -F babel.cfg -k say:2 -k N_ --no-location --sort-output \
	  --project localpay --version 0.1.0 -o $(LOCALES)/messages.pot .
	@for lang in ko en; do \
	  if [ -f $(LOCALES)/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(UV) run pybabel -q update -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang --no-fuzzy-matching --ignore-obsolete; \
	  else $(UV) run pybabel -q init -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang --no-wrap; fi; \
	done

# docs/screenshots/: the main pages in Debian's Chromium, from a freshly seeded demo store.
screenshots: install system-deps
	@$(UV) run python scripts/screenshots.py

fmt: install
	@$(UV) run ruff format src tests bench
	@$(UV) run ruff check --fix src tests bench

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
