"""Plain-NEURON baseline for bench_point_network.py: the same model, built the obvious way.

Usage: plain_point_network.py CIRCUIT_DIR [--spikes-out FILE.npz] [--mpi]

Reads a circuit written by `engine.generate.networks.generate_point_network` with h5py (nodes,
edges, the input spike file, the simulation config) and builds it with a Python loop:
one IntFire1 per cell (`pc.set_gid2node` / `pc.cell`), one `pc.gid_connect` NetCon per
recurrent edge, one SonataVecStim per virtual source and one NetCon per virtual edge.
Nothing of the engine is used to build the model; only `engine.mechanisms.build_mechanisms`
is called to find the (cached) compiled library that holds SonataVecStim.

Prints one JSON line on rank 0 with the time of each phase (time.perf_counter), the spike
count and peak memory; `--spikes-out` saves all spikes (node id, time) for comparison.
Under mpiexec (`--mpi`), cell i lives on rank i % nranks, as the engine's round-robin plan.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import h5py
import numpy as np

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("circuit", type=Path, help="directory with simulation_config.json")
parser.add_argument("--spikes-out", type=Path, help="save spikes (node_ids, timestamps) here")
parser.add_argument("--mpi", action="store_true", help="initialise MPI (run under mpiexec)")
args = parser.parse_args()

if args.mpi:
    from mpi4py import MPI  # noqa: F401  (MPI must be up before NEURON looks for it)
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

if args.mpi:
    h.nrnmpi_init()
pc = h.ParallelContext()
h.load_file("stdrun.hoc")
rank, nranks = int(pc.id()), int(pc.nhost())
phases: dict[str, float] = {}


class Phase:
    """`with Phase("cells"):` stores the elapsed wall time in phases["cells"]."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        phases[self.name] = time.perf_counter() - self.start


def read_group0(pop: h5py.Group, kind: str, name: str) -> np.ndarray:
    """Attribute `name` of group 0 in row order; `kind` is "node" or "edge"."""
    assert not np.any(pop[f"{kind}_group_id"][...]), "expected a single group 0"
    return pop["0"][name][...][pop[f"{kind}_group_index"][...]]


# --- mechanisms: our compiled library (a cache hit), loaded the NEURON way ----------------
with Phase("mechanisms"):
    from engine.mechanisms import build_mechanisms

    h.nrn_load_dll(str(build_mechanisms([])))

# --- read: config, nodes, edges, input spikes ---------------------------------------------
with Phase("read"):
    root = args.circuit.resolve()
    config = json.loads((root / "simulation_config.json").read_text())
    run, conditions = config["run"], config["conditions"]
    dt, tstop = float(run["dt"]), float(run["tstop"])
    spike_file = root / config["inputs"]["input_spikes"]["spike_file"]
    replay_delay = float(config["inputs"]["input_spikes"]["delay"])
    with h5py.File(root / "nodes.h5", "r") as f:
        net = f["nodes/net"]
        n_cells = net["node_type_id"].shape[0]
        templates = read_group0(net, "node", "model_template")
        tau = read_group0(net, "node", "dynamics_params/tau")
        refrac = read_group0(net, "node", "dynamics_params/refrac")
    local_ids = np.arange(rank, n_cells, nranks)  # round-robin, as the engine
    is_local = np.zeros(n_cells, dtype=bool)
    is_local[local_ids] = True
    edges = {}
    with h5py.File(root / "edges.h5", "r") as f:
        for name in ("input__net", "net__net"):
            pop = f["edges"][name]
            tgt = pop["target_node_id"][...].astype(np.int64)
            keep = is_local[tgt]  # the afferent edges of this rank's cells, file order
            edges[name] = (
                pop["source_node_id"][...].astype(np.int64)[keep],
                tgt[keep],
                read_group0(pop, "edge", "syn_weight")[keep],  # IntFire1 targets: syn_weight as is
                np.trunc(read_group0(pop, "edge", "delay")[keep] / dt + 1e-5) * dt,  # whole steps
            )
    with h5py.File(spike_file, "r") as f:
        input_ids = f["spikes/input/node_ids"][...].astype(np.int64)
        input_times = f["spikes/input/timestamps"][...].astype(np.float64)
    keep = input_times >= replay_delay
    input_ids, input_times = input_ids[keep], input_times[keep]

h.celsius = float(conditions.get("celsius", 34.0))
h.v_init = float(conditions.get("v_init", -80.0))
h.dt = dt
h.steps_per_ms = 1.0 / dt
h.tstop = tstop
h.cvode_active(0)

# --- cells: one IntFire1 per local node, registered as a spike source -------------------
with Phase("cells"):
    cells = {}
    spike_sources = []
    for i in local_ids:
        assert templates[i] in (b"nrn:IntFire1", "nrn:IntFire1"), templates[i]
        cell = h.IntFire1()
        cell.tau = tau[i]
        cell.refrac = refrac[i]
        cells[int(i)] = cell
        pc.set_gid2node(int(i), rank)
        nc = h.NetCon(cell, None)
        pc.cell(int(i), nc)
        spike_sources.append(nc)
    spike_times, spike_gids = h.Vector(), h.Vector()
    pc.spike_record(-1, spike_times, spike_gids)

# --- edges: one gid_connect NetCon per recurrent edge --------------------------------------
with Phase("edges"):
    netcons = []
    src, tgt, weight, delay = edges["net__net"]
    for s, t, w, d in zip(src.tolist(), tgt.tolist(), weight.tolist(), delay.tolist(), strict=True):
        nc = pc.gid_connect(s, cells[t])
        nc.delay = d
        nc.weight[0] = w
        netcons.append(nc)

# --- inputs: one SonataVecStim per virtual source, one NetCon per virtual edge -------------
with Phase("inputs"):
    stims, vectors = {}, []
    src, tgt, weight, delay = edges["input__net"]
    for s in np.unique(src).tolist():
        times = np.sort(input_times[input_ids == s])
        if times.size == 0:
            continue
        vec = h.Vector(times)
        stim = h.SonataVecStim()
        stim.play(vec)
        stims[s] = stim
        vectors.append(vec)
    for s, t, w, d in zip(src.tolist(), tgt.tolist(), weight.tolist(), delay.tolist(), strict=True):
        stim = stims.get(s)
        if stim is None:
            continue
        nc = h.NetCon(stim, cells[t])
        nc.delay = d
        nc.weight[0] = w
        netcons.append(nc)

with Phase("init"):
    pc.set_maxstep(4)
    h.stdinit()

with Phase("run"):
    pc.psolve(tstop)

local = (
    np.array(spike_gids, dtype=np.int64),
    np.array(spike_times, dtype=np.float64),
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    phases,
    (len(cells), len(netcons), len(stims)),
)
parts = pc.py_gather(local, 0) if nranks > 1 else [local]
if rank == 0:
    gids = np.concatenate([p[0] for p in parts])
    times = np.concatenate([p[1] for p in parts])
    order = np.lexsort((gids, times))
    if args.spikes_out is not None:
        np.savez(args.spikes_out, node_ids=gids[order], timestamps=times[order])
    result = {
        "ranks": nranks,
        "cells": n_cells,
        "local_cells": sum(p[4][0] for p in parts),
        "netcons": sum(p[4][1] for p in parts),
        "vecstims": sum(p[4][2] for p in parts),
        "phases": {k: max(p[3][k] for p in parts) for k in phases},
        "spikes": int(gids.size),
        "peak_memory_mb_max": max(p[2] for p in parts),
        "peak_memory_mb_total": sum(p[2] for p in parts),
    }
    print(json.dumps(result))
pc.barrier()
