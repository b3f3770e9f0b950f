"""Build and run a config through the engine's API; report where every input's point
process sits, as NEURON has it, and what it played.

Usage: injection_sites.py CONFIG OUT.npz

Saves on rank 0 (gathered from every rank):
  t                          simulation times
  sites                      JSON list, one entry per point process of every input:
                             {input, hoc (point process class), population, node_id,
                              section_id, section (NEURON name within the cell),
                              x (get_segment().x), nseg, key, distance (path
                              distance of the segment centre from soma[0](0), um),
                              length (segment length, um)}
                             section_id is the index of the point process' section in the
                             cell's SONATA section list, looked up by the section itself
  <key>__amp, <key>__i       the source's recorded amp (or rs) and current
"""

import sys
from pathlib import Path

from engine_build import built_simulation, run_and_save, section_owners

PLAYED = ("amp", "rs", "amp1")


def _soma_distance(h, seg) -> float:
    owner = seg.sec.cell()
    soma = getattr(owner, "soma", None) if owner is not None else None
    return float(h.distance(soma[0](0), seg)) if soma is not None else float("nan")


def main() -> None:
    config, out = sys.argv[1], Path(sys.argv[2])
    sim, simulation = built_simulation(config, out)
    h = sim.h
    where = section_owners(simulation)
    sites, records = [], {}
    for stimulus in simulation.stimuli.stimuli:
        for injection in stimulus.injections:
            source = injection.source
            seg = source.get_segment()
            population, node_id, sid = where[seg.sec.name()]
            key = f"{stimulus.name}__r{sim.rank}__{len(sites)}"
            sites.append(
                {
                    "input": stimulus.name,
                    "hoc": source.hname().split("[")[0],
                    "population": population,
                    "node_id": node_id,
                    "section_id": sid,
                    "section": seg.sec.name().split(".")[-1],
                    "x": float(seg.x),
                    "nseg": int(seg.sec.nseg),
                    "key": key,
                    "distance": _soma_distance(h, seg),
                    "length": float(seg.sec.L / seg.sec.nseg),
                }
            )
            played = next(v for v in PLAYED if hasattr(source, f"_ref_{v}"))
            records[f"{key}__amp"] = h.Vector().record(getattr(source, f"_ref_{played}"))
            records[f"{key}__i"] = h.Vector().record(source._ref_i)
    run_and_save(sim, simulation, out, "sites", sites, records)


if __name__ == "__main__":
    main()
