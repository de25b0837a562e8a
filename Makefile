# One set of commands for people and CI. Every target installs what it needs first.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
DB ?= sqlite:///data/localpay.db
PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: install system-deps run test lint bench fmt clean

# uv from PyPI when missing; the locked environment; Debian's PostgreSQL for the tests.
install:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

system-deps:
	@if [ ! -x $(PG_BIN)/pg_ctl ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL 15 server binaries missing in $(PG_BIN): install Debian's postgresql package" >&2; exit 1; fi; fi

run: install
	@$(UV) run localpay --db $(DB) up

test: install system-deps
	@$(UV) run pytest -n 2 -q

lint: install
	@$(UV) run ruff check src tests bench
	@$(UV) run ruff format --check src tests bench
	@$(UV) run mypy
	@$(UV) run lint-imports

bench: install system-deps
	@$(UV) run python bench/run.py

fmt: install
	@$(UV) run ruff format src tests bench
	@$(UV) run ruff check --fix src tests bench

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
