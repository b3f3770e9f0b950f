"""A heterogeneous circuit for load-balance tests and benchmarks: cells of 2 to 500
compartments in two populations, driven by virtual inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.generate.base import (
    EXC_SYN_TYPE,
    MORPH_DIR,
    NODES_FILE,
    TEMPLATE_DIR,
    GeneratedCircuit,
    add_edges,
    biophysical_nodes,
    new_circuit,
    poisson_spikes,
    synapse_attrs,
    virtual_nodes,
    write_configs,
)
from engine.generate.templates import write_ball_and_stick_swc, write_template
from engine.io.sonata_writer import write_node_sets, write_nodes
from engine.io.spike_file import write_spike_file

TEMPLATE = "HetCell"
SIZES = 25  # distinct morphologies, dendrites of 1 to 499 segments (log-spaced)


def dendrite_segments(count: int = SIZES, largest: int = 499) -> list[int]:
    """Odd segment counts 1..largest, log-spaced (nseg = 1 + 2*int(L/40) is always odd)."""
    raw = np.geomspace(1, largest, count)
    return sorted({int(2 * (v // 2) + 1) for v in raw} | {1, largest})


def generate_heterogeneous(
    root: str | Path,
    n_cells: int = 96,
    n_virtual: int = 32,
    *,
    seed: int = 7,
    tstop: float = 200.0,
    input_rate_hz: float = 40.0,
    indegree: int = 6,
) -> GeneratedCircuit:
    """Two biophysical populations ("big": 1/4 of the cells, "small") of ball-and-stick cells
    of 2 to 500 compartments (soma + one dendrite), random sizes and ids, driven by
    virtual inputs onto the soma and with a few recurrent synapses."""
    rng = np.random.default_rng(seed)
    circuit = new_circuit(root)
    segments = dendrite_segments()
    for k in segments:
        # int(L/40) = (k-1)/2 exactly: the dendrite gets k segments by the template rule.
        length = 40.0 * (k - 1) / 2 + 20.0
        points = min(max(2, k + 1), 101)
        write_ball_and_stick_swc(
            circuit.root / MORPH_DIR / f"het_{k}.swc", dend_length=length, n_dend_points=points
        )
    write_template(circuit.root / TEMPLATE_DIR / f"{TEMPLATE}.hoc", TEMPLATE)
    components = {
        "morphologies_dir": str(circuit.root / MORPH_DIR),
        "biophysical_neuron_models_dir": str(circuit.root / TEMPLATE_DIR),
    }
    n_big = n_cells // 4
    sizes = {"big": n_big, "small": n_cells - n_big}
    circuit.populations = {**sizes, "input": n_virtual}
    half = len(segments) // 2
    for population, n in sizes.items():
        attrs = biophysical_nodes(n, TEMPLATE, rng)
        choices = segments[half:] if population == "big" else segments[: half + 1]
        attrs["morphology"] = np.array(
            [f"het_{k}" for k in rng.choice(choices, size=n)], dtype=object
        )
        attrs["mtype"] = np.full(n, population.upper(), dtype=object)
        write_nodes(circuit.root / NODES_FILE, population, attrs)
    write_nodes(circuit.root / NODES_FILE, "input", virtual_nodes(n_virtual))

    edge_types = {}
    for population, n in sizes.items():
        src = np.concatenate([rng.choice(n_virtual, indegree, replace=False) for _ in range(n)])
        tgt = np.repeat(np.arange(n), indegree)
        m = src.size
        attrs = synapse_attrs(
            np.full(m, 1.5), np.full(m, 1.0), np.full(m, 2.0), np.full(m, EXC_SYN_TYPE),
            np.zeros(m), np.full(m, 0.5),
        )  # fmt: skip
        add_edges(circuit, f"input__{population}", "input", population, src, tgt, attrs)
        edge_types[f"input__{population}"] = "chemical"
    # Recurrent: small -> big onto the dendrite, random positions.
    m = 4 * n_big
    src, tgt = rng.integers(0, sizes["small"], m), rng.integers(0, n_big, m)
    attrs = synapse_attrs(
        np.full(m, 0.5), np.round(rng.uniform(1.0, 4.0, m), 3), np.full(m, 2.0),
        np.full(m, EXC_SYN_TYPE), np.ones(m), np.round(rng.uniform(0.05, 0.95, m), 3),
    )  # fmt: skip
    add_edges(circuit, "small__big", "small", "big", src, tgt, attrs)
    edge_types["small__big"] = "chemical"

    write_node_sets(
        circuit.node_sets_file,
        {
            "Big": {"population": "big"},
            "Small": {"population": "small"},
            "Cells": ["Big", "Small"],
            "Input": {"population": "input"},
        },
    )
    circuit.input_spikes = {"input": poisson_spikes(n_virtual, input_rate_hz, tstop, rng)}
    write_spike_file(circuit.spike_file, circuit.input_spikes)
    node_types = {"big": "biophysical", "small": "biophysical", "input": "virtual"}
    write_configs(
        circuit, node_types, edge_types, components,
        tstop=tstop, dt=0.025, replay_node_set="Cells", seed=seed,
    )  # fmt: skip
    return circuit
