"""bmtk's IntFire1 point network in the Allen layout (see engine.generate.allen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.generate.allen import (
    EXC_EDGE_TYPE,
    EXC_TYPE,
    INH_EDGE_TYPE,
    LGN_EDGE_TYPE,
    LGN_TYPE,
    AllenCircuit,
    write_legacy_spikes,
)
from engine.io.sonata_writer import write_edges, write_json, write_nodes
from engine.io.types_csv import write_types_csv


def generate_allen_point_network(
    root: str | Path,
    *,
    n_cells: int = 8,
    n_lgn: int = 5,
    tstop: float = 300.0,
    dt: float = 0.025,
    w_lgn: float = 0.6,
    w_rec: float = 0.3,
    inhibitory: bool = False,
    seed: int = 1,
) -> AllenCircuit:
    """bmtk's IntFire1 network: `nrn:IntFire1` point_process cells, json tau/refrac in
    seconds, synapse json with `sign`, `nsyns` per edge. With `inhibitory`, half the
    recurrent edges use sign -1 and nsyns 2 (weights syn_weight*sign*nsyns need edges.py
    to call engine.managers.synapses.allen)."""
    root = Path(root).resolve()
    net, comp = root / "network", root / "components"
    rng = np.random.default_rng(seed)
    circuit = AllenCircuit(
        root=root,
        circuit_config=root / "circuit_config.json",
        simulation_config=root / "simulation_config.json",
        combined_config=root / "config.json",
        morphology=root,
        populations={"cortex": n_cells, "lgn": n_lgn},
        tstop=tstop,
        dt=dt,
    )
    write_json(
        comp / "point_neuron_models" / "IntFire1_exc.json",
        {"tau": 0.024, "refrac": 0.003, "type": "NEURON_IntFire1"},
    )
    write_json(comp / "synaptic_models" / "exc_point.json", {"sign": 1})
    write_json(comp / "synaptic_models" / "inh_point.json", {"sign": -1})
    common = {
        "model_type": "point_process",
        "model_template": "nrn:IntFire1",
        "dynamics_params": "IntFire1_exc.json",
    }
    circuit.node_types = {
        "cortex": [{"node_type_id": EXC_TYPE, "pop_name": "LIF_exc", "ei": "e", **common}],
        "lgn": [{"node_type_id": LGN_TYPE, "model_type": "virtual", "pop_name": "tON", "ei": "e"}],
    }
    for pop, rows in circuit.node_types.items():
        write_types_csv(net / f"{pop}_node_types.csv", "node_type_id", rows)
    circuit.node_type_ids = {"cortex": np.full(n_cells, EXC_TYPE), "lgn": np.full(n_lgn, LGN_TYPE)}
    write_nodes(
        net / "cortex_nodes.h5",
        "cortex",
        {},
        node_type_id=circuit.node_type_ids["cortex"],
        mode="w",
    )
    write_nodes(
        net / "lgn_nodes.h5", "lgn", {}, node_type_id=circuit.node_type_ids["lgn"], mode="w"
    )
    circuit.edge_types = {
        "lgn_to_cortex": [{"edge_type_id": LGN_EDGE_TYPE, "syn_weight": w_lgn, "delay": 2.0, "dynamics_params": "exc_point.json"}],
        "cortex_to_cortex": [
            {"edge_type_id": EXC_EDGE_TYPE, "syn_weight": w_rec, "delay": 1.5, "dynamics_params": "exc_point.json"},
            {"edge_type_id": INH_EDGE_TYPE, "syn_weight": w_rec, "delay": 1.0, "dynamics_params": "inh_point.json"},
        ],
    }  # fmt: skip
    for name, rows in circuit.edge_types.items():
        write_types_csv(net / f"{name}_edge_types.csv", "edge_type_id", rows)
    lgn_src = np.concatenate([rng.choice(n_lgn, size=2, replace=False) for _ in range(n_cells)])
    lgn_tgt = np.repeat(np.arange(n_cells), 2)
    pairs = np.array(
        [(s, t) for s in range(n_cells) for t in range(n_cells) if s != t and rng.random() < 0.4]
    )
    inh = (pairs[:, 0] % 2 == 1) if inhibitory else np.zeros(len(pairs), bool)
    specs = {
        "lgn_to_cortex": ("lgn", lgn_src, lgn_tgt, np.full(lgn_src.size, LGN_EDGE_TYPE), np.ones(lgn_src.size, np.int64)),
        "cortex_to_cortex": ("cortex", pairs[:, 0], pairs[:, 1], np.where(inh, INH_EDGE_TYPE, EXC_EDGE_TYPE), np.where(inh, 2, 1)),
    }  # fmt: skip
    for name, (source, src, tgt, types, nsyns) in specs.items():
        order = np.lexsort((src, tgt))
        write_edges(
            net / f"{name}_edges.h5", name, source, "cortex", src[order], tgt[order], {"nsyns": nsyns[order]},
            edge_type_id=types[order], n_source_nodes=circuit.populations[source], n_target_nodes=n_cells, mode="w",
        )  # fmt: skip
        circuit.edges[name] = {
            "source": src[order],
            "target": tgt[order],
            "edge_type_id": types[order],
            "nsyns": nsyns[order],
        }
    counts = rng.poisson(30.0 * tstop / 1000.0, size=n_lgn)
    ids = np.repeat(np.arange(n_lgn), counts).astype(np.uint64)
    times = np.round(rng.uniform(1.0, tstop - 5.0, size=ids.size), 3)
    order = np.argsort(times, kind="stable")
    circuit.lgn_spikes = (ids[order], times[order])
    write_legacy_spikes(root / "inputs" / "lgn_spikes.h5", *circuit.lgn_spikes)
    write_json(
        circuit.circuit_config,
        {
            "manifest": {"$BASE_DIR": "${configdir}"},
            "components": {
                "point_neuron_models_dir": "$BASE_DIR/components/point_neuron_models",
                "synaptic_models_dir": "$BASE_DIR/components/synaptic_models",
            },
            "networks": {
                "nodes": [{"nodes_file": f"$BASE_DIR/network/{p}_nodes.h5", "node_types_file": f"$BASE_DIR/network/{p}_node_types.csv"} for p in ("cortex", "lgn")],
                "edges": [{"edges_file": f"$BASE_DIR/network/{e}_edges.h5", "edge_types_file": f"$BASE_DIR/network/{e}_edge_types.csv"} for e in specs],
            },
        },
    )  # fmt: skip
    write_json(
        circuit.simulation_config,
        {
            "manifest": {"$BASE_DIR": "${configdir}"},
            "run": {"tstop": tstop, "dt": dt, "spike_threshold": -15.0},
            "inputs": {"lgn_spikes": {"input_type": "spikes", "module": "h5", "input_file": "$BASE_DIR/inputs/lgn_spikes.h5", "node_set": "lgn"}},
            "output": {"output_dir": "$BASE_DIR/output", "spikes_file": "spikes.h5", "spikes_sort_order": "time"},
            "network": "$BASE_DIR/circuit_config.json",
        },
    )  # fmt: skip
    return circuit
