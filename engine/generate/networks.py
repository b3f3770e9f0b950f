"""Small SONATA circuit generators: complete, runnable circuit directories from our own data.

Used by tests, benchmarks and the example configs shipped in `configs/`. Every generated
directory holds only relative paths, so it can be moved. Run
`python -m engine.generate.networks example configs/example` to rewrite the shipped examples.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from engine.generate.base import (
    EXC_SYN_TYPE,
    INH_SYN_TYPE,
    NODES_FILE,
    GeneratedCircuit,
    add_edges,
    biophysical_nodes,
    new_circuit,
    poisson_spikes,
    synapse_attrs,
    virtual_nodes,
    write_cell_files,
    write_configs,
)
from engine.generate.templates import write_ball_and_stick_swc, write_template
from engine.io.sonata_writer import write_json, write_node_sets, write_nodes
from engine.io.spike_file import write_spike_file

__all__ = [
    "GeneratedCircuit",
    "generate_ei_network",
    "generate_point_network",
    "generate_ring",
    "poisson_spikes",
    "write_ball_and_stick_swc",
    "write_examples",
    "write_template",
]

# Ring: 10 nS at the soma fires the HH ball-and-stick once, ~1 ms after the event (the
# threshold is ~2 nS with Exp2Syn tau1=0.2, tau2=2 ms, e=0 mV at 6.3 degC).
RING_CONDUCTANCE_NS = 10.0
# IntFire1 fires at once when its state m exceeds 1, so any weight > 1 fires per event.
RING_POINT_WEIGHT = 1.5


def generate_ring(
    root: str | Path,
    n_cells: int = 5,
    *,
    cell_kind: str = "biophysical",
    delay: float = 5.0,
    weight: float | None = None,
    with_virtual_input: bool = True,
    tstop: float = 100.0,
    dt: float = 0.025,
) -> GeneratedCircuit:
    """A ring: cell i excites cell (i+1) % n; a virtual "input" node starts it at 5 ms.

    `weight` is the conductance in nS for biophysical cells, the IntFire1 weight for
    "point" cells; the defaults make each cell fire once per incoming spike.
    """
    if cell_kind not in ("biophysical", "point"):
        raise ValueError(f"cell_kind must be 'biophysical' or 'point', not {cell_kind!r}")
    circuit = new_circuit(root)
    rng = np.random.default_rng(0)
    circuit.populations = {"ring": n_cells}
    if cell_kind == "biophysical":
        conductance = RING_CONDUCTANCE_NS if weight is None else float(weight)
        components = write_cell_files(circuit.root, "RingCell")
        write_nodes(circuit.root / NODES_FILE, "ring", biophysical_nodes(n_cells, "RingCell", rng))
        node_types = {"ring": "biophysical"}
    else:
        conductance = 1e3 * (RING_POINT_WEIGHT if weight is None else float(weight))
        components = None
        x, y, z = rng.uniform(0.0, 200.0, size=(3, n_cells))
        attrs = {
            "model_type": np.full(n_cells, "point_neuron", dtype=object),
            "model_template": np.full(n_cells, "nrn:IntFire1", dtype=object),
            "x": x,
            "y": y,
            "z": z,
        }
        dynamics = {"tau": np.full(n_cells, 10.0), "refrac": np.full(n_cells, 2.0)}
        write_nodes(circuit.root / NODES_FILE, "ring", attrs, dynamics=dynamics)
        node_types = {"ring": "point_neuron"}

    def ring_attrs(n: int) -> dict[str, np.ndarray]:
        return synapse_attrs(
            np.full(n, conductance), np.full(n, delay), np.full(n, 2.0),
            np.full(n, EXC_SYN_TYPE), np.zeros(n), np.full(n, 0.5),
        )  # fmt: skip

    ids = np.arange(n_cells)
    add_edges(circuit, "ring__ring", "ring", "ring", ids, (ids + 1) % n_cells, ring_attrs(n_cells))
    edge_types = {"ring__ring": "chemical"}
    node_sets: dict = {"Ring": {"population": "ring"}}
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if with_virtual_input:
        circuit.populations["input"] = 1
        write_nodes(circuit.root / NODES_FILE, "input", virtual_nodes(1))
        node_types["input"] = "virtual"
        add_edges(circuit, "input__ring", "input", "ring", np.zeros(1), np.zeros(1), ring_attrs(1))
        edge_types["input__ring"] = "chemical"
        node_sets["Input"] = {"population": "input"}
        spikes["input"] = (np.zeros(1, np.uint64), np.array([5.0]))
    node_sets["All"] = {"population": sorted(circuit.populations)}
    write_node_sets(circuit.node_sets_file, node_sets)
    circuit.input_spikes = spikes
    if spikes:
        write_spike_file(circuit.spike_file, spikes)
    else:
        circuit.spike_file.unlink(missing_ok=True)
        circuit.spike_file = None
    write_configs(
        circuit, node_types, edge_types, components,
        tstop=tstop, dt=dt, replay_node_set="Ring", seed=1,
    )  # fmt: skip
    return circuit


# E/I network weights (nS). Tuned by emulating the engine in plain NEURON (Exp2Syn tau1=0.2,
# tau2=decay_time, e=0 / -80 mV by syn_type_id, weight=conductance*1e-3 uS, 6.3 degC) on the
# default 40/10/20 network at 20 Hz input: E and I fire 3-6 Hz over seeds 1-4. The cells are
# small (threshold ~2 nS at the soma), so rates are steep in these values: at thalamic 0.6 nS
# the network is nearly silent, at 1.2 nS with 1 nS recurrent E it fires > 20 Hz.
EI_THALAMIC_INDEGREE = 4  # thalamic fibres onto each cortical cell
EI_G_THALAMIC = 0.7  # one thalamic EPSP is well below threshold
EI_G_EXC = 0.5
EI_G_INH = 8.0  # at e = -80 mV (syn_type_id < 100)
EI_DECAY_EXC, EI_DECAY_INH = 2.0, 8.0


def _random_locations(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Soma (id 0, pos 0.5) or a random point on the dendrite (id 1)."""
    section = rng.integers(0, 2, size=n)
    pos = np.where(section == 0, 0.5, np.round(rng.uniform(0.05, 0.95, size=n), 3))
    return section, pos


def generate_ei_network(
    root: str | Path,
    n_exc: int = 40,
    n_inh: int = 10,
    n_virtual: int = 20,
    *,
    seed: int = 1,
    p_connect: float = 0.1,
    tstop: float = 500.0,
    input_rate_hz: float = 20.0,
) -> GeneratedCircuit:
    """A small E/I network of HH ball-and-stick cells driven by Poisson "thalamus" fibres."""
    rng = np.random.default_rng(seed)
    circuit = new_circuit(root)
    n = n_exc + n_inh
    circuit.populations = {"cortex": n, "thalamus": n_virtual}
    components = write_cell_files(circuit.root, "BallStickHH")
    attrs = biophysical_nodes(n, "BallStickHH", rng)
    attrs["mtype"] = np.array(["EXC"] * n_exc + ["INH"] * n_inh, dtype=object)
    attrs["etype"] = np.full(n, "hh", dtype=object)
    write_nodes(circuit.root / NODES_FILE, "cortex", attrs)
    # An mtype on the virtual nodes too: libsonata raises when a node set tests an attribute
    # that a population lacks, even if the node set names another population.
    thalamus = virtual_nodes(n_virtual) | {"mtype": np.full(n_virtual, "TC", dtype=object)}
    write_nodes(circuit.root / NODES_FILE, "thalamus", thalamus)

    # Recurrent: every ordered pair (no autapses) with probability p_connect.
    pre, post = np.nonzero(rng.random((n, n)) < p_connect)
    keep = pre != post
    pre, post = pre[keep], post[keep]
    inh = pre >= n_exc
    section, pos = _random_locations(pre.size, rng)
    add_edges(
        circuit, "cortex__cortex", "cortex", "cortex", pre, post,
        synapse_attrs(
            np.where(inh, EI_G_INH, EI_G_EXC),
            np.round(rng.uniform(1.0, 3.0, size=pre.size), 3),
            np.where(inh, EI_DECAY_INH, EI_DECAY_EXC),
            np.where(inh, INH_SYN_TYPE, EXC_SYN_TYPE),
            section, pos,
        ),
    )  # fmt: skip

    # Thalamus: each cortical cell gets EI_THALAMIC_INDEGREE distinct random fibres.
    indegree = min(EI_THALAMIC_INDEGREE, n_virtual)
    src = np.concatenate([rng.choice(n_virtual, indegree, replace=False) for _ in range(n)])
    tgt = np.repeat(np.arange(n), indegree)
    section, pos = _random_locations(src.size, rng)
    add_edges(
        circuit, "thalamus__cortex", "thalamus", "cortex", src, tgt,
        synapse_attrs(
            np.full(src.size, EI_G_THALAMIC), np.full(src.size, 2.0),
            np.full(src.size, EI_DECAY_EXC), np.full(src.size, EXC_SYN_TYPE), section, pos,
        ),
    )  # fmt: skip

    write_node_sets(
        circuit.node_sets_file,
        {
            "Excitatory": {"population": "cortex", "mtype": "EXC"},
            "Inhibitory": {"population": "cortex", "mtype": "INH"},
            "Cortex": {"population": "cortex"},
            "Thalamus": {"population": "thalamus"},
            "All": ["Cortex", "Thalamus"],
        },
    )
    circuit.input_spikes = {"thalamus": poisson_spikes(n_virtual, input_rate_hz, tstop, rng)}
    write_spike_file(circuit.spike_file, circuit.input_spikes)
    write_configs(
        circuit, {"cortex": "biophysical", "thalamus": "virtual"},
        {"cortex__cortex": "chemical", "thalamus__cortex": "chemical"}, components,
        tstop=tstop, dt=0.025, replay_node_set="Cortex", seed=seed,
    )  # fmt: skip
    return circuit


# IntFire1 weights of the benchmark network (a cell fires when its state m exceeds 1).
# With the defaults (10 Hz input, tau 10 ms) the network fires ~8 Hz (plain-NEURON check).
POINT_W_INPUT, POINT_W_EXC, POINT_W_INH = 0.2, 0.05, -0.3


def generate_point_network(
    root: str | Path,
    n_cells: int = 2000,
    n_virtual: int = 500,
    n_edges_virtual: int = 50_000,
    n_edges_recurrent: int = 150_000,
    *,
    seed: int = 0,
    tstop: float = 1000.0,
    input_rate_hz: float = 10.0,
    inhibitory_fraction: float = 0.2,
) -> GeneratedCircuit:
    """IntFire1 point neurons with random input and recurrent edges, for benchmarks.

    `syn_weight` is the signed IntFire1 weight: negative from inhibitory cells (the first
    `inhibitory_fraction` of ids), whose edges also get syn_type_id < 100.
    """
    rng = np.random.default_rng(seed)
    circuit = new_circuit(root)
    circuit.populations = {"net": n_cells, "input": n_virtual}
    x, y, z = rng.uniform(0.0, 1000.0, size=(3, n_cells))
    n_inh = int(round(inhibitory_fraction * n_cells))
    attrs = {
        "model_type": np.full(n_cells, "point_neuron", dtype=object),
        "model_template": np.full(n_cells, "nrn:IntFire1", dtype=object),
        "mtype": np.where(np.arange(n_cells) < n_inh, "INH", "EXC").astype(object),
        "x": x,
        "y": y,
        "z": z,
    }
    dynamics = {"tau": np.full(n_cells, 10.0), "refrac": np.full(n_cells, 2.0)}
    write_nodes(circuit.root / NODES_FILE, "net", attrs, dynamics=dynamics)
    write_nodes(circuit.root / NODES_FILE, "input", virtual_nodes(n_virtual))

    def point_attrs(weight: np.ndarray, inh: np.ndarray) -> dict[str, np.ndarray]:
        m = weight.size
        return {
            "syn_weight": weight,
            "conductance": weight * 1e3,
            "delay": np.round(rng.uniform(1.0, 5.0, size=m), 3),
            "syn_type_id": np.where(inh, INH_SYN_TYPE, EXC_SYN_TYPE).astype(np.int64),
        }

    src = rng.integers(0, n_virtual, size=n_edges_virtual)
    tgt = rng.integers(0, n_cells, size=n_edges_virtual)
    no_inh = np.zeros(src.size, bool)
    add_edges(
        circuit,
        "input__net",
        "input",
        "net",
        src,
        tgt,
        point_attrs(np.full(src.size, POINT_W_INPUT), no_inh),
    )
    src = rng.integers(0, n_cells, size=n_edges_recurrent)
    tgt = rng.integers(0, n_cells, size=n_edges_recurrent)
    inh = src < n_inh
    weights = np.where(inh, POINT_W_INH, POINT_W_EXC)
    add_edges(circuit, "net__net", "net", "net", src, tgt, point_attrs(weights, inh))

    write_node_sets(
        circuit.node_sets_file,
        {"Net": {"population": "net"}, "Input": {"population": "input"}, "All": ["Net", "Input"]},
    )
    circuit.input_spikes = {"input": poisson_spikes(n_virtual, input_rate_hz, tstop, rng)}
    write_spike_file(circuit.spike_file, circuit.input_spikes)
    write_configs(
        circuit, {"net": "point_neuron", "input": "virtual"},
        {"input__net": "chemical", "net__net": "chemical"}, None,
        tstop=tstop, dt=0.025, replay_node_set="Net", seed=seed,
    )  # fmt: skip
    return circuit


def write_examples(example_root: str | Path) -> list[GeneratedCircuit]:
    """Write the shipped examples: the E/I network into `example_root`, the ring beside it."""
    example_root = Path(example_root)
    example = generate_ei_network(example_root)
    _add_soma_report(example.simulation_config, node_set="Cortex", dt=0.1)
    return [example, generate_ring(example_root.parent / "ring")]


def _add_soma_report(simulation_config: Path, node_set: str, dt: float) -> None:
    """Record soma voltages in the shipped example, so `make run` shows a report too."""
    config = json.loads(simulation_config.read_text())
    tstop = config["run"]["tstop"]
    config["reports"] = {
        "soma_voltage": {
            "cells": node_set,
            "type": "compartment",
            "variable_name": "v",
            "sections": "soma",
            "unit": "mV",
            "dt": dt,
            "start_time": 0.0,
            "end_time": tstop,
        }
    }
    write_json(simulation_config, config)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "example":
        sys.exit("usage: python -m engine.generate.networks example configs/example")
    for generated in write_examples(sys.argv[2]):
        print(f"wrote {generated.simulation_config}")
