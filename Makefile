# The project's interface: CI, the README and developers call these same targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# checkov has its own venv: it pins its dependencies exactly, and they clash with the dev tools'.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
PORT ?= 3000
REGION ?= us-east-1

export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install lint build test unit e2e bench local invoke deploy clean openapi

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --group dev
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) ## create .venv with everything the project needs

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	rm -f $(CHECKOV_VENV)/.installed-*
	touch $@

lint: install $(CHECKOV_STAMP) ## ruff, cfn-lint (no errors, no warnings), sam validate --lint, checkov (no failed check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(REGION)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

build: install ## sam build (no Docker, no python3.13 needed)
	$(BIN)/sam build

test: lint build ## everything CI runs: lint, build, unit and end-to-end tests
	$(BIN)/pytest

unit: install ## unit tests only (no network)
	$(BIN)/pytest tests/unit

e2e: install ## end-to-end tests (local cloud, or a deployed stack with AWS_SAM_STACK_NAME)
	$(BIN)/pytest tests/e2e

openapi: install ## rewrite docs/openapi.json from the code and template.yaml (a unit test fails while it is stale)
	$(BIN)/python -m scripts.openapi

bench: install ## cold-start and local-cloud benchmarks
	$(BIN)/python -m bench

local: install ## serve the API, Cognito (tokens, people's sign-in) and DynamoDB on 127.0.0.1:$(PORT)
	$(BIN)/python -m local --port $(PORT) $(if $(SEED),--seed $(SEED)) $(if $(USERS),--users $(USERS))

invoke: install ## run one function on an event: make invoke FUNCTION=GetProductFunction EVENT=events/get_product.json [SEED=events/seed_item.json]
	$(BIN)/python -m local.invoke $(FUNCTION) $(EVENT) $(if $(SEED),--seed $(SEED))

deploy: build ## sam deploy (first time: sam deploy --guided); ENV=prod for the prod environment
	$(BIN)/sam deploy $(if $(ENV),--config-env $(ENV))

clean: ## remove build output and local state
	rm -rf .aws-sam .local .pytest_cache .ruff_cache
