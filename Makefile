# Task commands: each target is a thin call of the real tool. See docs/development.md.
PYTHON     ?= python3
BUILD      := build
UV         := $(BUILD)/uv/bin/uv
VENV       := .venv
PY         := $(VENV)/bin/python
DEVDB_PORT ?= 27018
CHROMIUM   := /usr/bin/chromium
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup devdb node-sdk run test test-fast lint bench demo seed verify soak screenshots clean

setup: $(VENV)/.synced

# uv itself comes from PyPI into a private virtualenv, so nothing global is needed.
$(UV):
	@echo "setup: installing uv (the Python package manager) into $(BUILD)/uv; once, under a minute"
	@$(PYTHON) -m venv $(BUILD)/uv
	@$(BUILD)/uv/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	@echo "setup: installing the Python dependencies from uv.lock into $(VENV); once, about a minute the first time"
	@$(UV) sync --frozen
	@touch $@

# The fast development database server (SecantusDB's Rust server), built once per machine
# into ~/.cache/ticketing; without a Rust toolchain, the Python server is used instead.
devdb: setup
	@$(PY) -m scripts.devdb build

# The Node Permit SDK (permitio, pinned in tests/node/package-lock.json): a client of the PDP
# in tests/api/test_pdp_sdk.py, installed by npm from the registry into build/node.
node-sdk: $(BUILD)/node/.installed

$(BUILD)/node/.installed: tests/node/package.json tests/node/package-lock.json
	@echo "setup: installing the Node Permit SDK (permitio, a test client of the PDP) into $(BUILD)/node with npm; once, about 15 seconds"
	@mkdir -p $(BUILD)/node
	@cp tests/node/package.json tests/node/package-lock.json $(BUILD)/node/
	@cd $(BUILD)/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests (tests/browser) drive Debian's Chromium through Playwright; Playwright's
# own browser download is never used. Installed once per machine, only when missing.
$(CHROMIUM):
	@echo "setup: installing Chromium from Debian's packages for the browser tests (apt-get; once per machine, a minute or two)"
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# Starts on the Python server and builds the Rust one in the background if it is missing.
run: setup
	@$(PY) -m scripts.run

# The suite on a one-node replica set (transactions), then the tests of multi-document
# writes and outages again on a standalone server (no transactions: the undo path).
test: devdb node-sdk $(CHROMIUM)
	$(PY) -m pytest
	DEVDB_TOPOLOGY=standalone $(PY) -m pytest -m topologies

# The edit loop: the unit, API and engine-on-the-database tests, none of the slow or
# browser ones (nor tests/tooling: the scripts, and mypy in a subprocess).
test-fast: devdb node-sdk
	$(PY) -m pytest -q -m "not slow and not browser" tests/unit tests/api tests/authz

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: devdb
	$(PY) -m scripts.bench

demo: setup
	$(PY) -m scripts.demo $(ARGS)

# Rewrites the console screenshots (docs/console-*.png, shown in the README and docs/console.md).
screenshots: devdb $(CHROMIUM)
	CONSOLE_SCREENSHOTS=docs $(PY) -m pytest -q -m browser -k screenshots

seed: setup
	MONGODB_URI="$${MONGODB_URI:-mongodb://127.0.0.1:$(DEVDB_PORT)/}" $(PY) -m scripts.seed

# Checks every invariant authorization relies on, in the database `make run` serves (or
# $MONGODB_URI); read-only unless ARGS=--repair.
verify: setup
	MONGODB_URI="$${MONGODB_URI:-mongodb://127.0.0.1:$(DEVDB_PORT)/}" $(PY) -m scripts.verify $(ARGS)

# Mixed load from 16 clients while the database and the API processes are killed, on a
# replica set and then on a standalone server; MINUTES each (default 10).
MINUTES ?= 10
soak: devdb
	$(PY) -m scripts.soak --minutes $(MINUTES)
	$(PY) -m scripts.soak --minutes $(MINUTES) --standalone

clean:
	rm -rf $(BUILD) $(VENV) .devdb .devdb.log .pytest_cache .mypy_cache .ruff_cache
