"""Spontaneous minis: which synapses get a source, its keys, its times, its rate, its ranks.

Times are checked bit for bit against an independent route (plain NEURON hoc Random
objects on the same Random123 ids, tests/drivers/conditions_expected.py), the rate over a
long run against Poisson theory, and the whole run on 1 vs 2 ranks.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from tests.conftest import REPO, run_python
from tests.test_overrides_support import SYNAPSES, TSTOP, variant, write_probe_circuit

DRIVER = REPO / "tests" / "drivers" / "conditions_probe.py"
EXPECTED_ROUTE = REPO / "tests" / "drivers" / "conditions_expected.py"
MINIS_SEED, RANDOM_SEED = 11, 1
# node attributes: exc_mini_frequency, inh_mini_frequency per cell
MINI_RATES = ([0.0, 2.0, 4.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0, 0.0])
OVERRIDES = [
    {"name": "spont", "source": "Fibre3", "target": "Cell3", "spont_minis": 7.0, "weight": 2.0},
    {"name": "quiet", "source": "Fibres", "target": "Cell2", "spont_minis": 0.0},
]
# SYNAPSES row -> (rate Hz, weight factor) of the minis source it must get
EXPECTED = {0: (2.0, 1.0), 1: (2.0, 1.0), 8: (4.0, 1.0), 9: (3.0, 1.0), 6: (7.0, 2.0)}
EXPECTED[7] = (7.0, 2.0)


def _load(path) -> tuple[dict, dict]:
    data = np.load(path)
    return {k: data[k] for k in data.files if k != "records"}, json.loads(str(data["records"]))


def _pop_hash(name: str) -> int:
    digest = hashlib.md5(name.encode()).digest()
    return ((digest[1] & 0x0F) << 8) + digest[0]


def _row(circuit, edge: dict) -> int:
    """SYNAPSES row of a recorded edge (source, target and order among equal pairs)."""
    name, edge_id = edge["key"].split(":")
    src, tgt = circuit.edges[name]
    pair = (src[int(edge_id)], tgt[int(edge_id)])
    rank = sum((src[i], tgt[i]) == pair for i in range(int(edge_id)))
    source = name.split("__")[0]
    rows = [k for k, r in enumerate(SYNAPSES) if r[0] == source and (r[1], r[2]) == pair]
    return rows[rank]


@pytest.fixture(scope="module")
def minis_run(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("minis")
    circuit = write_probe_circuit(root / "circuit", mini_rates=MINI_RATES)
    config = variant(
        circuit,
        "minis",
        run={"minis_seed": MINIS_SEED, "random_seed": RANDOM_SEED},
        connection_overrides=OVERRIDES,
    )
    run_python(DRIVER, config, root / "one.npz")
    return circuit, config, root, _load(root / "one.npz")


def test_sources_on_the_right_synapses_with_neurodamus_keys(minis_run):
    circuit, _, _, (_, records) = minis_run
    edges = {e["key"]: e for e in records["edges"]}
    found = {}
    for source in records["minis"]:
        edge = edges[source["key"]]
        row = _row(circuit, edge)
        found[row] = source["rate"]
        gid = edge["node_id"]  # population "cells" has offset 0
        name = source["key"].split(":")[0]
        seed2 = _pop_hash(name.split("__")[0]) * 65536 + _pop_hash("cells") + MINIS_SEED
        ids = [edge["synapse_id"] + 200, gid + 1 + 250]
        assert source["exp_ids"] == [*ids, seed2 + 300]
        assert source["uniform_ids"] == [*ids, seed2 + 350]
        (mini,) = [n for n in edge["netcons"] if n["kind"] == "mini"]
        assert mini["delay"] == 0.1
        rate, factor = EXPECTED[row]
        assert mini["weights"] == [SYNAPSES[row][5] * factor, 0.0, 0.0, 1.0]  # nc_type 1: mini
        others = [n for n in edge["netcons"] if n["kind"] != "mini"]
        assert all(n["weights"][1] != 1.0 for n in others)
    assert found == {row: rate for row, (rate, _) in EXPECTED.items()}


def test_times_equal_an_independent_random123_route(minis_run):
    _, _, root, (_, records) = minis_run
    spec = {
        "random_seed": RANDOM_SEED,
        "tstop": TSTOP,
        "minis": [{"exp_ids": m["exp_ids"], "rate": m["rate"]} for m in records["minis"]],
    }
    (root / "spec.json").write_text(json.dumps(spec))
    run_python(EXPECTED_ROUTE, root / "spec.json", root / "expected.json")
    expected = json.loads((root / "expected.json").read_text())["minis"]
    assert sum(len(times) for times in expected) >= 3
    for source, times in zip(records["minis"], expected, strict=True):
        assert source["times"] == times  # bit for bit


@pytest.mark.mpi
def test_two_ranks_are_bit_identical_with_minis(minis_run):
    _, config, root, (arrays, records) = minis_run
    run_python(DRIVER, config, root / "two.npz", ranks=2)
    two, two_records = _load(root / "two.npz")
    for key in (k for k in arrays if k.startswith("v_")):
        np.testing.assert_array_equal(arrays[key], two[key], err_msg=key)
    order = np.lexsort((arrays["spike_gids"], arrays["spike_times"]))
    order2 = np.lexsort((two["spike_gids"], two["spike_times"]))
    np.testing.assert_array_equal(arrays["spike_times"][order], two["spike_times"][order2])

    def by_key(rec: dict) -> dict:
        return {m["key"]: (m["exp_ids"], m["times"]) for m in rec["minis"]}

    assert by_key(records) == by_key(two_records)


def test_rate_matches_poisson_theory_over_a_long_run(tmp_path, mechanisms_built):
    circuit = write_probe_circuit(tmp_path / "circuit")
    tstop, rate = 3000.0, 40.0
    config = variant(
        circuit,
        "long",
        run={"tstop": tstop, "minis_seed": 5},
        inputs={},
        connection_overrides=[
            {"name": "all", "source": "All", "target": "Cells", "spont_minis": rate}
        ],
    )
    run_python(DRIVER, config, tmp_path / "long.npz")
    _, records = _load(tmp_path / "long.npz")
    sources = records["minis"]
    assert len(sources) == len(SYNAPSES)
    counts = np.array([len(s["times"]) for s in sources])
    expected = len(sources) * rate * tstop / 1000.0
    assert abs(counts.sum() - expected) < 4 * np.sqrt(expected)
    assert counts.min() > 0.6 * rate * tstop / 1000.0
    intervals = np.concatenate([np.diff([0.0, *s["times"]]) for s in sources]) * rate / 1000.0
    intervals.sort()
    cdf = 1.0 - np.exp(-intervals)
    n = intervals.size
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.63 / np.sqrt(n)  # Kolmogorov-Smirnov against exponential(1), 1% level
    assert np.mean(intervals) == pytest.approx(1.0, abs=4 / np.sqrt(n))
