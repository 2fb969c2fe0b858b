PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run run-pushpin test lint lint-api venv bench

# A venv with the pinned runtime and test dependencies, rebuilt when they change.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# The whole system: web (uvicorn), Celery worker and beat, demo data.
run: $(STAMP)
	$(BIN)/python -m project.local_redis bin/run-dev

# The same with Pushpin in front of two web processes, on WEB_PORT (needs
# Debian's pushpin; docs/operations.md, "Pushpin in front").
run-pushpin: $(STAMP)
	$(BIN)/python -m project.local_redis bin/run-pushpin

# The full suite. Tests refuse the development key, so they get one of their own.
test: $(STAMP)
	SECRET_KEY="$${SECRET_KEY:-test-secret-key-for-the-suite-only}" \
		$(BIN)/python -m project.local_redis $(BIN)/pytest

lint: $(STAMP) lint-api
	$(BIN)/ruff check .

# Redocly CLI, pinned in lint/package-lock.json, lints the committed OpenAPI and
# AsyncAPI documents (lint/redocly.yaml says which rules and why; docs/testing.md).
REDOCLY := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true lint/node_modules/.bin/redocly

lint-api: lint/node_modules/.installed
	$(REDOCLY) lint --config lint/redocly.yaml docs/api/openapi.json docs/api/asyncapi.json

lint/node_modules/.installed: lint/package.json lint/package-lock.json
	cd lint && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Realtime benchmarks, ours beside stock django-eventstream (bench/README.md).
# PostgreSQL when BENCH_DATABASE_URL or DATABASE_URL is set (database callboard_bench),
# else SQLite files under bench/results/. `make bench ARGS=--quick` for the small run.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(ARGS) $(BENCH_ARGS)
