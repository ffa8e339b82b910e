# The project's interface: CI, the README and developers call these same targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# checkov has its own venv: it pins its dependencies exactly, and they clash with the dev tools'.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
PORT ?= 3000
REGION ?= us-east-1

export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

# Python: PYTHON=... if given, else the newest of these that runs and is 3.11 or newer. An interpreter
# that fails to start (a pyenv shim with no version selected, say) counts as absent. Only the targets
# that need .venv look for one, so `make help` and `make clean` work without Python.
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3
PYTHON_OK := import sys; sys.exit(sys.version_info < (3, 11))
ifneq ($(filter-out help clean distclean,$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))),)
  ifeq ($(origin PYTHON),undefined)
    PYTHON := $(shell for p in $(PYTHON_CANDIDATES); do \
      $$p -c '$(PYTHON_OK)' >/dev/null 2>&1 && { echo $$p; break; }; done)
  endif
  # Which interpreter made .venv: its base installation and version. Another one rebuilds .venv.
  PYTHON_ID := $(shell $(PYTHON) -c 'import sys; print(sys.base_prefix, *sys.version_info[:3])' \
    2>/dev/null | cksum | cut -d' ' -f1)
endif
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)-$(PYTHON_ID)
MADE_BY := $(VENV)/.made-by-$(PYTHON_ID)
# This repository, installed editable into .venv: the real folder, even when make runs in a folder of
# links to it (the README test's scratch copy), so .venv never points at a temporary copy.
PROJECT_DIR := $(patsubst %/,%,$(dir $(realpath pyproject.toml)))

# pip's "Collecting <package>" lines, shortened to a counter: progress without pip's noise. Its
# errors go to stderr and stay whole.
PIP_PROGRESS := awk -v tty=$$([ -t 1 ] && echo 1 || echo 0) \
  '/^Collecting /{ n++; if (tty) printf "\r  %3d packages  %-40.40s", n, $$2; \
                   else printf "  %3d  %s\n", n, $$2; fflush() } \
   END { if (tty && n) printf "\n" }'

.PHONY: help install lint build test unit e2e bench local local-clean invoke invoke-usage fire deploy destroy clean distclean openapi

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# .venv, made by the chosen interpreter; one made by another interpreter (an older Python, a broken
# first attempt) is removed first.
$(MADE_BY):
	@if [ -z "$(PYTHON)" ]; then \
	  echo "product-api needs Python 3.11 or newer, and found none of: $(PYTHON_CANDIDATES)." >&2; \
	  for p in $(PYTHON_CANDIDATES); do \
	    v=$$($$p -V 2>&1 | head -1) && echo "  $$p: $$v" >&2 || true; done; \
	  echo "Install one (python.org, your package manager, pyenv or uv), or name it: make PYTHON=/path/to/python3.13 ..." >&2; \
	  exit 1; fi
	@$(PYTHON) -c '$(PYTHON_OK)' 2>/dev/null || { \
	  echo "PYTHON=$(PYTHON) is $$($(PYTHON) -V 2>&1 | head -1); product-api needs Python 3.11 or newer." >&2; exit 1; }
	@echo "creating $(VENV) with $(PYTHON) ($$($(PYTHON) -V 2>&1))"
	@rm -rf $(VENV)
	@$(PYTHON) -m venv $(VENV)
	@touch $@

$(STAMP): $(MADE_BY) pyproject.toml
	@echo "installing the dev tools into $(VENV) (the first time takes a minute or two) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	@# The repository installed editable (the local cloud's package and command); setuptools' reminder
	@# that a folder named as the package shadows it is this layout's point, so it is not shown.
	@PYTHONWARNINGS=ignore::UserWarning:setuptools.command.editable_wheel \
	  $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off --group dev --editable $(PROJECT_DIR) | $(PIP_PROGRESS)
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "$(VENV) is ready ($$($(BIN)/python -V))"

install: $(STAMP) ## create .venv with everything the project needs (Python 3.11 or newer)

# checkov's own venv, made by the same interpreter as .venv (and made again with it).
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)-$(PYTHON_ID)
$(CHECKOV_STAMP): $(MADE_BY)
	@echo "installing checkov $(CHECKOV_VERSION) into $(CHECKOV_VENV) ..."
	@rm -rf $(CHECKOV_VENV)
	@$(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	@touch $@

lint: install $(CHECKOV_STAMP) ## ruff, mypy, cfn-lint (no errors, no warnings), sam validate --lint, checkov (no failed check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(REGION)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

build: install ## sam build (no Docker, no python3.13 needed)
	$(BIN)/sam build

test: lint build ## everything CI runs: lint, build, unit and end-to-end tests, with coverage
	$(BIN)/pytest --cov --cov-report=term:skip-covered

unit: install ## unit tests only (no network)
	$(BIN)/pytest tests/unit

e2e: install ## end-to-end tests (local cloud, or a deployed stack with AWS_SAM_STACK_NAME)
	$(BIN)/pytest tests/e2e

openapi: install ## rewrite docs/openapi.json from the code and template.yaml (a unit test fails while it is stale)
	$(BIN)/python -m scripts.openapi

bench: install ## cold-start and local-cloud benchmarks
	$(BIN)/python -m bench

local: install ## serve the API, Cognito (tokens, people's sign-in) and DynamoDB on 127.0.0.1, state kept in .local/state/ (PORT=3000, SEED=, USERS=, ARGS=...)
	$(BIN)/sam-local-cloud --port $(PORT) $(if $(SEED),--seed $(SEED)) $(if $(USERS),--users $(USERS)) $(ARGS)

local-clean: install ## make local, starting clean: this port's saved state (.local/state/...) deleted first
	$(MAKE) --no-print-directory local ARGS="--fresh $(ARGS)"

# Without FUNCTION= and EVENT=, the usage, before anything is installed.
invoke: $(if $(and $(FUNCTION),$(EVENT)),install,invoke-usage) ## run one function on an event: make invoke FUNCTION=GetProductFunction EVENT=events/get_product.json [SEED=events/seed_item.json]
	$(BIN)/python -m sam_local_cloud.invoke $(FUNCTION) $(EVENT) $(if $(SEED),--seed $(SEED))

invoke-usage:
	@echo "make invoke needs FUNCTION= and EVENT=, e.g. make invoke FUNCTION=GetProductFunction EVENT=events/get_product.json" >&2
	@echo "(events/README.md lists each event with its function; SEED=events/seed_item.json preloads the table)" >&2
	@exit 2

fire: install ## fire a schedule of the running `make local` now: make fire SCHEDULE=MyFunctionNightly (SCHEDULE= alone lists them)
	$(BIN)/python -m sam_local_cloud.fire --outputs $(if $(filter 3000,$(PORT)),.local/outputs.json,.local/outputs-$(PORT).json) $(if $(SCHEDULE),$(SCHEDULE),--list)

deploy: build ## sam deploy (AWS account needed; first time: sam deploy --guided); ENV=prod for the prod environment
	$(BIN)/sam deploy $(if $(ENV),--config-env $(ENV)) $(if $(filter command line,$(origin REGION)),--region $(REGION))

destroy: install ## sam delete: remove a deployed stack (asks first); ENV=prod for the prod environment
	$(BIN)/sam delete $(if $(ENV),--config-env $(ENV)) $(if $(filter command line,$(origin REGION)),--region $(REGION))

clean: ## remove build output, local state and caches (keeps .venv)
	rm -rf .aws-sam .local .pytest_cache .ruff_cache .mypy_cache .coverage htmlcov

distclean: clean ## clean, and remove every venv: .venv, .venv-checkov (make lint's) and .venv-lambda (make bench's)
	rm -rf $(VENV) .venv-*
