"""Build and run a config through the engine's API, recording soma voltages.

Usage: record_soma.py CONFIG OUT.npz POPULATION NODE_ID [NODE_ID ...]
Saves `t`, `v_<node_id>` (from whichever rank owns the cell) for the comparison tests.
"""

import sys
from pathlib import Path

import numpy as np

from engine import simulator
from engine.config import load_setup
from engine.logs import setup_logging
from engine.simulation import RunOptions, Simulation


def main() -> None:
    config, out, population = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    node_ids = [int(n) for n in sys.argv[4:]]
    setup = load_setup(config, output_dir=out.parent / "output")
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    h = sim.h
    manager = simulation.circuit.node_managers[population]
    vectors = {}
    for node_id in node_ids:
        cell = manager.cells.get(node_id)
        if cell is not None:
            vectors[node_id] = h.Vector().record(cell.soma(0.5)._ref_v)
    t = h.Vector().record(h._ref_t)
    simulation.run()
    simulation.write_outputs()
    local = {k: np.array(v) for k, v in vectors.items()}
    parts = sim.gather(local, 0)
    recorded = simulation.spikes.gather()  # what NEURON recorded, before any file I/O
    if sim.is_root:
        merged = {f"v_{k}": v for part in parts for k, v in part.items()}
        offset = manager.offset
        np.savez(
            out,
            t=np.array(t),
            spike_node_ids=recorded[0] - offset,
            spike_times=recorded[1],
            spikes_file=str(setup.output.spikes_file),
            **merged,
        )
    sim.barrier()


if __name__ == "__main__":
    main()
