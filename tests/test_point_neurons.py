"""NEURON's IntFire2 and IntFire4 as SONATA point neurons, against hand-written plain NEURON.

* SONATA dialect: one `point_neuron` population mixing `nrn:IntFire2` and `nrn:IntFire4`
  cells whose parameters are `@dynamics:` attributes (NaN where a cell kind lacks one),
  driven by replayed virtual fibres and recurrent excitatory and inhibitory edges.
* Allen dialect: bmtk's IntFire1 point network (engine.generate.allen_point) with
  node types added that name `nrn:IntFire2` / `nrn:IntFire4` and a dynamics_params json.

The engine's cells must carry exactly those parameters, and the spikes must equal those of
a plain-NEURON build of the same cells (tests/drivers/plain_intfire.py, and
tests/reference/plain_allen.py `point`).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from engine.generate.allen import EXC_TYPE
from engine.generate.allen_point import generate_allen_point_network
from engine.generate.base import NODES_FILE, add_edges, new_circuit, virtual_nodes
from engine.io.sonata_writer import write_json, write_nodes
from engine.io.spike_file import write_spike_file
from engine.io.types_csv import write_types_csv
from tests.conftest import REPO, run_cli, run_python
from tests.test_bbp_support import _write_configs

RECORD = REPO / "tests" / "drivers" / "point_neuron_record.py"
PLAIN = REPO / "tests" / "drivers" / "plain_intfire.py"
PLAIN_ALLEN = REPO / "tests" / "reference" / "plain_allen.py"
NAN = float("nan")
KINDS = ["IntFire2"] * 3 + ["IntFire4"] * 3
# per node; NaN: the kind has no such parameter (NEURON defaults differ from all of these:
# IntFire2 taum 10, taus 20, ib 0; IntFire4 taue 5, taui1 10, taui2 20, taum 50)
DYNAMICS = {
    "taum": [8.0, 12.0, 15.0, 15.0, 25.0, 30.0],
    "taus": [25.0, 30.0, 40.0, NAN, NAN, NAN],
    "ib": [1.3, 0.9, 0.4, NAN, NAN, NAN],
    "taue": [NAN, NAN, NAN, 2.0, 3.0, 1.5],
    "taui1": [NAN, NAN, NAN, 4.0, 6.0, 7.0],
    "taui2": [NAN, NAN, NAN, 8.0, 12.0, 9.0],
}
OWN = {"IntFire2": ("taum", "taus", "ib"), "IntFire4": ("taue", "taui1", "taui2", "taum")}
RUN = {"tstop": 300.0, "dt": 0.025, "random_seed": 1}


def write_point_circuit(root):
    rng = np.random.default_rng(11)
    circuit = new_circuit(root)
    n, n_fibres = len(KINDS), 3
    circuit.populations = {"net": n, "src": n_fibres}
    attrs = {
        "model_type": np.full(n, "point_neuron", dtype=object),
        "model_template": np.array([f"nrn:{k}" for k in KINDS], dtype=object),
    }
    dynamics = {name: np.array(values) for name, values in DYNAMICS.items()}
    write_nodes(circuit.root / NODES_FILE, "net", attrs, dynamics=dynamics)
    write_nodes(circuit.root / NODES_FILE, "src", virtual_nodes(n_fibres))
    # every fibre onto every cell; IntFire4 needs a larger kick than IntFire2's current
    src = np.repeat(np.arange(n_fibres), n)
    tgt = np.tile(np.arange(n), n_fibres)
    weight = np.where(np.array(KINDS)[tgt] == "IntFire2", 0.15, 0.6)
    delay = np.round(rng.uniform(0.5, 3.0, src.size), 3)
    add_edges(circuit, "src__net", "src", "net", src, tgt, {"syn_weight": weight, "delay": delay})
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and rng.random() < 0.5]
    rs, rt = (np.array(c) for c in zip(*pairs, strict=True))
    rw = np.where(np.isin(rs, [2, 5]), -0.5, 0.2)  # cells 2 and 5 inhibit
    rd = np.round(rng.uniform(1.0, 4.0, rs.size), 3)
    add_edges(circuit, "net__net", "net", "net", rs, rt, {"syn_weight": rw, "delay": rd})
    counts = rng.poisson(25.0 * RUN["tstop"] / 1000.0, n_fibres)
    ids = np.repeat(np.arange(n_fibres), counts).astype(np.uint64)
    times = np.round(rng.uniform(1.0, RUN["tstop"] - 5.0, ids.size), 3)
    circuit.input_spikes = {"src": (ids, times)}
    write_spike_file(circuit.spike_file, circuit.input_spikes)
    _write_configs(
        circuit,
        {"net": "point_neuron", "src": "virtual"},
        {"src__net": "chemical", "net__net": "chemical"},
        {},
        "Net",  # synapse_replay onto the edges targeting these cells
        {"v_init": -65.0},
        RUN,
    )
    return circuit


def plain_spec(circuit) -> dict:
    """The same network for tests/drivers/plain_intfire.py, from the arrays written above."""
    cells = []
    for i, kind in enumerate(KINDS):
        cells.append({"class": kind, "params": {p: DYNAMICS[p][i] for p in OWN[kind]}})
    edges = []
    ids, times = circuit.input_spikes["src"]
    src, tgt = circuit.edges["src__net"]
    a = circuit.edge_attributes["src__net"]
    for s, t, w, d in zip(src, tgt, a["syn_weight"], a["delay"], strict=True):
        edges.append([{"input": times[ids == s].tolist()}, int(t), float(w), float(d)])
    src, tgt = circuit.edges["net__net"]
    a = circuit.edge_attributes["net__net"]
    for s, t, w, d in zip(src, tgt, a["syn_weight"], a["delay"], strict=True):
        edges.append([int(s), int(t), float(w), float(d)])
    return {"dt": RUN["dt"], "tstop": RUN["tstop"], "cells": cells, "edges": edges}


def _by_time(gids, times):
    gids, times = np.asarray(gids, np.int64), np.asarray(times, np.float64)
    order = np.lexsort((gids, times))
    return gids[order], times[order]


@pytest.fixture(scope="module")
def sonata_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("point_neurons")
    circuit = write_point_circuit(root / "circuit")
    run_python(RECORD, circuit.simulation_config, root / "engine.json", "net")
    spec = root / "plain_spec.json"
    spec.write_text(json.dumps(plain_spec(circuit)))
    run_python(PLAIN, spec, root / "plain.json")
    engine = json.loads((root / "engine.json").read_text())
    plain = json.loads((root / "plain.json").read_text())
    return circuit, root, engine, plain


def test_intfire2_and_intfire4_get_their_dynamics_attributes(sonata_run):
    _, _, engine, _ = sonata_run
    cells = engine["cells"]
    assert sorted(int(k) for k in cells) == list(range(len(KINDS)))
    for node, kind in enumerate(KINDS):
        cell = cells[str(node)]
        assert cell["class"] == kind
        assert cell["gid"] == node + engine["offset"]
        for name in OWN[kind]:
            assert cell["params"][name] == DYNAMICS[name][node], (node, name)
        # parameters of the other kind are not on this cell (nor NaN anywhere)
        assert set(cell["params"]) == set(OWN[kind])


def test_intfire2_and_intfire4_spike_as_plain_neuron(sonata_run):
    _, root, engine, plain = sonata_run
    offset = engine["offset"]
    gids, times = _by_time(engine["spike_gids"], engine["spike_times"])
    plain_gids, plain_times = _by_time(plain["gids"], plain["times"])
    assert set((gids - offset).tolist()) == set(range(len(KINDS))), "every cell should fire"
    assert gids.size > 30
    np.testing.assert_array_equal(gids - offset, plain_gids)
    np.testing.assert_array_equal(times, plain_times)
    # and the spike file says the same
    with h5py.File(root / "output_engine" / "spikes.h5") as f:
        ids = f["spikes/net/node_ids"][...]
        stamps = f["spikes/net/timestamps"][...]
    for a, b in zip(_by_time(ids, stamps), (plain_gids, plain_times), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- Allen dialect

ALLEN_TYPES = {  # node_type_id -> (template, json name, json contents)
    EXC_TYPE: ("nrn:IntFire1", "IntFire1_exc.json", None),  # the generator's (seconds)
    EXC_TYPE + 10: ("nrn:IntFire2", "IntFire2_cell.json", {"taum": 9.0, "taus": 35.0, "ib": 1.1}),
    EXC_TYPE + 20: (
        "nrn:IntFire4",
        "IntFire4_cell.json",
        {"taue": 2.5, "taui1": 5.0, "taui2": 11.0, "taum": 22.0, "type": "NEURON_IntFire4"},
    ),
}


def allen_point_network(root):
    """bmtk's IntFire1 network with cells 2, 5 IntFire2 and 3, 6, 7 IntFire4 (json ms)."""
    circuit = generate_allen_point_network(root, inhibitory=True)
    net, comp = circuit.root / "network", circuit.root / "components"
    rows = []
    for type_id, (template, name, contents) in ALLEN_TYPES.items():
        if contents is not None:
            write_json(comp / "point_neuron_models" / name, contents)
        rows.append(
            {
                "node_type_id": type_id,
                "pop_name": template.split(":")[1],
                "ei": "e",
                "model_type": "point_process",
                "model_template": template,
                "dynamics_params": name,
            }
        )
    write_types_csv(net / "cortex_node_types.csv", "node_type_id", rows)
    n = circuit.populations["cortex"]
    type_ids = np.full(n, EXC_TYPE)
    type_ids[[2, 5]] = EXC_TYPE + 10
    type_ids[[3, 6, 7]] = EXC_TYPE + 20
    write_nodes(net / "cortex_nodes.h5", "cortex", {}, node_type_id=type_ids, mode="w")
    return circuit, type_ids


def test_allen_intfire2_and_intfire4_from_dynamics_params_json(tmp_path):
    circuit, type_ids = allen_point_network(tmp_path / "net")
    run_python(RECORD, circuit.simulation_config, tmp_path / "engine.json", "cortex")
    engine = json.loads((tmp_path / "engine.json").read_text())
    for node, type_id in enumerate(type_ids):
        template, _, contents = ALLEN_TYPES[int(type_id)]
        cell = engine["cells"][str(node)]
        assert cell["class"] == template.split(":")[1]
        if contents is None:  # IntFire1: bmtk's json seconds become ms
            assert cell["params"] == {"tau": pytest.approx(24.0), "refrac": pytest.approx(3.0)}
        else:  # the json numbers the cell has, as given
            assert cell["params"] == {k: v for k, v in contents.items() if k != "type"}
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "out")
    with h5py.File(tmp_path / "out" / "spikes.h5") as f:
        ids, times = _by_time(f["spikes/cortex/node_ids"][...], f["spikes/cortex/timestamps"][...])
    run_python(PLAIN_ALLEN, "point", circuit.root, tmp_path / "plain.npz")
    plain = np.load(tmp_path / "plain.npz")
    plain_ids, plain_times = _by_time(plain["gids"], plain["times"])
    fired = set(ids.tolist())
    assert {2, 5} & fired and {3, 6, 7} & fired, "IntFire2 and IntFire4 cells should fire"
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_array_equal(times, plain_times)
