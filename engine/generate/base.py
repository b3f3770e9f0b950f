"""Shared pieces of the circuit generators: the result record, file layout and writers.

Split from `engine.generate.networks` to keep files short; import from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.generate.templates import HH_CELSIUS, write_ball_and_stick_swc, write_template
from engine.io.sonata_writer import (
    write_circuit_config,
    write_edges,
    write_simulation_config,
)

MORPHOLOGY = "ball_stick"
MORPH_DIR, TEMPLATE_DIR = "morphologies", "templates"
NODES_FILE, EDGES_FILE, NODE_SETS_FILE = "nodes.h5", "edges.h5", "node_sets.json"
INPUT_SPIKES_FILE = "input_spikes.h5"

EXC_SYN_TYPE, INH_SYN_TYPE = 113, 13  # >= 100 excitatory (e = 0 mV), < 100 inhibitory


@dataclass
class GeneratedCircuit:
    """Where a generated circuit lives and what it contains (for tests and benchmarks)."""

    root: Path
    circuit_config: Path
    simulation_config: Path
    node_sets_file: Path
    # population name -> number of nodes
    populations: dict[str, int] = field(default_factory=dict)
    # edge population -> (source ids, target ids), in file order (sorted by target, source)
    edges: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # edge population -> attribute name -> values in file order
    edge_attributes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # virtual population -> (node ids, spike times in ms) replayed as input
    input_spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    spike_file: Path | None = None


def sort_edges(
    src: np.ndarray, tgt: np.ndarray, attrs: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Order edges by (target, source) exactly as `write_edges` stores them."""
    order = np.lexsort((src, tgt))
    return src[order], tgt[order], {k: np.asarray(v)[order] for k, v in attrs.items()}


def add_edges(
    circuit: GeneratedCircuit,
    name: str,
    source: str,
    target: str,
    src: np.ndarray,
    tgt: np.ndarray,
    attrs: dict[str, np.ndarray],
) -> None:
    src, tgt, attrs = sort_edges(src.astype(np.uint64), tgt.astype(np.uint64), attrs)
    write_edges(
        circuit.root / EDGES_FILE,
        name,
        source,
        target,
        src,
        tgt,
        attrs,
        n_source_nodes=circuit.populations[source],
        n_target_nodes=circuit.populations[target],
    )
    circuit.edges[name] = (src, tgt)
    circuit.edge_attributes[name] = attrs


def synapse_attrs(
    conductance_ns: np.ndarray,
    delay: np.ndarray,
    decay_time: np.ndarray,
    syn_type_id: np.ndarray,
    section_id: np.ndarray,
    section_pos: np.ndarray,
) -> dict[str, np.ndarray]:
    """Edge attributes in both conventions: `conductance` (nS, BBP) and `syn_weight` (uS)."""
    conductance_ns = np.asarray(conductance_ns, dtype=np.float64)
    return {
        "conductance": conductance_ns,
        "syn_weight": conductance_ns * 1e-3,
        "delay": np.asarray(delay, dtype=np.float64),
        "decay_time": np.asarray(decay_time, dtype=np.float64),
        "syn_type_id": np.asarray(syn_type_id, dtype=np.int64),
        "afferent_section_id": np.asarray(section_id, dtype=np.int64),
        "afferent_section_pos": np.asarray(section_pos, dtype=np.float64),
    }


def biophysical_nodes(n: int, template: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    x, y, z = rng.uniform(0.0, 200.0, size=(3, n))
    return {
        "model_type": np.full(n, "biophysical", dtype=object),
        "model_template": np.full(n, f"hoc:{template}", dtype=object),
        "morphology": np.full(n, MORPHOLOGY, dtype=object),
        "x": x,
        "y": y,
        "z": z,
    }


def virtual_nodes(n: int) -> dict[str, np.ndarray]:
    return {"model_type": np.full(n, "virtual", dtype=object)}


def write_cell_files(root: Path, template: str) -> dict[str, str]:
    write_ball_and_stick_swc(root / MORPH_DIR / f"{MORPHOLOGY}.swc")
    write_template(root / TEMPLATE_DIR / f"{template}.hoc", template)
    return {
        "morphologies_dir": str(root / MORPH_DIR),
        "biophysical_neuron_models_dir": str(root / TEMPLATE_DIR),
    }


def write_configs(
    circuit: GeneratedCircuit,
    node_types: dict[str, str],
    edge_types: dict[str, str],
    components: dict[str, str] | None,
    *,
    tstop: float,
    dt: float,
    replay_node_set: str,
    seed: int,
) -> None:
    """Circuit config, simulation config (replaying the input spike file) for `circuit`."""
    root = circuit.root
    inputs = {}
    if circuit.spike_file is not None:
        inputs["input_spikes"] = {
            "module": "synapse_replay",
            "input_type": "spikes",
            "delay": 0.0,
            "duration": tstop,
            "node_set": replay_node_set,
            "spike_file": str(circuit.spike_file),
        }
    write_circuit_config(
        circuit.circuit_config,
        nodes=[
            {
                "nodes_file": str(root / NODES_FILE),
                "populations": {p: {"type": t} for p, t in node_types.items()},
            }
        ],
        edges=[
            {
                "edges_file": str(root / EDGES_FILE),
                "populations": {p: {"type": t} for p, t in edge_types.items()},
            }
        ],
        components=components,
        node_sets_file=str(circuit.node_sets_file),
    )
    write_simulation_config(
        circuit.simulation_config,
        network=str(circuit.circuit_config),
        run={"tstop": tstop, "dt": dt, "random_seed": seed, "spike_threshold": -30.0},
        # The HH channels of our templates only spike at squid temperature.
        conditions={"celsius": HH_CELSIUS, "v_init": -65.0},
        output={"output_dir": str(root / "output"), "spikes_file": "spikes.h5"},
        inputs=inputs or None,
        node_sets_file=str(circuit.node_sets_file),
    )


def new_circuit(root: str | Path) -> GeneratedCircuit:
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    for name in (NODES_FILE, EDGES_FILE):  # files are appended to population by population
        (root / name).unlink(missing_ok=True)
    return GeneratedCircuit(
        root=root,
        circuit_config=root / "circuit_config.json",
        simulation_config=root / "simulation_config.json",
        node_sets_file=root / NODE_SETS_FILE,
        spike_file=root / INPUT_SPIKES_FILE,
    )


def poisson_spikes(
    n: int, rate_hz: float, tstop: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Independent Poisson trains for nodes 0..n-1 in [0, tstop) ms, sorted by time."""
    counts = rng.poisson(rate_hz * tstop / 1000.0, size=n)
    ids = np.repeat(np.arange(n, dtype=np.uint64), counts)
    times = np.floor(rng.uniform(0.0, tstop, size=ids.size) * 1000.0) / 1000.0  # 1 us grid
    order = np.lexsort((ids, times))
    return ids[order], times[order]
