# The two commands a newcomer needs: `make up` (start everything) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_DIR := tests/bpmnlint
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
SYS_STAMP := .data/.prerequisites
# helm (the chart's lint and render in tests/unit/test_deployment_files.py): not in Debian, built
# once from the Go module proxy (about 3 minutes on 2 cores).
HELM_VERSION := v3.19.0
HELM := .data/opt/bin/helm
HELM_STAMP := .data/opt/.helm-$(HELM_VERSION)
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

.PHONY: up down status deploy logs lint test install bench fault pictures

$(SYS_STAMP): deploy/local/prerequisites.sh
	bash deploy/local/prerequisites.sh
	@mkdir -p .data && touch $@

$(PY_STAMP): pyproject.toml $(SYS_STAMP)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json $(SYS_STAMP)
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(HELM_STAMP): $(SYS_STAMP)
	@test -x "$(GO)" || { echo "Go is needed to build helm $(HELM_VERSION): install Go 1.24+ (e.g. into /usr/local/go) or set GO=/path/to/go" >&2; exit 1; }
	GOBIN=$(CURDIR)/.data/opt/bin "$(GO)" install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@touch $@

install: $(PY_STAMP) $(NODE_STAMP) $(HELM_STAMP)

## Start the whole local system (PostgreSQL, the Operaton engine, mailbox, SMS centre, identity, API, workers).
up: $(PY_STAMP)
	$(PY) -m deploy.local.stack up

## Stop everything `make up` started (data is kept under .data/).
down: $(PY_STAMP)
	$(PY) -m deploy.local.stack down

status: $(PY_STAMP)
	$(PY) -m deploy.local.stack status

## Deploy bpmn/ (diagrams, forms, decision tables) to the running engine.
deploy: $(PY_STAMP)
	$(VENV)/bin/kalite-deploy

## Redraw docs/diagrams/*.svg after changing a diagram (a test checks they match bpmn/).
pictures: $(PY_STAMP)
	$(VENV)/bin/kalite-pictures

logs:
	@for f in .data/logs/*.log; do echo "== $$f"; tail -n 20 "$$f"; done

lint: $(PY_STAMP) $(NODE_STAMP) $(HELM_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd $(NODE_DIR) && npx --no-install bpmnlint ../../bpmn/*.bpmn
	cd $(NODE_DIR) && npm test --silent && npm run --silent validate-templates

## Benchmark against the running stack (`make up` first); never part of `make test`.
## Options: make bench ARGS="--requests 2000 --concurrency 16" or ARGS="--rate 50 --duration 60";
## ARGS="--scale --requests 1000" compares 1 and 2 engine nodes × 1 and 2 worker processes.
bench: $(PY_STAMP)
	$(PY) -m tests.bench.run $(ARGS)

## Fault test against the running stack (`make up` first; it kills and restarts the engine,
## a worker process and PostgreSQL; with ENGINE_NODES=2 / API_PROCESSES=2 one node and one API
## process); never part of `make test`. Options: ARGS="--rate 4 --settle 20"
fault: $(PY_STAMP)
	$(PY) -m tests.fault.run $(ARGS)

## Run every check and test against the real parts: lint, the PostgreSQL-only tier, the engine
## tier (starts the stack if it is not up, and stops it after), the process coverage gate.
test: lint
	$(PY) -m tests.run
