"""Plain NEURON, no engine: a network of NEURON artificial cells described in a json file.

Usage: plain_intfire.py SPEC.json OUT.json

SPEC: {"dt", "tstop", "cells": [{"class": "IntFire2", "params": {...}}, ...] (gid = index),
"edges": [[source, target, weight, delay], ...] where source is a cell index or
{"input": times} (spike times of a virtual fibre, replayed with NetCon.event)}.
Delays are put on the time grid as neurodamus does, trunc(delay/dt + 1e-5) * dt. Writes
the spikes (gid, time) recorded by ParallelContext.spike_record.
"""

from __future__ import annotations

import json
import math
import os
import sys

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

h.load_file("stdrun.hoc")


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    dt, tstop = spec["dt"], spec["tstop"]
    pc = h.ParallelContext()
    cells = []
    for gid, item in enumerate(spec["cells"]):
        cell = getattr(h, item["class"])()
        for name, value in item["params"].items():
            setattr(cell, name, value)
        pc.set_gid2node(gid, 0)
        pc.cell(gid, h.NetCon(cell, None))
        cells.append(cell)
    keep, events = [], []
    for source, target, weight, delay in spec["edges"]:
        delay = math.trunc(delay / dt + 1e-5) * dt
        if isinstance(source, dict):
            nc = h.NetCon(None, cells[target])
            events += [(nc, t + delay) for t in source["input"]]
        else:
            nc = pc.gid_connect(source, cells[target])
            nc.delay = delay
        nc.weight[0] = weight
        keep.append(nc)
    handler = h.FInitializeHandler(lambda: [nc.event(t) for nc, t in events])
    times, gids = h.Vector(), h.Vector()
    pc.spike_record(-1, times, gids)
    h.dt, h.steps_per_ms, h.tstop = dt, 1.0 / dt, tstop
    pc.set_maxstep(10)
    h.stdinit()
    pc.psolve(tstop)
    del handler
    with open(sys.argv[2], "w") as f:
        json.dump({"gids": [int(g) for g in gids], "times": list(times)}, f)


if __name__ == "__main__":
    main()
