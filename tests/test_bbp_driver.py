"""Engine driver for the BBP-style tests (no tests here): run a config, save what happened.

Usage: [SONATASIM_TEST_NO_SHARING=1] test_bbp_driver.py CONFIG OUT.npz
Builds and runs the config through the engine's API (creating gap junctions and calling
pc.setup_transfer itself if the simulation did not), and saves on rank 0: soma voltages of
every cell, the spikes, and per local edge what its synapse received (mechanism, section,
x, Random123 keys, parameters, NetCon weight), plus each cell's section table.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np


def _synapse_records(simulation) -> dict[str, list]:
    """Per local edge: what the engine gave its synapse (for the key/parameter checks)."""
    rows: dict[str, list] = {
        k: []
        for k in ("edges", "edge_id", "node_id", "synapse_id", "mechanism", "section", "x", "keys")
    }
    rows["params"] = []
    rows["weight"] = []
    rows["cells"] = []
    rows["point_processes"] = [
        [m.name, m.point_processes] for m in simulation.circuit.edge_managers
    ]
    for population, node_manager in simulation.circuit.node_managers.items():
        for node_id, cell in sorted(node_manager.cells.items()):
            if getattr(cell, "is_artificial", False):
                continue
            axon = list(cell.hoc.axon)
            rows["cells"].append(
                {
                    "population": population,
                    "node_id": node_id,
                    "table": [s.name().split(".")[-1] if s else "" for s in cell.sections],
                    "axon_diam": [float(sec.diam) for sec in axon],
                    "soma_g_pas": float(cell.soma(0.5).g_pas),
                    "lengths": {s.name().split(".")[-1]: float(s.L) for s in cell.sections if s},
                }
            )
    for manager in simulation.circuit.edge_managers:
        local = manager.local
        for i in range(len(local)):
            pp = local.targets[i]
            rows["edges"].append(manager.name)
            rows["edge_id"].append(int(local.edge_ids[i]))
            rows["node_id"].append(int(local.target_ids[i]))
            rows["synapse_id"].append(int(local.synapse_ids[i]))
            rows["weight"].append(float(local.weights[i]))
            if pp is None:
                for key in ("mechanism", "section"):
                    rows[key].append("")
                rows["x"].append(-1.0)
                rows["keys"].append([-1, -1, -1])
                rows["params"].append({})
                continue
            segment = pp.get_segment()
            rows["mechanism"].append(pp.hname().split("[")[0])
            rows["section"].append(segment.sec.name().split(".")[-1])
            rows["x"].append(float(segment.x))
            ids = pp.rng.get_ids() if hasattr(pp, "rng") else None
            rows["keys"].append([int(v) for v in ids] if ids is not None else [-1, -1, -1])
            names = ("Use", "Dep", "Fac", "Nrrp", "NMDA_ratio", "GABAB_ratio", "tau_d_AMPA")
            names += ("tau_d_GABAA", "tau_r_GABAA", "synapseID", "conductance")
            rows["params"].append({n: float(getattr(pp, n)) for n in names if hasattr(pp, n)})
    return rows


def main() -> None:
    from engine import simulator
    from engine.config import load_setup
    from engine.logs import setup_logging
    from engine.managers.circuit import open_edge_population
    from engine.managers.synapses.gap_junctions import create_gap_junctions
    from engine.simulation import RunOptions, Simulation

    config, out = sys.argv[1], Path(sys.argv[2])
    if os.environ.get("SONATASIM_TEST_NO_SHARING"):
        from engine.managers.synapses.edges import EdgeManager

        EdgeManager.share_linear_synapses = False
    setup = load_setup(config, output_dir=out.parent / f"output_{out.stem}")
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    circuit = simulation.circuit
    if getattr(circuit, "gap_junctions", None) is None and any(
        info.type == "electrical" for info in setup.edge_populations.values()
    ):
        circuit.gap_junctions = create_gap_junctions(
            circuit, lambda info: open_edge_population(info.edges_file, info.name)
        )
        sim.pc.setup_transfer()
    h = sim.h
    voltages = {}
    for population, manager in circuit.node_managers.items():
        for node_id, cell in manager.cells.items():
            voltages[f"{population}_{node_id}"] = h.Vector().record(cell.soma(0.5)._ref_v)
    t = h.Vector().record(h._ref_t)
    records = _synapse_records(simulation)
    simulation.run()
    simulation.write_outputs()
    parts = sim.gather(({k: np.array(v) for k, v in voltages.items()}, records), 0)
    spikes = simulation.spikes.gather()
    if sim.is_root:
        merged_v = {f"v_{k}": v for part, _ in parts for k, v in part.items()}
        merged = {k: [x for _, rec in parts for x in rec[k]] for k in parts[0][1]}
        np.savez(
            out,
            t=np.array(t),
            spike_gids=np.asarray(spikes[0]),
            spike_times=np.asarray(spikes[1]),
            records=json.dumps(merged),
            **merged_v,
        )
    sim.barrier()


if __name__ == "__main__":
    main()
