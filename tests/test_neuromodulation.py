"""Neuromodulatory edges and the neuromodulation_* connection overrides.

The probe circuit (tests/test_overrides_support.py) gets a virtual population of two
modulators whose `neuromodulatory` edges point at places on the cells. The links are
worked out by hand below (closest synapse on the same section, |dx| < 0.05); the
concentration a linked synapse ends with is computed here from the replayed spike times;
and since a neuromodulatory event releases nothing, every soma voltage must equal that of
the run without the modulators' spikes, bit for bit, on 1 and on 2 ranks.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.generate.base import EDGES_FILE, NODES_FILE, add_edges, virtual_nodes
from engine.io.sonata_writer import write_nodes
from engine.io.spike_file import write_spike_file
from tests.conftest import REPO, run_cli, run_python
from tests.test_overrides_support import (
    AXON_TRUNK,
    DEND,
    SOMA,
    SYNAPSES,
    variant,
    write_probe_circuit,
)

DRIVER = REPO / "tests" / "drivers" / "neuromodulation_probe.py"
# (modulator, cell, section, position, strength uM, dtc ms, delay ms, SYNAPSES row or None)
MODULATORY = [
    (0, 1, DEND, 0.32, 0.5, 50.0, 2.0, 1),  # fibre 0's dendritic synapse at 0.3
    (0, 2, DEND, 0.52, 0.2, 75.0, 2.0, 8),  # cell 0's synapse at 0.5 (not fibre 1's at 0.7)
    (1, 2, DEND, 0.69, 0.3, 30.0, 1.0, 3),  # fibre 1's synapse at 0.7
    (1, 1, SOMA, 0.90, 0.4, 20.0, 1.0, None),  # the soma synapse at 0.5 is too far
    (1, 4, DEND, 0.50, 0.4, 20.0, 1.0, None),  # cell 4 has no synapse at all
    (0, 1, AXON_TRUNK, 0.5, 0.4, 20.0, 1.0, None),  # nothing on the axon
]
MODULATOR_SPIKES = {0: [50.0, 120.0], 1: [80.0, 90.0, 200.0]}
BOOST = 0.9  # connection override: neuromodulation_strength of modulator 1 onto cell 2
NC_NEUROMODULATOR, NC_TYPE_SLOT = 10.0, 3


def _add_modulators(circuit) -> None:
    root = circuit.root
    write_nodes(root / NODES_FILE, "modulators", virtual_nodes(2))
    circuit.populations["modulators"] = 2
    rows = MODULATORY
    attrs = {
        "afferent_section_id": np.array([r[2] for r in rows], dtype=np.int64),
        "afferent_section_pos": np.array([r[3] for r in rows], dtype=np.float64),
        "afferent_segment_id": np.zeros(len(rows), dtype=np.int64),
        "neuromod_strength": np.array([r[4] for r in rows], dtype=np.float32),
        "neuromod_dtc": np.array([r[5] for r in rows], dtype=np.float32),
        "delay": np.array([r[6] for r in rows], dtype=np.float32),
    }
    src, tgt = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    add_edges(circuit, "modulators__cells", "modulators", "cells", src, tgt, attrs)
    config = json.loads(circuit.circuit_config.read_text())
    config["networks"]["nodes"][0]["populations"]["modulators"] = {"type": "virtual"}
    edges = config["networks"]["edges"][0]
    assert edges["edges_file"].endswith(EDGES_FILE)
    edges["populations"]["modulators__cells"] = {"type": "neuromodulatory"}
    circuit.circuit_config.write_text(json.dumps(config, indent=1))
    sets = json.loads(circuit.node_sets_file.read_text())
    sets["Modulators"] = {"population": "modulators"}
    sets["Modulator1"] = {"population": "modulators", "node_id": [1]}
    circuit.node_sets_file.write_text(json.dumps(sets, indent=1))
    ids = np.concatenate([np.full(len(t), n) for n, t in MODULATOR_SPIKES.items()])
    times = np.concatenate([np.asarray(t) for t in MODULATOR_SPIKES.values()])
    order = np.lexsort((ids, times))
    write_spike_file(root / "modulators.h5", {"modulators": (ids[order], times[order])})


def _strength(row: tuple) -> float:
    """What the override makes of an edge's strength (modulator 1 onto cell 2: BOOST)."""
    return BOOST if (row[0], row[1]) == (1, 2) else float(np.float32(row[4]))


def _expected_concentration(events: list[tuple[float, float, float]]) -> float:
    """The running concentration after (time, strength, dtc) events, as documented."""
    concentration, tau, last = 0.0, 0.0, 0.0
    for time, strength, dtc in sorted(events):
        if tau > 0:
            concentration *= math.exp(-(time - last) / tau)
        concentration += strength
        tau, last = dtc, time
    return concentration


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("neuromodulation")
    circuit = write_probe_circuit(root / "circuit")
    _add_modulators(circuit)
    replay = {
        "module": "synapse_replay",
        "input_type": "spikes",
        "delay": 0.0,
        "duration": 300.0,
        "node_set": "Cells",
        "spike_file": str(circuit.root / "modulators.h5"),
    }
    boost = {
        "name": "boost",
        "source": "Modulator1",
        "target": "Cell2",
        "neuromodulation_strength": BOOST,
    }
    configs = {
        "on": variant(circuit, "on", inputs={"modulation": replay}, connection_overrides=[boost]),
        "off": variant(circuit, "off", connection_overrides=[boost]),
    }
    results, logs = {}, {}
    for name, ranks in (("on", 1), ("off", 1), ("on", 2)):
        out = root / f"{name}_{ranks}.json"
        logs[name, ranks] = run_python(DRIVER, configs[name], out, ranks=ranks)
        results[name, ranks] = json.loads(out.read_text())
    return circuit, results, logs


def _synapse_of_row(result: dict, row: int) -> str:
    source, src, tgt, section, pos = SYNAPSES[row][:5]
    found = [
        e["synapse"]
        for e in result["chemical"]
        if (e["source"], e["source_id"], e["node_id"], e["section"]) == (source, src, tgt, section)
        and abs(e["pos"] - pos) < 1e-12
    ]
    assert len(found) == 1
    return found[0]


def _linked(result: dict, row: tuple) -> str | None:
    """The synapse the engine linked the MODULATORY row to."""
    found = [
        m["synapse"]
        for m in result["modulated"]
        if (m["source_id"], m["node_id"], m["section"]) == row[:3]
        and abs(m["pos"] - row[3]) < 1e-12
    ]
    assert len(found) == 1, row
    return found[0]


def test_each_edge_links_to_the_closest_synapse_with_neurodamus_weights(runs):
    _, results, logs = runs
    result = results["on", 1]
    assert len(result["modulated"]) == len(MODULATORY)
    for row in MODULATORY:
        expected = None if row[7] is None else _synapse_of_row(result, row[7])
        synapse = _linked(result, row)
        assert synapse == expected, row
        if synapse is None:
            continue
        events = [nc for nc in result["netcons"][synapse] if nc["weights"][NC_TYPE_SLOT] > 9]
        assert len(events) == 1
        weights = events[0]["weights"]
        assert weights[:4] == [1.0, pytest.approx(_strength(row), rel=1e-7), row[5], 10.0]
        assert events[0]["delay"] == row[6]
    for ranks in (1, 2):
        assert "3 of 6 edge(s) of the simulated cells have no synapse within 0.05" in (
            logs["on", ranks].stdout + logs["on", ranks].stderr
        )


def test_concentrations_follow_the_replayed_events(runs):
    _, results, _ = runs
    result = results["on", 1]
    expected: dict[str, list] = {}
    for row in MODULATORY:
        if row[7] is None:
            continue
        synapse = _synapse_of_row(result, row[7])
        for time in MODULATOR_SPIKES[row[0]]:
            expected.setdefault(synapse, []).append((time + row[6], _strength(row), row[5]))
    assert len(expected) == 3
    for synapse, concentration in result["concentrations"].items():
        want = _expected_concentration(expected.get(synapse, []))
        assert concentration == pytest.approx(want, rel=1e-12, abs=0.0), synapse
    assert all(result["concentrations"][s] > 0 for s in expected)
    off = results["off", 1]
    assert all(c == 0.0 for c in off["concentrations"].values())


def test_events_release_nothing_on_one_and_two_ranks(runs):
    _, results, _ = runs
    on, off, on2 = results["on", 1], results["off", 1], results["on", 2]
    assert on["voltages"].keys() == off["voltages"].keys()
    for key in on["voltages"]:
        assert on["voltages"][key] == off["voltages"][key], key
        assert on2["voltages"][key] == on["voltages"][key], key
    assert sorted(on["spikes"]) == sorted(off["spikes"]) == sorted(on2["spikes"])
    assert len(on["spikes"]) > 0  # the HH cells fire, so the runs are live
    assert on2["concentrations"] == on["concentrations"]


def test_a_synapse_without_the_weight_layout_is_refused(tmp_path, mechanisms_built):
    circuit = write_probe_circuit(tmp_path / "circuit")
    _add_modulators(circuit)
    override = {"name": "linear", "source": "Fibres", "target": "Cells", "modoverride": "Exp2Syn"}
    config = variant(circuit, "linear", connection_overrides=[override])
    result = run_cli("run", config, check=False)
    assert result.returncode != 0
    assert "neuromodulatory edges end on Exp2Syn synapses" in result.stderr
    assert "modulators__cells" in result.stderr
    assert "Traceback" not in result.stderr
