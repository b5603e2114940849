# Passe Marché — every set-up step lives here, so a fresh machine needs only `make run` / `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create the virtual environment and install the project

migrate: install ## Apply database migrations (DATABASE_URL, default SQLite under var/)
	$(BIN)/passemarche db upgrade

demo-editor: migrate ## Create the demo editor once and print its credentials
	@if $(BIN)/passemarche editor list | grep -q '^demo	'; then \
		echo "Demo editor exists (rotate its secret with: $(BIN)/passemarche editor rotate-secret demo)"; \
	else \
		echo "Demo editor credentials (shown once):"; \
		$(BIN)/passemarche editor create --name demo --webhook-url http://127.0.0.1:8000/webhooks \
			--buyer-return-url http://127.0.0.1:8000/buyer --candidate-return-url http://127.0.0.1:8000/candidate; \
	fi

run: demo-editor ## Install, migrate, create the demo editor, serve on http://127.0.0.1:5000
	$(BIN)/passemarche serve --host $(HOST) --port $(PORT)

worker: install ## Run a background job worker (needs REDIS_URL)
	$(BIN)/passemarche worker

test-unit: install ## Domain and service tests only: no database, Redis or Flask
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

lint: install ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

test: install ## Everything the tests need, then the whole suite
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: install ## Benchmarks (see docs/BENCHMARKS.md)
	$(BIN)/python -m bench.run

.PHONY: help install migrate demo-editor run worker test-unit lint test bench
