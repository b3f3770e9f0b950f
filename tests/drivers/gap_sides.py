"""Build and run a config through the engine's API; report every gap junction side as
NEURON has it, and the soma voltage of every local cell.

Usage: gap_sides.py CONFIG OUT.npz

Saves on rank 0 (gathered from every rank):
  sides      JSON list: {population, node_id, section (NEURON name within the cell),
             x (get_segment().x), g (the point process' g, nS), hoc (class)}
  t          simulation times
  v_<pop>_<node id>   soma(0.5) voltage of each cell
"""

import sys
from pathlib import Path

from engine_build import built_simulation, run_and_save, section_owners


def main() -> None:
    config, out = sys.argv[1], Path(sys.argv[2])
    sim, simulation = built_simulation(config, out)
    h = sim.h
    where = section_owners(simulation)
    sides = []
    for manager in simulation.circuit.gap_junctions:
        for side in manager.sides:
            seg = side.point_process.get_segment()
            population, node_id, _ = where[seg.sec.name()]
            sides.append(
                {
                    "population": population,
                    "node_id": node_id,
                    "section": seg.sec.name().split(".")[-1],
                    "x": float(seg.x),
                    "g": float(side.point_process.g),
                    "hoc": side.point_process.hname().split("[")[0],
                }
            )
    records = {}
    for population, manager in simulation.circuit.node_managers.items():
        for node_id, cell in manager.cells.items():
            if getattr(cell, "sections", None):
                records[f"v_{population}_{node_id}"] = h.Vector().record(
                    cell.sections[0](0.5)._ref_v
                )
    run_and_save(sim, simulation, out, "sides", sides, records)


if __name__ == "__main__":
    main()
