"""Build and run a config through the engine's API, recording what the inputs inject.

Usage: stimuli_record.py CONFIG OUT.npz [--imem] [--waveforms] [--no-run] [--efield]

Saves (gathered from every rank on rank 0):
  t                              simulation times
  v__<gid>, area__<gid>          soma(0.5) voltage and soma segment area of every cell
  <input>__<gid>__<k>__<var>     per injection k of the cell: amp/i (current sources),
                                 rs/i (conductance sources), amp1/i (voltage clamps)
  imem__<gid>                    with --imem: sum of i_membrane_ over the cell's segments
  <input>__<gid>__<k>__wt/__wv   with --waveforms: the played (time, value) vectors
  <input>__<key>[__r<rank>]      what a stimulus' export() returns (poisson trains, ...)
  spike_gids, spike_times        every spike NEURON recorded
  efield__<gid>__<sec>__<j>      with --efield: e_extracellular of segment j of section
                                 index sec, and efield_x__... its x (position in section)
With --no-run only the waveforms are saved (nothing is simulated).
"""

import sys
from pathlib import Path

import numpy as np

from engine import simulator
from engine.config import load_setup
from engine.logs import setup_logging
from engine.simulation import RunOptions, Simulation

VARIABLES = {
    "current": ("amp", "i"),
    "conductance": ("rs", "i"),
    "voltage_clamp": ("amp1", "i"),
}


def main() -> None:
    config, out = sys.argv[1], Path(sys.argv[2])
    flags = set(sys.argv[3:])
    imem, waveforms, run = "--imem" in flags, "--waveforms" in flags, "--no-run" not in flags
    setup = load_setup(config, output_dir=out.parent / "output")
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    h = sim.h
    if imem:
        h.CVode().use_fast_imem(1)
    records = {}
    for stimulus in simulation.stimuli.stimuli:
        export = getattr(stimulus, "export", None)
        for key, value in (export() if export else {}).items():
            suffix = "" if key.startswith("train__") else f"__r{sim.rank}"
            records[f"{stimulus.name}__{key}{suffix}"] = value
        counts: dict[int, int] = {}
        for injection in getattr(stimulus, "injections", []):
            k = counts.get(injection.gid, 0)
            counts[injection.gid] = k + 1
            if waveforms and len(injection.vectors) == 2:
                prefix = f"{stimulus.name}__{injection.gid}__{k}"
                records[f"{prefix}__wt"] = np.array(injection.vectors[0])
                records[f"{prefix}__wv"] = np.array(injection.vectors[1])
            if not run:
                continue
            for var in VARIABLES[injection.kind]:
                key = f"{stimulus.name}__{injection.gid}__{k}__{var}"
                records[key] = h.Vector().record(getattr(injection.source, f"_ref_{var}"))
    segments = {}
    for manager in simulation.circuit.node_managers.values() if run else []:
        for cell in manager.cells.values():
            if getattr(cell, "is_artificial", False):
                continue
            records[f"v__{cell.gid}"] = h.Vector().record(cell.soma(0.5)._ref_v)
            records[f"area__{cell.gid}"] = cell.soma(0.5).area()
            if imem:
                segments[cell.gid] = [
                    h.Vector().record(seg._ref_i_membrane_) for sec in cell.sections for seg in sec
                ]
    state = simulation.stimuli.context.shared.get("efield") if "--efield" in flags else None
    cells = {c.gid: c for m in simulation.circuit.node_managers.values() for c in m.cells.values()}
    for gid, s, j in state.segments if state is not None else []:
        segment = list(cells[gid].sections[s])[j]
        records[f"efield__{gid}__{s}__{j}"] = h.Vector().record(segment._ref_e_extracellular)
        records[f"efield_x__{gid}__{s}__{j}"] = segment.x
    t = h.Vector()
    if any(True for _ in h.allsec()):  # recording t needs a section to exist
        t.record(h._ref_t)
    if run:
        simulation.run()
    local = {
        k: (v if isinstance(v, float | np.ndarray) else np.array(v)) for k, v in records.items()
    }
    for gid, vectors in segments.items():
        local[f"imem__{gid}"] = np.sum([np.array(v) for v in vectors], axis=0)
    spikes = simulation.spikes.gather() if run else None
    parts = sim.gather(local, 0)
    if sim.is_root:
        merged = {k: v for part in parts for k, v in part.items()}
        if spikes is not None:
            merged["spike_gids"], merged["spike_times"] = spikes
        np.savez(out, t=np.array(t), **merged)
    sim.barrier()


if __name__ == "__main__":
    main()
