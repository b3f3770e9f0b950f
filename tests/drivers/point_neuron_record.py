"""Engine driver: build and run a config, save what each artificial cell got and the spikes.

Usage: point_neuron_record.py CONFIG OUT.json POPULATION
Saves (rank 0) per local node of POPULATION: the NEURON object's class name and the
values of IntFire1/2/4 parameters it has; and every spike (gid, time) NEURON recorded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine import simulator
from engine.config import load_setup
from engine.logs import setup_logging
from engine.simulation import RunOptions, Simulation

PARAMETERS = ("tau", "refrac", "taum", "taus", "ib", "taue", "taui1", "taui2")


def main() -> None:
    config, out, population = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    setup = load_setup(config, output_dir=out.parent / f"output_{out.stem}")
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    manager = simulation.circuit.node_managers[population]
    cells = {}
    for node_id, cell in sorted(manager.cells.items()):
        hoc = cell.hoc
        cells[str(node_id)] = {
            "gid": cell.gid,
            "class": hoc.hname().split("[")[0],
            "params": {p: float(getattr(hoc, p)) for p in PARAMETERS if hasattr(hoc, p)},
        }
    simulation.run()
    simulation.write_outputs()
    parts = sim.gather(cells, 0)
    gids, times = simulation.spikes.gather()
    if sim.is_root:
        merged = {k: v for part in parts for k, v in part.items()}
        result = {
            "cells": merged,
            "offset": manager.offset,
            "spike_gids": [int(g) for g in gids],
            "spike_times": [float(t) for t in times],
        }
        out.write_text(json.dumps(result))
    sim.barrier()


if __name__ == "__main__":
    main()
