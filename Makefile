# Passe Marché — every set-up step lives here, so a fresh machine needs only `make run` / `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# DSFR (the State's design system) comes from npm at build time; the app serves it from node_modules.
DSFR_CSS := node_modules/@gouvfr/dsfr/dist/dsfr.min.css
NPM ?= npm
# Browser tests drive Debian's Chromium through playwright (never `playwright install`).
CHROMIUM := /usr/bin/chromium
# The PDFs print French text with DejaVu Sans (Debian fonts-dejavu-core: regular and bold).
FONT_DIR := /usr/share/fonts/truetype/dejavu
FONTS := $(FONT_DIR)/DejaVuSans.ttf $(FONT_DIR)/DejaVuSans-Bold.ttf
# Antivirus tests start their own clamd from Debian's clamav-daemon (no signature download needed).
CLAMD := /usr/sbin/clamd

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e './clients/python[sandbox]'
	touch $(STAMP)

install: $(STAMP) assets fonts ## Create the virtual environment, install the project, the DSFR assets and the PDF fonts

$(DSFR_CSS): package.json package-lock.json
	@if command -v $(NPM) >/dev/null 2>&1; then \
		echo "npm ci (DSFR assets)"; \
		$(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "WARNING: $(NPM) not found, DSFR not installed: pages will be served unstyled." >&2; \
		echo "         Install Node.js and npm, then run: make assets" >&2; \
	fi

assets: $(DSFR_CSS) ## Install the DSFR (npm ci, into node_modules/) that pages load from /static/dsfr/

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "apt-get install chromium (browser tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "sudo apt-get install chromium (browser tests)"; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "WARNING: $(CHROMIUM) missing and apt-get unavailable without a password:" >&2; \
		echo "         browser tests will be skipped (install Debian's chromium package)." >&2; \
	fi

browser: $(CHROMIUM) ## Debian's Chromium for the browser tests (apt-get; never `playwright install`)

$(FONTS) &:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "apt-get install fonts-dejavu-core (PDF attestations)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "sudo apt-get install fonts-dejavu-core (PDF attestations)"; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; \
	else \
		echo "WARNING: $@ missing and apt-get unavailable without a password:" >&2; \
		echo "         attestations cannot be generated (install Debian's fonts-dejavu-core)." >&2; \
	fi

fonts: $(FONTS) ## DejaVu Sans for the PDF attestations (Debian fonts-dejavu-core, apt-get)

$(CLAMD):
	@if command -v clamd >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "apt-get install clamav-daemon clamav (antivirus tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon clamav >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "sudo apt-get install clamav-daemon clamav (antivirus tests)"; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon clamav >/dev/null; \
	else \
		echo "WARNING: clamd missing and apt-get unavailable without a password:" >&2; \
		echo "         antivirus tests will be skipped (install Debian's clamav-daemon package)." >&2; \
	fi

clamav: $(CLAMD) ## Debian's clamd and sigtool for the antivirus tests (apt-get; no signature download)

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

catalogue: migrate ## Load the attribute catalogue (idempotent)
	$(BIN)/passemarche catalogue load

# Development: webhooks may go to a receiver on this machine (refused in production).
# `make run SANDBOX=1` also starts the API Entreprise and BODACC replicas (ports 8091/8092) and
# points the service at them, so a candidate with a sandbox SIRET (13002526500013) sees pre-fill.
SANDBOX ?=
SANDBOX_ENV := API_ENTREPRISE_BASE_URL=http://127.0.0.1:8091 API_ENTREPRISE_TOKEN=sandbox-token BODACC_BASE_URL=http://127.0.0.1:8092
run: demo-editor catalogue ## Install, migrate, load the catalogue, create the demo editor, serve on http://127.0.0.1:5000 (SANDBOX=1: with the data-source replicas)
ifeq ($(SANDBOX),1)
	@$(BIN)/python -m passemarche.sandbox --api-port 8091 --bodacc-port 8092 & sandbox=$$!; \
	trap 'kill $$sandbox 2>/dev/null' EXIT INT TERM; \
	ALLOW_PRIVATE_WEBHOOK_TARGETS=$${ALLOW_PRIVATE_WEBHOOK_TARGETS:-1} $(SANDBOX_ENV) $(BIN)/passemarche serve --host $(HOST) --port $(PORT)
else
	ALLOW_PRIVATE_WEBHOOK_TARGETS=$${ALLOW_PRIVATE_WEBHOOK_TARGETS:-1} $(BIN)/passemarche serve --host $(HOST) --port $(PORT)
endif

run-sandbox: install ## Local replicas of API Entreprise (127.0.0.1:8091) and BODACC (:8092), for tests and demos
	$(BIN)/python -m passemarche.sandbox --api-port 8091 --bodacc-port 8092

demo: install ## The whole editor workflow headless (service, replicas, sandbox editor); documents into demo-output/
	$(BIN)/python -m demo.run

worker: install ## Run a background job worker (needs REDIS_URL)
	$(BIN)/passemarche worker

test-unit: install ## Domain and service tests only: no database, Redis or Flask
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

lint: install ## ruff and mypy
	$(BIN)/ruff check src tests bench demo clients/python/src
	$(BIN)/ruff format --check src tests bench demo clients/python/src
	$(BIN)/mypy src
	$(BIN)/mypy demo clients/python/src

test: install browser clamav ## Everything the tests need, then the whole suite
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: install ## Benchmarks (see docs/BENCHMARKS.md)
	$(BIN)/python -m bench.run

bench-docs: install ## Only the documents benchmark: attestation rendering, package memory
	$(BIN)/python -m bench.documents

.PHONY: help install assets browser clamav migrate demo-editor catalogue run run-sandbox worker test-unit lint test bench fonts bench-docs demo
