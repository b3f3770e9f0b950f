"""Run a config through the engine (reports on) and record, with plain `Vector.record`
every time step, each segment's variables and each synapse's g and i: the independent
values the report files are compared with.

Usage: reports_record.py CONFIG OUTPUT_DIR OUT.npz POPULATION   (one rank)
Saves `t`; `seg_keys` (node id, section id, x), `seg_area`, `seg_<var>` [steps x segments]
(NaN where the variable does not exist); `syn_keys` (node id, edge manager index,
synapse id), `syn_names` (the point process of each), `syn_g`, `syn_i` [steps x synapses].
"""

import sys
from pathlib import Path

import numpy as np

from engine import simulator
from engine.config import load_setup
from engine.logs import setup_logging
from engine.simulation import RunOptions, Simulation

SEGMENT_VARIABLES = ("v", "i_membrane_", "ina", "ik", "i_pas", "gna_hh")


def main() -> None:
    config, output_dir, out, population = sys.argv[1:5]
    setup = load_setup(config, output_dir=output_dir)
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    h = sim.h
    h.cvode.use_fast_imem(1)
    manager = simulation.circuit.node_managers[population]
    seg_keys, areas, seg_vectors = [], [], {v: [] for v in SEGMENT_VARIABLES}
    for node_id in sorted(manager.cells):
        cell = manager.cells[node_id]
        for sid, sec in enumerate(cell.sections):
            for seg in sec:
                seg_keys.append((node_id, sid, seg.x))
                areas.append(seg.area())
                for var in SEGMENT_VARIABLES:
                    ref = getattr(seg, f"_ref_{var}", None)  # None: no such channel here
                    seg_vectors[var].append(h.Vector().record(ref) if ref is not None else None)
    syn_keys, syn_names, syn_g, syn_i = [], [], [], []
    for index, edges in enumerate(simulation.circuit.edge_managers):
        if edges.target.name != population or edges.local is None:
            continue
        for k, process in enumerate(edges.local.targets):
            syn_keys.append(
                (int(edges.local.target_ids[k]), index, int(edges.local.synapse_ids[k]))
            )
            syn_names.append(process.hname())
            syn_g.append(h.Vector().record(process._ref_g))
            syn_i.append(h.Vector().record(process._ref_i))
    t = h.Vector().record(h._ref_t)
    simulation.run()
    simulation.write_outputs()
    n = int(t.size())

    def matrix(vectors):
        cols = [np.array(v) if v is not None else np.full(n, np.nan) for v in vectors]
        return np.stack(cols, axis=1) if cols else np.zeros((n, 0))

    np.savez(
        Path(out),
        t=np.array(t),
        seg_keys=np.array(seg_keys, dtype=np.float64),
        seg_area=np.array(areas),
        syn_keys=np.array(syn_keys, dtype=np.int64),
        syn_names=np.array(syn_names, dtype=str),
        syn_g=matrix(syn_g),
        syn_i=matrix(syn_i),
        **{f"seg_{var}": matrix(vectors) for var, vectors in seg_vectors.items()},
    )


if __name__ == "__main__":
    main()
