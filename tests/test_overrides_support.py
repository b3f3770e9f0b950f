"""Test data for the experimental-conditions tests (no tests here).

`write_probe_circuit` writes a small circuit whose every pathway can be told apart:

* cells 0 and 3: Hodgkin-Huxley soma and axon, each driven to spike by its own fibre;
* cells 1, 2, 4: passive. Cell 1 hears only fibre 0 (two synapses), cell 2 fibre 1, cell 0
  (excitatory) and cell 3 (inhibitory); cell 4 has no synapse at all;
* every cell: soma, a 200 um dendrite (section 1), an axon trunk (2) with two branches (3, 4),
  so `spike_location: AIS` (axon[1]) exists;
* BBP edge attributes, so the synapses are SonataProbAMPANMDA / SonataProbGABAAB; with the
  default u_syn 1 and depression_time 0 every spike releases exactly one vesicle.
The templates define `re_init_rng(seed)`, which stores the seed as `channel_seed`.
`variant` writes a copy of the simulation config with some sections replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.generate.base import (
    EDGES_FILE,
    NODES_FILE,
    GeneratedCircuit,
    add_edges,
    new_circuit,
    virtual_nodes,
)
from engine.generate.templates import template_text
from engine.io.sonata_writer import (
    write_circuit_config,
    write_node_sets,
    write_nodes,
    write_simulation_config,
)
from engine.io.spike_file import write_spike_file

TSTOP, DT = 300.0, 0.025
N_CELLS, N_FIBRES = 5, 4
HH_CELLS, PASSIVE_CELLS = (0, 3), (1, 2, 4)
SOMA, DEND, AXON_TRUNK, AXON_A, AXON_B = 0, 1, 2, 3, 4
FIBRE_SPIKES = {
    0: [20.0, 150.0, 260.0],
    1: [30.0, 160.0, 270.0],
    2: list(np.arange(10.0, TSTOP, 40.0)),
    3: list(np.arange(15.0, TSTOP, 50.0)),
}
# (source population, source id, target id, section, x, conductance nS, delay ms, syn type)
SYNAPSES = [
    ("fibres", 0, 1, SOMA, 0.5, 0.02, 1.0, 113),
    ("fibres", 0, 1, DEND, 0.3, 0.02, 1.0, 113),
    ("fibres", 1, 2, SOMA, 0.5, 0.5, 1.5, 113),
    ("fibres", 1, 2, DEND, 0.7, 0.5, 1.5, 113),
    ("fibres", 2, 0, SOMA, 0.5, 1.5, 1.0, 113),
    ("fibres", 2, 0, SOMA, 0.5, 1.5, 1.0, 113),
    ("fibres", 3, 3, SOMA, 0.5, 1.5, 1.0, 113),
    ("fibres", 3, 3, SOMA, 0.5, 1.5, 1.0, 113),
    ("cells", 0, 2, DEND, 0.5, 0.8, 2.0, 113),
    ("cells", 3, 2, SOMA, 0.5, 0.8, 2.0, 13),
]
NODE_SETS = {
    "Cells": {"population": "cells"},
    "Fibres": {"population": "fibres"},
    "All": ["Cells", "Fibres"],
    "HH": {"population": "cells", "node_id": list(HH_CELLS)},
    "Passive": {"population": "cells", "node_id": list(PASSIVE_CELLS)},
    **{f"Cell{i}": {"population": "cells", "node_id": [i]} for i in range(N_CELLS)},
    **{f"Fibre{i}": {"population": "fibres", "node_id": [i]} for i in range(N_FIBRES)},
}


def probe_template(name: str, *, passive_only: bool) -> str:
    """Our generator's ball-and-stick template plus `re_init_rng` (stores `channel_seed`)."""
    text = template_text(name, passive_only=passive_only)
    text = text.replace("public geom_nseg", "public geom_nseg, re_init_rng, channel_seed")
    text = text.replace("    gid = $1\n", "    gid = $1\n    channel_seed = -1\n")
    return text.replace(
        f"endtemplate {name}", f"proc re_init_rng() {{ channel_seed = $1 }}\nendtemplate {name}"
    )


def write_morphology(path: Path) -> None:
    """Soma (3-point cylinder), one dendrite along +x, an axon trunk that forks in two."""
    rows = [(1, 1, 0, 0, 0, 10, -1), (2, 1, 0, -10, 0, 10, 1), (3, 1, 0, 10, 0, 10, 1)]
    for i, x in enumerate(np.linspace(10, 210, 11)):
        rows.append((len(rows) + 1, 3, x, 0, 0, 0.5, 1 if i == 0 else len(rows)))
    trunk = []
    for i, x in enumerate(np.linspace(-10, -40, 3)):
        rows.append((len(rows) + 1, 2, x, 0, 0, 0.5, 1 if i == 0 else len(rows)))
        trunk.append(len(rows))
    for sign in (1, -1):
        for i, k in enumerate(range(1, 4)):
            parent = trunk[-1] if i == 0 else len(rows)
            rows.append((len(rows) + 1, 2, -40 - 10 * k, sign * 10 * k, 0, 0.5, parent))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(str(v) for v in row) for row in rows) + "\n")


def _edge_attributes(rows: list[tuple], u_syn: float, dep: float) -> dict[str, np.ndarray]:
    n = len(rows)
    syn_type = np.array([r[7] for r in rows], dtype=np.int64)
    return {
        "conductance": np.array([r[5] for r in rows], dtype=np.float64),
        "u_syn": np.full(n, u_syn),
        "depression_time": np.full(n, dep),
        "facilitation_time": np.full(n, 10.0),
        "decay_time": np.where(syn_type < 100, 8.0, 1.7),
        "n_rrp_vesicles": np.ones(n, dtype=np.int64),
        "syn_type_id": syn_type,
        "delay": np.array([r[6] for r in rows], dtype=np.float64),
        "afferent_section_id": np.array([r[3] for r in rows], dtype=np.int64),
        "afferent_section_pos": np.array([r[4] for r in rows], dtype=np.float64),
        "conductance_scale_factor": np.zeros(n),
        "u_hill_coefficient": np.full(n, 2.0),
    }


def write_probe_circuit(
    root: str | Path,
    *,
    u_syn: float = 1.0,
    dep: float = 0.0,
    mini_rates: tuple[list[float], list[float]] | None = None,
    edge_changes: dict[int, dict[str, float]] | None = None,
) -> GeneratedCircuit:
    """The circuit of the module docstring; `edge_changes` edits rows of SYNAPSES.

    `mini_rates` = (exc_mini_frequency, inh_mini_frequency) per cell, written as node
    attributes. `edge_changes` maps a SYNAPSES row index to attribute values that replace
    the computed ones (e.g. {0: {"conductance": 1.0}}).
    """
    circuit = new_circuit(root)
    circuit.populations = {"cells": N_CELLS, "fibres": N_FIBRES}
    models = circuit.root / "templates"
    models.mkdir(exist_ok=True)
    for name, passive in (("CondHH", False), ("CondPassive", True)):
        (models / f"{name}.hoc").write_text(probe_template(name, passive_only=passive))
    write_morphology(circuit.root / "morphologies" / "probe.swc")
    templates = ["CondPassive" if i in PASSIVE_CELLS else "CondHH" for i in range(N_CELLS)]
    attrs: dict[str, Any] = {
        "model_type": np.full(N_CELLS, "biophysical", dtype=object),
        "model_template": np.array([f"hoc:{t}" for t in templates], dtype=object),
        "morphology": np.full(N_CELLS, "probe", dtype=object),
    }
    if mini_rates is not None:
        attrs["exc_mini_frequency"] = np.asarray(mini_rates[0], dtype=np.float64)
        attrs["inh_mini_frequency"] = np.asarray(mini_rates[1], dtype=np.float64)
    write_nodes(circuit.root / NODES_FILE, "cells", attrs)
    write_nodes(circuit.root / NODES_FILE, "fibres", virtual_nodes(N_FIBRES))
    for source in ("fibres", "cells"):
        indices = [k for k, row in enumerate(SYNAPSES) if row[0] == source]
        rows = [SYNAPSES[k] for k in indices]
        edge_attrs = _edge_attributes(rows, u_syn, dep)
        for position, k in enumerate(indices):
            for key, value in (edge_changes or {}).get(k, {}).items():
                edge_attrs[key][position] = value
        src = np.array([r[1] for r in rows])
        tgt = np.array([r[2] for r in rows])
        add_edges(circuit, f"{source}__cells", source, "cells", src, tgt, edge_attrs)
    ids = np.concatenate([np.full(len(t), n) for n, t in FIBRE_SPIKES.items()])
    times = np.concatenate([np.asarray(t, dtype=np.float64) for t in FIBRE_SPIKES.values()])
    order = np.lexsort((ids, times))
    circuit.input_spikes = {"fibres": (ids[order].astype(np.uint64), times[order])}
    write_spike_file(circuit.spike_file, circuit.input_spikes)
    _write_configs(circuit, models)
    return circuit


def _write_configs(circuit: GeneratedCircuit, models: Path) -> None:
    root = circuit.root
    write_node_sets(circuit.node_sets_file, NODE_SETS)
    write_circuit_config(
        circuit.circuit_config,
        nodes=[
            {
                "nodes_file": str(root / NODES_FILE),
                "populations": {"cells": {"type": "biophysical"}, "fibres": {"type": "virtual"}},
            }
        ],
        edges=[
            {
                "edges_file": str(root / EDGES_FILE),
                "populations": {
                    "fibres__cells": {"type": "chemical"},
                    "cells__cells": {"type": "chemical"},
                },
            }
        ],
        components={
            "morphologies_dir": str(root / "morphologies"),
            "biophysical_neuron_models_dir": str(models),
        },
        node_sets_file=str(circuit.node_sets_file),
    )
    write_simulation_config(
        circuit.simulation_config,
        network=str(circuit.circuit_config),
        run={"tstop": TSTOP, "dt": DT, "random_seed": 1, "spike_threshold": -30.0},
        conditions={"celsius": 6.3, "v_init": -65.0},
        output={"output_dir": str(root / "output"), "spikes_file": "spikes.h5"},
        inputs={
            "fibres": {
                "module": "synapse_replay",
                "input_type": "spikes",
                "delay": 0.0,
                "duration": TSTOP,
                "node_set": "Cells",
                "spike_file": str(circuit.spike_file),
            }
        },
        node_sets_file=str(circuit.node_sets_file),
    )


def variant(circuit: GeneratedCircuit, name: str, **sections: Any) -> Path:
    """A copy of the simulation config with top-level sections replaced (or merged for
    `run`, `conditions` and `inputs`, whose given keys are updated)."""
    config = json.loads(circuit.simulation_config.read_text())
    for key, value in sections.items():
        if key in ("run", "conditions", "inputs") and isinstance(value, dict):
            config.setdefault(key, {}).update(value)
        else:
            config[key] = value
    config["output"]["output_dir"] = str(circuit.root / f"output_{name}")
    path = circuit.root / f"simulation_config_{name}.json"
    path.write_text(json.dumps(config, indent=1))
    return path
