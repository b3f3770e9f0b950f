"""poisson inputs: rate of the generated trains, delivery onto every synapse of the source
nodes (weight and edge delay), the resulting firing of IntFire1 targets, rank independence.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.generate.base import add_edges, new_circuit, virtual_nodes, write_configs
from engine.io.sonata_writer import write_node_sets, write_nodes
from tests.drivers.stimuli_common import record

RATE, WEIGHT, DELAY, DURATION = 50.0, 1.5, 10.0, 4000.0
REFRACTORY = 2.0
# A binary-exact time step: NEURON's t then stays on the grid over the long run (with
# 0.025 the accumulated error of t exceeds the 1e-9 ms margin of the engine's run loop).
DT = 1 / 32
# (source, target, delay ms)
EDGES = [(0, 0, 1.0), (1, 0, 2.0), (2, 1, 1.5), (3, 2, 3.0), (0, 2, 0.5)]


def poisson_circuit(root):
    """IntFire1 cells driven only through edges from 4 virtual source nodes."""
    circuit = new_circuit(root)
    circuit.populations = {"net": 3, "src": 4}
    attrs = {
        "model_type": np.full(3, "point_neuron", dtype=object),
        "model_template": np.full(3, "nrn:IntFire1", dtype=object),
    }
    dynamics = {"tau": np.full(3, 10.0), "refrac": np.full(3, REFRACTORY)}
    write_nodes(circuit.root / "nodes.h5", "net", attrs, dynamics=dynamics)
    write_nodes(circuit.root / "nodes.h5", "src", virtual_nodes(4))
    src, tgt, delay = (np.array(c) for c in zip(*EDGES, strict=True))
    n = src.size
    edge_attrs = {
        "syn_weight": np.full(n, 0.01),
        "conductance": np.full(n, 10.0),
        "delay": delay.astype(float),
        "syn_type_id": np.full(n, 113, dtype=np.int64),
    }
    add_edges(circuit, "src__net", "src", "net", src, tgt, edge_attrs)
    write_node_sets(
        circuit.node_sets_file,
        {
            "Net": {"population": "net"},
            "Src": {"population": "src"},
            "Src01": {"population": "src", "node_id": [0, 1]},
        },
    )
    circuit.spike_file = None
    write_configs(
        circuit, {"net": "point_neuron", "src": "virtual"}, {"src__net": "chemical"}, None,
        tstop=DELAY + DURATION + 10.0, dt=DT, replay_node_set="Net", seed=1,
    )  # fmt: skip
    return circuit


def set_poisson(circuit, node_set="Src", **extra):
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"] = {
        "drive": {
            "module": "poisson", "input_type": "spikes", "node_set": node_set,
            "rate": RATE, "weight": WEIGHT, "delay": DELAY, "duration": DURATION, **extra,
        }
    }  # fmt: skip
    config["run"]["stimulus_seed"] = 4
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    return circuit.simulation_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("poisson")
    circuit = poisson_circuit(root / "circuit")
    config = set_poisson(circuit)
    one = record(config, root / "one.npz")
    two = record(config, root / "two.npz", ranks=2)
    return circuit, one, two


def trains(data):
    return {int(k.split("__")[-1]): v for k, v in data.items() if k.startswith("drive__train__")}


def netcons(data):
    rows = [v for k, v in data.items() if k.startswith("drive__netcons__")]
    return np.concatenate(rows) if rows else np.zeros((0, 4))


def test_trains_have_the_requested_rate(runs):
    _, one, _ = runs
    generated = trains(one)
    assert sorted(generated) == [1000, 1001, 1002, 1003]  # src gids: offset 1000 after "net"
    counts = np.array([times.size for times in generated.values()])
    expected = RATE * DURATION / 1000.0
    assert abs(counts.sum() - 4 * expected) < 5 * math.sqrt(4 * expected)
    intervals = np.concatenate([np.diff(times) for times in generated.values()])
    n = intervals.size
    mean = 1000.0 / RATE
    assert abs(intervals.mean() - mean) < 5 * mean / math.sqrt(n)  # exponential: sd = mean
    assert abs(intervals.std() / intervals.mean() - 1.0) < 5 / math.sqrt(n)
    for times in generated.values():
        assert times.min() >= DELAY and times.max() < DELAY + DURATION
        assert np.all(np.diff(times) > 0)
    assert not np.array_equal(generated[1000][:10], generated[1001][:10])


def test_every_synapse_of_a_source_gets_its_train(runs):
    _, one, _ = runs
    rows = netcons(one)
    got = sorted((int(s) - 1000, int(t), d, w) for s, t, d, w in rows)
    assert got == sorted((s, t, d, WEIGHT) for s, t, d in EDGES)


def expected_spikes(generated, target):
    """IntFire1 with weight 1.5 fires on every event outside its refractory period."""
    arrivals = np.sort(
        np.concatenate([generated[1000 + s] + d for s, t, d in EDGES if t == target])
    )
    fired, last = [], -np.inf
    for a in arrivals:
        if a >= last + REFRACTORY:
            fired.append(a)
            last = a
    return np.array(fired)


def test_targets_fire_on_the_delivered_spikes(runs):
    _, one, _ = runs
    generated = trains(one)
    gids, times = one["spike_gids"], one["spike_times"]
    for target in range(3):
        got = np.sort(times[gids == target])
        want = expected_spikes(generated, target)
        assert got.size == want.size > 100
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


@pytest.mark.mpi
def test_two_ranks_generate_and_deliver_the_same(runs):
    _, one, two = runs
    a, b = trains(one), trains(two)
    assert sorted(a) == sorted(b)
    for gid in a:
        np.testing.assert_array_equal(a[gid], b[gid])
    np.testing.assert_array_equal(np.sort(netcons(one), axis=0), np.sort(netcons(two), axis=0))
    order_one = np.lexsort((one["spike_gids"], one["spike_times"]))
    order_two = np.lexsort((two["spike_gids"], two["spike_times"]))
    np.testing.assert_array_equal(one["spike_times"][order_one], two["spike_times"][order_two])


def test_a_node_subset_drives_only_its_own_synapses(runs, tmp_path):
    circuit, one, _ = runs
    config = set_poisson(circuit, node_set="Src01")
    data = record(config, tmp_path / "subset.npz", "--no-run")
    assert sorted(trains(data)) == [1000, 1001]
    got = sorted((int(s) - 1000, int(t)) for s, t, _, _ in netcons(data))
    assert got == [(0, 0), (0, 2), (1, 0)]
    for gid, times in trains(data).items():  # same block counter and seed: same trains
        np.testing.assert_array_equal(times, trains(one)[gid])
