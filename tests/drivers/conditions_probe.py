"""Engine driver for the experimental-conditions tests: build, inspect NEURON, run, save.

Usage: conditions_probe.py CONFIG OUT.npz
Saves on rank 0: `t`, `v_<population>_<node>` soma voltages, the recorded spikes, and
`records` (JSON) with what NEURON holds after the build: per edge its point process
(mechanism, parameters, Random123 ids), every NetCon onto it (kind, delay, weights), every
minis source (rate, stream ids, emitted times), per cell its spike source, template values
and per-segment values of a few variables, and the globals named in conditions.mechanisms.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from engine_build import built_simulation

PP_PARAMS = ("Use", "Dep", "Fac", "Nrrp", "NMDA_ratio", "GABAB_ratio", "tau_d_AMPA")
PP_PARAMS += ("tau_d_GABAA", "tau_r_GABAA", "synapseID", "conductance", "tau1", "tau2", "e")
PP_PARAMS += ("Use_d", "Use_p", "theta_d_GB", "theta_p_GB", "rho0_GB", "volume_CR")  # GluSynapse
PP_PARAMS += ("gmax_d_AMPA", "gmax_p_AMPA", "gmax0_AMPA", "gmax_NMDA")
SEGMENT_VARIABLES = ("gnabar_hh", "gkbar_hh", "g_pas", "cm", "ttxo", "ttxi", "level_SonataTTX")
SEGMENT_VARIABLES += ("gnabar_TestNaTTX",)  # tests/test_ttx_channels.py


def _ids(stream) -> list[int]:
    return [int(v) for v in stream.get_ids()]


def _netcon_kind(netcon) -> str:
    source = netcon.pre()
    if source is None:
        return "presynaptic"
    return {"SonataVecStim": "replay", "SonataInhPoissonStim": "mini"}.get(
        source.hname().split("[")[0], "other"
    )


def _edges(simulation, h) -> tuple[list, dict]:
    rows, by_synapse = [], {}
    for manager in simulation.circuit.edge_managers:
        local = manager.local
        for i in range(len(local)):
            pp = local.targets[i]
            row = {
                "key": f"{manager.name}:{int(local.edge_ids[i])}",
                "node_id": int(local.target_ids[i]),
                "source_id": int(local.source_ids[i]),
                "synapse_id": int(local.synapse_ids[i]),
                "mechanism": "",
                "params": {},
                "keys": [],
                "netcons": [],
            }
            if pp is not None:
                row["mechanism"] = pp.hname().split("[")[0]
                row["params"] = {n: float(getattr(pp, n)) for n in PP_PARAMS if hasattr(pp, n)}
                row["keys"] = _ids(pp.rng) if hasattr(pp, "rng") else []
                segment = pp.get_segment()
                row["section"] = segment.sec.name().split(".")[-1]
                by_synapse[pp.hname()] = row
            rows.append(row)
    for netcon in h.List("NetCon"):
        target = netcon.syn()
        row = by_synapse.get(target.hname()) if target is not None else None
        if row is not None:
            weights = [float(netcon.weight[k]) for k in range(int(netcon.wcnt()))]
            row["netcons"].append(
                {"kind": _netcon_kind(netcon), "delay": float(netcon.delay), "weights": weights}
            )
    return rows, by_synapse


def _cells(simulation, h) -> list[dict]:
    rows = []
    sources = {}
    for netcon in simulation.circuit.spike_sources:
        segment = netcon.preseg()
        if segment is not None:
            owner, _, name = segment.sec.name().rpartition(".")
            sources[owner] = (name, float(segment.x))
    for population, manager in sorted(simulation.circuit.node_managers.items()):
        for node_id, cell in sorted(manager.cells.items()):
            if getattr(cell, "is_artificial", False):
                continue
            tree = h.SectionList()
            tree.wholetree(sec=cell.soma)
            sections = {}
            for sec in tree:
                values = {}
                for name in SEGMENT_VARIABLES:
                    if hasattr(sec(0.5), name):
                        values[name] = [float(getattr(seg, name)) for seg in sec]
                values["Ra"] = float(sec.Ra)
                sections[sec.name().split(".")[-1]] = values
            rows.append(
                {
                    "population": population,
                    "node_id": node_id,
                    "gid": cell.gid,
                    "hoc_gid": float(getattr(cell.hoc, "gid", -1)),
                    "channel_seed": float(getattr(cell.hoc, "channel_seed", -2)),
                    "spike_source": sources.get(cell.soma.name().rpartition(".")[0]),
                    "sections": sections,
                }
            )
    return rows


def main() -> None:

    config, out = sys.argv[1], Path(sys.argv[2])
    sim, simulation = built_simulation(config, out)
    h = sim.h
    edges, _ = _edges(simulation, h)
    minis = []
    recorders = []
    for stim, netcon, (name, i) in zip(
        simulation.minis.sources, simulation.minis.netcons, simulation.minis.edges, strict=True
    ):
        times = h.Vector()
        netcon.record(times)
        recorders.append(times)
        local = next(m for m in simulation.circuit.edge_managers if m.name == name).local
        minis.append(
            {
                "key": f"{name}:{int(local.edge_ids[i])}",
                "rate": float(stim.rate),
                "exp_ids": _ids(stim.exp_rng),
                "uniform_ids": _ids(stim.uniform_rng),
            }
        )
    mechanisms = simulation.setup.conditions.mechanisms
    globals_ = {f"{n}_{s}": float(getattr(h, f"{n}_{s}")) for s, v in mechanisms.items() for n in v}
    globals_.update(celsius=float(h.celsius), v_init=float(h.v_init))
    records = {"edges": edges, "cells": _cells(simulation, h), "globals": globals_}
    voltages = {}
    for population, manager in simulation.circuit.node_managers.items():
        for node_id, cell in manager.cells.items():
            vector = h.Vector().record(cell.soma(0.5)._ref_v)
            voltages[f"v_{population}_{node_id}"] = vector
    t = h.Vector().record(h._ref_t)
    simulation.run()
    for row, times in zip(minis, recorders, strict=True):
        row["times"] = list(times)
    records["minis"] = minis
    parts = sim.gather(({k: np.array(v) for k, v in voltages.items()}, records), 0)
    spikes = simulation.spikes.gather()
    if sim.is_root:
        merged = {k: v for part, _ in parts for k, v in part.items()}
        joined = {k: [x for _, rec in parts for x in rec[k]] for k in ("edges", "cells", "minis")}
        joined["globals"] = parts[0][1]["globals"]
        np.savez(
            out,
            t=np.array(t),
            spike_gids=np.asarray(spikes[0]),
            spike_times=np.asarray(spikes[1]),
            records=json.dumps(joined),
            **merged,
        )
    sim.barrier()


if __name__ == "__main__":
    main()
