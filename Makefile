# Task commands: each target is a thin call of the real tool. See README.md.
PYTHON  ?= python3
BUILD   := build
UV      := $(BUILD)/uv/bin/uv
VENV    := .venv
PY      := $(VENV)/bin/python
DEVDB   := $(BUILD)/devdb

.PHONY: setup run test lint bench demo seed clean

setup: $(VENV)/.synced $(DEVDB)

# uv itself comes from PyPI into a private virtualenv, so nothing global is needed.
$(UV):
	$(PYTHON) -m venv $(BUILD)/uv
	$(BUILD)/uv/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	@touch $@

# FerretDB embedded in a tiny Go launcher; modules from the Go proxy, pinned by go.sum.
$(DEVDB): scripts/devdb/main.go scripts/devdb/go.mod scripts/devdb/go.sum
	cd scripts/devdb && go build -trimpath -o ../../$(DEVDB) .

run: setup
	$(PY) -m scripts.run

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m scripts.bench

demo: setup
	$(PY) -m scripts.demo

seed: setup
	$(PY) -m scripts.seed

clean:
	rm -rf $(BUILD) $(VENV) .devdb .pytest_cache .mypy_cache .ruff_cache
