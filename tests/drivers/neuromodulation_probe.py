"""Engine driver for the neuromodulation tests: build, inspect the links, run, save.

Usage: neuromodulation_probe.py CONFIG OUT.json
Writes on rank 0: per chemical edge its place and point process (named by its first
edge); per neuromodulatory
edge the point process it is linked to and its replay NetCons (delay, weights); per point
process the final `neuromod_conc`; soma voltages (as lists) and the spikes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine_build import built_simulation


def main() -> None:

    config, out = sys.argv[1], Path(sys.argv[2])
    sim, simulation = built_simulation(config, out)
    h = sim.h
    circuit = simulation.circuit
    # a point process is named by its first edge, `<edges>:<edge id>` (hoc names are per rank)
    chemical, synapses, stable = [], {}, {}
    for manager in circuit.edge_managers:
        local, where = manager.local, manager.where
        for i in range(len(local)):
            pp = local.targets[i]
            name = None
            if pp is not None:
                name = stable.setdefault(pp.hname(), f"{manager.name}:{int(local.edge_ids[i])}")
            chemical.append(
                {
                    "source": manager.source.name,
                    "source_id": int(local.source_ids[i]),
                    "node_id": int(local.target_ids[i]),
                    "section": int(where.section_ids[i]),
                    "pos": float(where.positions[i]),
                    "synapse": name,
                }
            )
            if pp is not None:
                synapses[name] = pp
    replay = simulation.replay
    netcons_of: dict[str, list] = {}
    for nc in replay.netcons if replay is not None else []:
        target = nc.syn()
        if target.hname() in stable:
            netcons_of.setdefault(stable[target.hname()], []).append(nc)
    modulated = []
    for manager in circuit.neuromodulation_managers:
        local = manager.local
        for i in range(len(local)):
            pp = local.targets[i]
            modulated.append(
                {
                    "edge": int(local.edge_ids[i]),
                    "source_id": int(local.source_ids[i]),
                    "node_id": int(local.target_ids[i]),
                    "section": int(manager.where.section_ids[i]),
                    "pos": float(manager.where.positions[i]),
                    "synapse": stable[pp.hname()] if pp is not None else None,
                }
            )
    netcons = {
        name: [
            {
                "delay": float(nc.delay),
                "weights": [float(nc.weight[k]) for k in range(int(nc.wcnt()))],
            }
            for nc in found
        ]
        for name, found in netcons_of.items()
    }
    voltages = {}
    for population, manager in circuit.node_managers.items():
        for node_id, cell in manager.cells.items():
            voltages[f"{population}_{node_id}"] = h.Vector().record(cell.soma(0.5)._ref_v)
    simulation.run()
    concentrations = {name: float(pp.neuromod_conc) for name, pp in synapses.items()}
    part = {
        "chemical": chemical,
        "modulated": modulated,
        "netcons": netcons,
        "concentrations": concentrations,
        "voltages": {k: list(v) for k, v in voltages.items()},
    }
    parts = sim.gather(part, 0)
    spikes = simulation.spikes.gather()
    if sim.is_root:
        merged = {
            "chemical": [x for p in parts for x in p["chemical"]],
            "modulated": [x for p in parts for x in p["modulated"]],
            "netcons": {k: v for p in parts for k, v in p["netcons"].items()},
            "concentrations": {k: v for p in parts for k, v in p["concentrations"].items()},
            "voltages": {k: v for p in parts for k, v in p["voltages"].items()},
            "spikes": [[int(g), float(t)] for g, t in zip(*spikes, strict=True)],
        }
        out.write_text(json.dumps(merged))
    sim.barrier()


if __name__ == "__main__":
    main()
