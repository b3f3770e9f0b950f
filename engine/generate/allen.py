"""A small Allen/bmtk-style circuit, written the way bmtk's builder lays files out.

For tests of the Allen dialect: node/edge types CSV files holding model_type,
model_template (`ctdb:Biophys1`), model_processing, dynamics_params and morphology; h5
files with only per-node/per-edge values; Allen cell json files (passive, genome,
conditions) using NEURON's built-in `hh` and `pas`; Exp2Syn synapse json files; a virtual
`lgn` population with a legacy spike file (`/spikes/gids`, `/spikes/timestamps`) and the
same spikes as csv; configs with `${configdir}` manifests, no `populations`, no
`random_seed`, `spikes_sort_order: "time"`, `run.dL`, a `membrane_report` and optionally
an `IClamp` input. Synapse locations are preselected (`afferent_section_id`/`_pos`, soma
or dendrite), which bmtk honours as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.generate.templates import write_ball_and_stick_swc
from engine.io.sonata_writer import write_edges, write_json, write_nodes
from engine.io.types_csv import write_types_csv

EXC_TYPE, INH_TYPE, LGN_TYPE = 100, 101, 200
LGN_EDGE_TYPE, EXC_EDGE_TYPE, INH_EDGE_TYPE = 300, 400, 401
GAP_EDGE_TYPE = 402
HH_SOMA = {"gnabar_hh": 0.12, "gkbar_hh": 0.036, "gl_hh": 0.0003, "el_hh": -54.3}


@dataclass
class AllenCircuit:
    """Where the generated files are and what they hold (for tests)."""

    root: Path
    circuit_config: Path
    simulation_config: Path
    combined_config: Path
    morphology: Path
    populations: dict[str, int] = field(default_factory=dict)
    node_types: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    edge_types: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    node_type_ids: dict[str, np.ndarray] = field(default_factory=dict)
    edges: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    lgn_spikes: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0))
    tstop: float = 0.0
    dt: float = 0.025
    dL: float = 20.0


def cell_json(kind: str) -> dict[str, Any]:
    """An Allen perisomatic model: hh in soma and axon, pas everywhere, per-type cm."""
    genome = [
        {"section": sec, "name": name, "value": value, "mechanism": "hh"}
        for sec in ("soma", "axon")
        for name, value in HH_SOMA.items()
    ]
    g_pas = 3e-5 if kind == "exc" else 5e-5
    genome += [
        {"section": sec, "name": "g_pas", "value": g_pas, "mechanism": ""}
        for sec in ("soma", "dend", "apic", "axon")
    ]
    cm = {"soma": 1.0, "axon": 1.0, "dend": 1.5 if kind == "exc" else 1.2, "apic": 2.0}
    return {
        "passive": [
            {
                "ra": 100.0 if kind == "exc" else 120.0,
                "cm": [{"section": s, "cm": v} for s, v in cm.items()],
                "e_pas": -65.0,
            }
        ],
        "conditions": [
            {
                "celsius": 34.0,
                "erev": [{"section": "soma", "ena": 53.0, "ek": -80.0}],
                "v_init": -65.0,
            }
        ],
        "fitting": [{"junction_potential": -14.0, "sweeps": [1]}],
        "genome": genome,
    }


def write_legacy_spikes(path: Path, ids: np.ndarray, times: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/gids", data=ids.astype(np.uint64))
        f.create_dataset("spikes/timestamps", data=times.astype(np.float64))


def write_bmtk_gap_ids(path: Path, sources: np.ndarray, targets: np.ndarray) -> None:
    """bmtk's `<network>_gap_juncs.h5`: per junction its two ids (bmtk pairs sides by them)."""
    ids = np.arange(2 * sources.size, dtype=np.int64)
    with h5py.File(path, "w") as f:
        f.create_dataset("source_ids", data=np.asarray(sources, np.int64))
        f.create_dataset("target_ids", data=np.asarray(targets, np.int64))
        f.create_dataset("src_gap_ids", data=ids[0::2])
        f.create_dataset("trg_gap_ids", data=ids[1::2])


def generate_allen_network(
    root: str | Path,
    *,
    n_exc: int = 4,
    n_inh: int = 2,
    n_lgn: int = 6,
    morphology: str | Path | None = None,
    tstop: float = 200.0,
    dt: float = 0.025,
    dL: float = 20.0,
    lgn_rate_hz: float = 40.0,
    w_lgn: float = 0.004,
    w_exc: float = 0.002,
    w_inh: float = 0.004,
    iclamp: dict[str, Any] | None = None,
    spike_format: str = "h5",
    preselected: bool = True,
    seed: int = 0,
    gap_junctions: float | None = None,
) -> AllenCircuit:
    """Write the circuit under `root`; `morphology` (an swc path) is used in place.

    With `preselected=False` edges carry `nsyns` (1-3) and no location: synapses are placed
    by the edge types' target_sections / distance_range (needs edges.py to call
    engine.managers.synapses.allen).
    `gap_junctions` (uS): bmtk gap junctions between cortex cells (0, 1), (2, 3), ... as
    bmtk's builder writes them: an `is_gap_junction` edge type in the cortex_to_cortex
    population (mixed with the chemical ones, nsyns 1) and `cortex_gap_juncs.h5`.
    """
    root = Path(root).resolve()
    net, comp = root / "network", root / "components"
    rng = np.random.default_rng(seed)
    if morphology is None:
        morphology = comp / "morphologies" / "ball_stick_axon.swc"
        write_ball_and_stick_swc(morphology, dend_length=300.0, axon_length=100.0)
    morphology = Path(morphology).resolve()
    n = n_exc + n_inh
    circuit = AllenCircuit(
        root=root,
        circuit_config=root / "circuit_config.json",
        simulation_config=root / "simulation_config.json",
        combined_config=root / "config.json",
        morphology=morphology,
        populations={"cortex": n, "lgn": n_lgn},
        tstop=tstop,
        dt=dt,
        dL=dL,
    )
    for kind in ("exc", "inh"):
        write_json(comp / "biophysical_neuron_models" / f"{kind}_hh.json", cell_json(kind))
    synapses = {"exc_syn.json": (1.0, 3.0, 0.0), "inh_syn.json": (2.7, 15.0, -70.0)}
    for name, (tau1, tau2, erev) in synapses.items():
        params = {"level_of_detail": "exp2syn", "tau1": tau1, "tau2": tau2, "erev": erev}
        write_json(comp / "synaptic_models" / name, params)

    common = {"model_type": "biophysical", "model_template": "ctdb:Biophys1"}
    common.update({"model_processing": "aibs_perisomatic", "morphology": morphology.name})
    circuit.node_types["cortex"] = [
        {
            "node_type_id": EXC_TYPE,
            "pop_name": "Exc",
            "ei": "e",
            **common,
            "dynamics_params": "exc_hh.json",
        },
        {
            "node_type_id": INH_TYPE,
            "pop_name": "Inh",
            "ei": "i",
            **common,
            "dynamics_params": "inh_hh.json",
        },
    ]
    circuit.node_types["lgn"] = [
        {"node_type_id": LGN_TYPE, "model_type": "virtual", "pop_name": "tON", "ei": "e"}
    ]
    for pop, rows in circuit.node_types.items():
        write_types_csv(net / f"{pop}_node_types.csv", "node_type_id", rows)
    cortex_types = np.array([EXC_TYPE] * n_exc + [INH_TYPE] * n_inh, dtype=np.int64)
    circuit.node_type_ids = {"cortex": cortex_types, "lgn": np.full(n_lgn, LGN_TYPE)}
    xyz = rng.uniform(0.0, 100.0, size=(3, n))
    write_nodes(
        net / "cortex_nodes.h5", "cortex",
        {"x": xyz[0], "y": xyz[1], "z": xyz[2], "rotation_angle_yaxis": rng.uniform(0, 6.28, n)},
        node_type_id=cortex_types, mode="w",
    )  # fmt: skip
    write_nodes(
        net / "lgn_nodes.h5", "lgn", {}, node_type_id=circuit.node_type_ids["lgn"], mode="w"
    )

    edge_common = {"model_template": "exp2syn", "weight_function": "wmax"}
    edge_common.update(
        {"target_sections": "['somatic', 'basal']", "distance_range": "[0.0, 150.0]"}
    )
    circuit.edge_types["lgn_to_cortex"] = [
        {
            "edge_type_id": LGN_EDGE_TYPE,
            "syn_weight": w_lgn,
            "delay": 2.0,
            "dynamics_params": "exc_syn.json",
            **edge_common,
        }
    ]
    circuit.edge_types["cortex_to_cortex"] = [
        {"edge_type_id": EXC_EDGE_TYPE, "syn_weight": w_exc, "delay": 1.5, "dynamics_params": "exc_syn.json", **edge_common},
        {"edge_type_id": INH_EDGE_TYPE, "syn_weight": w_inh, "delay": 1.0, "dynamics_params": "inh_syn.json", **edge_common},
    ]  # fmt: skip
    if gap_junctions is not None:
        for row in circuit.edge_types["cortex_to_cortex"]:
            row["is_gap_junction"] = False
        circuit.edge_types["cortex_to_cortex"].append(
            {"edge_type_id": GAP_EDGE_TYPE, "syn_weight": float(gap_junctions),
             "is_gap_junction": True, "target_sections": "['somatic', 'basal']",
             "distance_range": "[0.0, 150.0]"}
        )  # fmt: skip
    for name, rows in circuit.edge_types.items():
        write_types_csv(net / f"{name}_edge_types.csv", "edge_type_id", rows)

    def edges(name: str, source: str, src: np.ndarray, tgt: np.ndarray, types: np.ndarray) -> None:
        order = np.lexsort((src, tgt))
        src, tgt, types = src[order], tgt[order], types[order]
        section = rng.integers(0, 2, size=src.size)  # soma or the dendrite
        pos = np.where(section == 0, 0.5, rng.uniform(0.05, 0.95, size=src.size))
        attrs: dict[str, np.ndarray] = {"nsyns": np.ones(src.size, np.int64)}
        if preselected:
            attrs.update({"afferent_section_id": section, "afferent_section_pos": pos})
        else:
            attrs["nsyns"] = np.where(types == GAP_EDGE_TYPE, 1, rng.integers(1, 4, size=src.size))
        write_edges(
            net / f"{name}_edges.h5", name, source, "cortex", src, tgt, attrs,
            edge_type_id=types, n_source_nodes=circuit.populations[source], n_target_nodes=n, mode="w",
        )  # fmt: skip
        circuit.edges[name] = {"source": src, "target": tgt, "edge_type_id": types, **attrs}

    fan_in = min(3, n_lgn)
    lgn_src = np.concatenate([rng.choice(n_lgn, size=fan_in, replace=False) for _ in range(n)])
    lgn_tgt = np.repeat(np.arange(n), fan_in)
    edges("lgn_to_cortex", "lgn", lgn_src, lgn_tgt, np.full(lgn_src.size, LGN_EDGE_TYPE))
    pairs = np.array([(s, t) for s in range(n) for t in range(n) if s != t and rng.random() < 0.5])
    rec_src, rec_tgt = pairs[:, 0], pairs[:, 1]
    rec_types = np.where(rec_src < n_exc, EXC_EDGE_TYPE, INH_EDGE_TYPE)
    if gap_junctions is not None:
        gap_src = np.arange(0, n - 1, 2)
        rec_src = np.concatenate([rec_src, gap_src])
        rec_tgt = np.concatenate([rec_tgt, gap_src + 1])
        rec_types = np.concatenate([rec_types, np.full(gap_src.size, GAP_EDGE_TYPE)])
        write_bmtk_gap_ids(net / "cortex_gap_juncs.h5", gap_src, gap_src + 1)
    edges("cortex_to_cortex", "cortex", rec_src, rec_tgt, rec_types)

    counts = rng.poisson(lgn_rate_hz * tstop / 1000.0, size=n_lgn)
    ids = np.repeat(np.arange(n_lgn), counts).astype(np.uint64)
    times = np.round(rng.uniform(1.0, tstop - 5.0, size=ids.size), 3)
    order = np.argsort(times, kind="stable")
    circuit.lgn_spikes = (ids[order], times[order])
    write_legacy_spikes(root / "inputs" / "lgn_spikes.h5", *circuit.lgn_spikes)
    lines = ["timestamps population node_ids"] + [  # bmtk's csv columns
        f"{float(t)!r} lgn {int(i)}" for i, t in zip(*circuit.lgn_spikes, strict=True)
    ]
    (root / "inputs" / "lgn_spikes.csv").write_text("\n".join(lines) + "\n")
    _write_configs(circuit, spike_format, iclamp, gap_junctions is not None)
    return circuit


def _write_configs(
    circuit: AllenCircuit, spike_format: str, iclamp: dict[str, Any] | None, gaps: bool = False
) -> None:
    root = circuit.root
    gap_ids = (
        {"gap_juncs": [{"gap_juncs_file": "$NETWORK_DIR/cortex_gap_juncs.h5"}]} if gaps else {}
    )
    manifest = {
        "$BASE_DIR": "${configdir}",
        "$NETWORK_DIR": "$BASE_DIR/network",
        "$COMPONENTS_DIR": "$BASE_DIR/components",
    }
    write_json(
        circuit.circuit_config,
        {
            "manifest": manifest,
            "components": {
                "morphologies_dir": str(circuit.morphology.parent),
                "biophysical_neuron_models_dir": "$COMPONENTS_DIR/biophysical_neuron_models",
                "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models",
            },
            "networks": {
                "nodes": [
                    {"nodes_file": f"$NETWORK_DIR/{p}_nodes.h5", "node_types_file": f"$NETWORK_DIR/{p}_node_types.csv"}
                    for p in ("cortex", "lgn")
                ],
                "edges": [
                    {"edges_file": f"$NETWORK_DIR/{e}_edges.h5", "edge_types_file": f"$NETWORK_DIR/{e}_edge_types.csv"}
                    for e in ("lgn_to_cortex", "cortex_to_cortex")
                ],
                **gap_ids,
            },
        },
    )  # fmt: skip
    spike_file = "lgn_spikes.csv" if spike_format == "csv" else "lgn_spikes.h5"
    inputs: dict[str, Any] = {
        "lgn_spikes": {
            "input_type": "spikes",
            "module": spike_format,
            "input_file": f"$BASE_DIR/inputs/{spike_file}",
            "node_set": "lgn",
        }
    }
    if iclamp:
        inputs["current_clamp"] = {
            "input_type": "current_clamp",
            "module": "IClamp",
            "node_set": "exc",
            **iclamp,
        }
    simulation = {
        "manifest": {"$BASE_DIR": "${configdir}", "$OUTPUT_DIR": "$BASE_DIR/output"},
        "target_simulator": "NEURON",
        "run": {"tstop": circuit.tstop, "dt": circuit.dt, "dL": circuit.dL, "nsteps_block": 5000},
        "conditions": {"celsius": 6.3, "v_init": -65.0},
        "inputs": inputs,
        "output": {
            "log_file": "log.txt", "output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5",
            "spikes_file_csv": "spikes.csv", "spikes_sort_order": "time", "overwrite_output_dir": True,
        },
        "reports": {
            "membrane_potential": {"cells": "exc", "variable_name": "v", "module": "membrane_report", "sections": "soma"}
        },
        "node_sets_file": "$BASE_DIR/node_sets.json",
        "network": "./circuit_config.json",
    }  # fmt: skip
    write_json(circuit.simulation_config, simulation)
    write_json(
        root / "node_sets.json",
        {"exc": {"ei": "e", "model_type": "biophysical"}, "lgn": {"population": "lgn"}},
    )
    write_json(
        circuit.combined_config,
        {"network": "circuit_config.json", "simulation": "simulation_config.json"},
    )
