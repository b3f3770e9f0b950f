# Quick start: `make run` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/example/simulation_config.json

.PHONY: run test lint format venv clean benchmark

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sonatasim run $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check engine tests benchmarks
	$(BIN)/ruff format --check engine tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format engine tests benchmarks
	$(BIN)/ruff check --fix engine tests benchmarks

test: lint
	$(BIN)/python -m pytest -q -ra

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_point_network.py

clean:
	rm -rf $(VENV) build *.egg-info
