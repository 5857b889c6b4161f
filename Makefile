PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo demo-distributed test lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/python examples/demo.py

# Two gateways and the monitor worker on PostgreSQL (PRODML_TEST_POSTGRES_URL, default
# postgresql://postgres@127.0.0.1:5432/test) and moto's S3 server, on this machine
demo-distributed: $(VENV)/.dev-installed
	$(BIN)/python examples/demo_distributed.py

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -n 2 -q

clean:
	rm -rf $(VENV) .prodml .pytest_cache .mypy_cache .ruff_cache
