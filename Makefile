# Two commands do all the set-up on a fresh machine: `make up` and `make test`.
# The environment is made by uv from uv.lock; uv itself is bootstrapped from PyPI
# into .tools/ so that nothing needs installing by hand.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

NPM ?= npm
CHROMIUM := /usr/bin/chromium
FRONT_END := node_modules/.installed

.PHONY: up nats-users demo-data conformance test lint typecheck contracts compose-check pytest bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked
	@touch $@

# GOV.UK Frontend (served by the gateway) and axe-core (for the accessibility tests), from npm, as locked.
$(FRONT_END): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

# The front end's tests drive Debian's Chromium; installed from Debian's packages when missing.
$(CHROMIUM):
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium || \
	{ $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

## Run the whole system on the embedded default (nats-server, SQLite), gateway on :8000.
up: $(VENV)/.synced $(FRONT_END)
	$(BIN)/python -m deploy.local

## The NATS users' credentials for docker-compose.yml's secrets, in .data/nats-users (seeds already there are kept).
nats-users: $(VENV)/.synced
	$(BIN)/python -m deploy.nats_users generate .data/nats-users

## Fill the running stack with 18 months of demo families through the gateway; options in ARGS="--families 500".
demo-data: $(VENV)/.synced
	$(BIN)/python -m tools.demo_data $(ARGS)

## Check the running stack's answers against its OpenAPI document with schemathesis; ARGS="--group plan" runs one group.
conformance: $(VENV)/.synced
	$(BIN)/python -m tools.conformance $(ARGS)

## Lint, type-check, check the import contracts and the compose file, then run every test.
test: lint typecheck contracts compose-check pytest

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.synced
	$(BIN)/mypy

contracts: $(VENV)/.synced
	$(BIN)/lint-imports

compose-check: $(VENV)/.synced
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

pytest: $(VENV)/.synced $(FRONT_END) $(CHROMIUM)
	$(BIN)/pytest

## Print the performance figures (not a test) and write docs/performance.md; ARGS="bench.plan_reports" runs only those named.
bench: $(VENV)/.synced
	$(BIN)/python -m bench.run $(ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .mypy_cache .ruff_cache .pytest_cache
