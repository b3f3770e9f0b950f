"""`sonatasim dry-run`: counts read back with libsonata, memory against a real run.

The example E/I network (ball-and-stick cells, virtual inputs, a soma report) is generated
here; the dry-run's cells per population and synapses per edge population must equal what
libsonata reads from the files, and its last line, the estimated peak memory per rank,
must be within 25 % of the `peak memory` line of real runs on 1 and 2 ranks.
"""

from __future__ import annotations

import re

import libsonata
import pytest

from engine.generate.networks import write_examples
from tests.conftest import run_cli

TOLERANCE = 0.25


@pytest.fixture(scope="module")
def example(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("dry_run")
    circuit = write_examples(root / "example")[0]
    return circuit


def _estimate(output: str) -> float:
    last = output.strip().splitlines()[-1]
    match = re.fullmatch(r"estimated peak memory per rank: (\d+) MB", last)
    assert match, f"last line is {last!r}"
    return float(match.group(1))


def _measured(output: str) -> float:
    match = re.search(r"peak memory\s+(\d+) MB per rank \(max\)", output)
    assert match, output
    return float(match.group(1))


def test_counts_match_the_circuit_files(example):
    result = run_cli("dry-run", example.simulation_config, "--memory-per-rank", "4000")
    out = result.stdout
    nodes = libsonata.NodeStorage(str(example.root / "nodes.h5"))
    edges = libsonata.EdgeStorage(str(example.root / "edges.h5"))
    simulated = 0
    for name in nodes.population_names:
        population = nodes.open_population(name)
        kinds = set(population.get_attribute("model_type", population.select_all()))
        if kinds == {"virtual"}:
            continue
        per_template = re.findall(rf"^{name}\s+\S+\s+(\d+)\s+(\d+)", out, re.M)
        assert per_template, out
        assert sum(int(c) for c, _ in per_template) == population.size
        simulated += population.size
    assert simulated > 0
    for name in edges.population_names:
        count = re.search(rf"^{name}\s+\S+\s+(\d+)", out, re.M)
        assert count and int(count.group(1)) == edges.open_population(name).size, out
    assert "recommended: 1 rank(s) for 4000 MB per rank" in out


@pytest.mark.mpi
@pytest.mark.parametrize("ranks", [1, 2])
def test_estimate_within_25_percent_of_the_run(example, tmp_path, ranks):
    estimate = _estimate(run_cli("dry-run", example.simulation_config, "--ranks", ranks).stdout)
    run = run_cli("run", example.simulation_config, "--output-dir", tmp_path, ranks=ranks)
    measured = _measured(run.stdout + run.stderr)
    assert abs(estimate - measured) <= TOLERANCE * measured, (estimate, measured)


def test_no_rank_count_fits_a_tiny_budget(example):
    result = run_cli("dry-run", example.simulation_config, "--memory-per-rank", "1")
    assert "no rank count fits 1 MB per rank" in result.stdout
