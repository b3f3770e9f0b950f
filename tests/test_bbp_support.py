"""Test data and the engine driver for the BBP-style tests (no tests here).

* the cells' hoc template: `tests/bbp_templates.py` (`template_text`).
* `write_bbp_circuit`: a mini circuit of such cells with BBP edge attributes, driven by
  replayed virtual fibres. Its morphologies are generated and laid out as OBI releases
  are: long dotted names without extension (`..._Scale_x1.000_y0.950_z1.000_-_Clone_1`),
  one directory per format (swc, `alternate_morphologies` neurolucida-asc and h5v1), one
  cell's files spelled `.ASC`/`.SWC`/`.H5`.
* `write_gap_circuit`: two ball-and-stick cells coupled by a gap junction.
The engine driver that runs these circuits is tests/test_bbp_driver.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.generate.base import (
    EDGES_FILE,
    NODES_FILE,
    GeneratedCircuit,
    add_edges,
    new_circuit,
    poisson_spikes,
    virtual_nodes,
    write_cell_files,
)
from engine.generate.morphologies import (
    obi_morphology_name,
    synthetic_cell,
    write_obi_morphologies,
)
from engine.io.sonata_writer import (
    write_circuit_config,
    write_node_sets,
    write_nodes,
    write_simulation_config,
)
from engine.io.spike_file import write_spike_file
from tests.bbp_templates import template_text

# Every generated cell has soma 1, axon 128, dend 66, apic 130 sections (Import3d order).
N_SOMA, N_AXON, N_DEND, N_APIC = 1, 128, 66, 130
# cells 0 and 1 share a morphology (as clones do); cell 2's name is 180 characters long;
# cell 3's files are spelled with upper-case extensions
MORPHOLOGIES = [
    obi_morphology_name(0),
    obi_morphology_name(0),
    obi_morphology_name(1, length=180),
    obi_morphology_name(2),
]
UPPER_CASE = frozenset({MORPHOLOGIES[3]})
FIRST_DEND = N_SOMA + N_AXON
FIRST_APIC = FIRST_DEND + N_DEND
# Node templates: 0, 1 need @dynamics attributes; 2 takes the single 0; 3 has no index.
TEMPLATES = ["SonataBBPTestCell", "SonataBBPTestCell", "SonataBBPPlainCell", "SonataBBPBlockCell"]
TEMPLATE_KINDS = {
    "SonataBBPTestCell": {"needed": True, "indexed": True},
    "SonataBBPPlainCell": {"needed": False, "indexed": True},
    "SonataBBPBlockCell": {"needed": False, "indexed": False},
}
RUN = {"tstop": 250.0, "dt": 0.025, "random_seed": 3, "synapse_seed": 7}
CONDITIONS = {
    "celsius": 6.3,
    "v_init": -65.0,
    "spike_location": "AIS",
    "extracellular_calcium": 1.6,
    "randomize_gaba_rise_time": True,
}


def _section_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Soma, dendrites, apicals, the replacement-axon ids 1-2 and removed axon ids."""
    pool = np.concatenate(
        [
            np.zeros(6, np.int64),
            rng.choice(np.arange(FIRST_DEND, FIRST_APIC), 6, replace=False),
            rng.choice(np.arange(FIRST_APIC, FIRST_APIC + N_APIC), 4, replace=False),
            np.array([1, 2, 40]),
        ]
    )
    return rng.choice(pool, n)


def _bbp_attributes(
    rng: np.random.Generator, n: int, syn_type: np.ndarray, with_optional: bool
) -> dict[str, np.ndarray]:
    attrs = {
        "conductance": np.round(rng.uniform(6.0, 14.0, n), 3),
        "u_syn": np.round(rng.uniform(0.3, 0.8, n), 3) * rng.choice([1.0, -1.0], n),
        "depression_time": np.round(rng.uniform(100.0, 600.0, n), 2),
        "facilitation_time": np.round(rng.uniform(5.0, 50.0, n), 2) * rng.choice([1.0, -1.0], n),
        "decay_time": np.where(syn_type < 100, 8.0, np.round(rng.uniform(1.5, 2.5, n), 3)),
        "n_rrp_vesicles": rng.choice([-1, 1, 2, 3], n).astype(np.int64),
        "syn_type_id": syn_type.astype(np.int64),
        "delay": np.round(rng.uniform(0.5, 3.0, n), 4),
        "afferent_section_id": _section_ids(rng, n),
        "afferent_section_pos": np.round(rng.uniform(-0.1, 1.1, n), 3),
    }
    if with_optional:
        attrs["conductance_scale_factor"] = rng.choice([0.4, 0.7, -1.0], n)
        attrs["u_hill_coefficient"] = np.round(rng.uniform(1.0, 3.0, n), 3)
    return attrs


def write_bbp_circuit(root: str | Path, *, n_fibres: int = 8, seed: int = 5) -> GeneratedCircuit:
    """Four BBP-style cells (cell 3 inhibitory) plus replayed virtual fibres."""
    rng = np.random.default_rng(seed)
    circuit = new_circuit(root)
    n = len(TEMPLATES)
    circuit.populations = {"cortex": n, "thalamus": n_fibres}
    models = circuit.root / "templates"
    models.mkdir(exist_ok=True)
    for name, kind in TEMPLATE_KINDS.items():
        (models / f"{name}.hoc").write_text(template_text(name, **kind))
    attrs = {
        "model_type": np.full(n, "biophysical", dtype=object),
        "model_template": np.array([f"hoc:{t}" for t in TEMPLATES], dtype=object),
        "morphology": np.array(MORPHOLOGIES, dtype=object),
    }
    dynamics = {"AIS_scaler": np.array([1.0, 2.0, 1.0, 1.0]), "soma_scaler": np.full(n, 1.5)}
    write_nodes(circuit.root / NODES_FILE, "cortex", attrs, dynamics=dynamics)
    write_nodes(circuit.root / NODES_FILE, "thalamus", virtual_nodes(n_fibres))
    per_cell = 12
    tgt = np.repeat(np.arange(n), per_cell)
    src = rng.integers(0, n_fibres, tgt.size)
    exc = np.full(tgt.size, 113)
    add_edges(circuit, "thalamus__cortex", "thalamus", "cortex", src, tgt,
              _bbp_attributes(rng, tgt.size, exc, with_optional=True))  # fmt: skip
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    src = np.array([p[0] for p in pairs] * 2)
    tgt = np.array([p[1] for p in pairs] * 2)
    syn_type = np.where(src == 3, 13, 120)
    add_edges(circuit, "cortex__cortex", "cortex", "cortex", src, tgt,
              _bbp_attributes(rng, tgt.size, syn_type, with_optional=False))  # fmt: skip
    circuit.input_spikes = {"thalamus": poisson_spikes(n_fibres, 40.0, RUN["tstop"], rng)}
    write_spike_file(circuit.spike_file, circuit.input_spikes)
    cells = {name: synthetic_cell(seed=k) for k, name in enumerate(dict.fromkeys(MORPHOLOGIES))}
    components = {
        **write_obi_morphologies(circuit.root / "morphologies", cells, upper_case=UPPER_CASE),
        "biophysical_neuron_models_dir": str(models),
    }
    node_types = {"cortex": "biophysical", "thalamus": "virtual"}
    edge_types = {"thalamus__cortex": "chemical", "cortex__cortex": "chemical"}
    _write_configs(circuit, node_types, edge_types, components, "Cortex", CONDITIONS, RUN)
    return circuit


def _write_configs(
    circuit: GeneratedCircuit,
    node_types: dict[str, str],
    edge_types: dict[str, str],
    components: dict,
    replay_node_set: str,
    conditions: dict,
    run: dict,
) -> None:
    root = circuit.root
    write_node_sets(
        circuit.node_sets_file,
        {name.capitalize(): {"population": name} for name in node_types},
    )
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
        run={**run, "spike_threshold": -30.0},
        conditions=conditions,
        output={"output_dir": str(root / "output"), "spikes_file": "spikes.h5"},
        inputs={
            "fibres": {
                "module": "synapse_replay",
                "input_type": "spikes",
                "delay": 0.0,
                "duration": run["tstop"],
                "node_set": replay_node_set,
                "spike_file": str(circuit.spike_file),
            }
        },
        node_sets_file=str(circuit.node_sets_file),
    )


GAP_NS = 2.0
GAP_INPUT_NS = 6.0


def write_gap_circuit(root: str | Path, *, junction_ids: bool) -> GeneratedCircuit:
    """Two ball-and-stick HH cells; only cell 0 gets input, cell 1 hears it through a gap.

    With `junction_ids` the junction is two BBP-style edges (one per direction, with
    afferent/efferent junction ids); without, one edge is the whole junction.
    """
    circuit = new_circuit(root)
    circuit.populations = {"pair": 2, "input": 1}
    components = write_cell_files(circuit.root, "GapCell")
    attrs = {
        "model_type": np.full(2, "biophysical", dtype=object),
        "model_template": np.full(2, "hoc:GapCell", dtype=object),
        "morphology": np.full(2, "ball_stick", dtype=object),
    }
    write_nodes(circuit.root / NODES_FILE, "pair", attrs)
    write_nodes(circuit.root / NODES_FILE, "input", virtual_nodes(1))
    if junction_ids:
        src, tgt = np.array([0, 1]), np.array([1, 0])
        gap = {
            "conductance": np.full(2, GAP_NS),
            "afferent_section_id": np.array([1, 0]),  # cell 1 on its dendrite, cell 0 soma
            "afferent_section_pos": np.array([0.7, 0.5]),
            "efferent_junction_id": np.array([10, 11]),
            "afferent_junction_id": np.array([11, 10]),
        }
    else:
        src, tgt = np.array([0]), np.array([1])
        gap = {
            "conductance": np.full(1, GAP_NS),
            "afferent_section_id": np.array([1]),
            "afferent_section_pos": np.array([0.7]),
        }
    add_edges(circuit, "pair__pair_gap", "pair", "pair", src, tgt, gap)
    drive = {
        "conductance": np.array([GAP_INPUT_NS]),
        "delay": np.array([1.0]),
        "decay_time": np.array([2.0]),
        "syn_type_id": np.array([113]),
        "afferent_section_id": np.array([0]),
        "afferent_section_pos": np.array([0.5]),
    }
    add_edges(circuit, "input__pair", "input", "pair", np.zeros(1), np.zeros(1), drive)
    times = np.array([5.0, 12.0, 30.0, 31.0, 32.0, 33.0, 34.0])
    circuit.input_spikes = {"input": (np.zeros(times.size, np.uint64), times)}
    write_spike_file(circuit.spike_file, circuit.input_spikes)
    _write_configs(
        circuit,
        {"pair": "biophysical", "input": "virtual"},
        {"pair__pair_gap": "electrical", "input__pair": "chemical"},
        components,
        "Pair",
        {"celsius": 6.3, "v_init": -65.0},
        {"tstop": 60.0, "dt": 0.025, "random_seed": 1},
    )
    return circuit


def assert_tm_parameters(p: dict, attrs: dict, edge_id: int, synapse_id: int, calcium) -> None:
    """One edge's BBP attributes on its TM synapse, mapped as the compat doc says (§3.2-3.4)."""
    import pytest

    exc = attrs["syn_type_id"][edge_id] >= 100
    scale = 1.0  # no u_hill_coefficient column: neurodamus does not scale U
    if "u_hill_coefficient" in attrs:
        hill = attrs["u_hill_coefficient"][edge_id]
        scale = (hill**4 + 16) / 16 * calcium**4 / (hill**4 + calcium**4)
    assert p["Use"] == pytest.approx(abs(attrs["u_syn"][edge_id] * scale), rel=1e-12)
    assert p["Dep"] == abs(attrs["depression_time"][edge_id])
    assert p["Fac"] == abs(attrs["facilitation_time"][edge_id])
    nrrp = attrs["n_rrp_vesicles"][edge_id]
    assert p["Nrrp"] == (nrrp if nrrp >= 0 else 1.0)  # negative: mod default
    assert p["synapseID"] == synapse_id
    ratio = (
        attrs["conductance_scale_factor"][edge_id] if "conductance_scale_factor" in attrs else -1
    )
    if exc:
        assert p["tau_d_AMPA"] == attrs["decay_time"][edge_id]
        assert p["NMDA_ratio"] == (ratio if ratio >= 0 else 0.71)
    else:
        assert p["tau_d_GABAA"] == attrs["decay_time"][edge_id]
        assert p["GABAB_ratio"] == (ratio if ratio >= 0 else 0.0)
