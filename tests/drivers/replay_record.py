"""Build and run a config through the engine's API, recording what the synapse_replay
NetCons the engine created send and what their synapses receive.

Usage: replay_record.py CONFIG OUT.json

For every NetCon in `simulation.replay.netcons` (gathered from every rank on rank 0):
  population, node_id      the target cell
  section_id               index of the synapse's section in the cell's SONATA section list
  x, nseg                  the synapse's segment centre (get_segment().x) and the section's nseg
  synapse                  "<rank>:<hoc name>" of the point process (unique per synapse)
  delay, weight            nc.delay and the NetCon's weight vector
  sent                     NetCon.record (on one NetCon per source, as NEURON keeps one
                           record vector per source): times the source emitted an event
  received                 the distinct values the synapse's `tsyn` took during the run
                           (our Prob* synapses set tsyn = t on every delivered event);
                           null for a synapse without `tsyn`
Also `spikes`: [[population, node_id, time], ...] of every cell spike NEURON recorded.
"""

import json
import sys
from pathlib import Path

import numpy as np
from engine_build import built_simulation, section_owners


def main() -> None:
    config, out = sys.argv[1], Path(sys.argv[2])
    sim, simulation = built_simulation(config, out)
    h = sim.h
    where = section_owners(simulation)
    rows, sent, recorded, tsyn = [], [], {}, {}
    for nc in simulation.replay.netcons:
        syn = nc.syn()
        seg = syn.get_segment()
        population, node_id, sid = where[seg.sec.name()]
        name = f"{sim.rank}:{syn.hname()}"
        rows.append(
            {
                "population": population,
                "node_id": node_id,
                "section_id": sid,
                "x": float(seg.x),
                "nseg": int(seg.sec.nseg),
                "synapse": name,
                "delay": float(nc.delay),
                "weight": [float(nc.weight[k]) for k in range(int(nc.wcnt()))],
            }
        )
        source = nc.pre().hname()  # NetCon.record records per source: once per source
        if source not in recorded:
            recorded[source] = h.Vector()
            nc.record(recorded[source])
        sent.append(recorded[source])
        if name not in tsyn and hasattr(syn, "_ref_tsyn"):
            tsyn[name] = h.Vector().record(syn._ref_tsyn)
    simulation.run()
    for row, vec in zip(rows, sent, strict=True):
        row["sent"] = list(map(float, vec))
        trace = np.array(tsyn[row["synapse"]]) if row["synapse"] in tsyn else None
        row["received"] = None if trace is None else sorted(set(map(float, trace[trace > 0])))
    gathered = simulation.spikes.gather()
    parts = sim.gather(rows, 0)
    if sim.is_root:
        gids, times = gathered
        offsets = simulation.circuit.offsets
        spikes = []
        for gid, t in zip(np.asarray(gids).tolist(), np.asarray(times).tolist(), strict=True):
            population = max((p for p in offsets if offsets[p] <= gid), key=offsets.get)
            spikes.append([population, int(gid - offsets[population]), float(t)])
        merged = [row for part in parts for row in part]
        out.write_text(json.dumps({"netcons": merged, "spikes": spikes}))
    sim.barrier()


if __name__ == "__main__":
    main()
