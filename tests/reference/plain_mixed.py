"""Plain NEURON, no engine: a network mixing ball-and-stick cells and artificial cells.

Usage: plain_mixed.py SPEC.json OUT.json

SPEC: {"dt", "tstop", "celsius", "v_init", "threshold", "cells": [{"class": "ball_and_stick"}
or {"class": "IntFire1", "params": {...}}, ...] (gid = index), "edges": [[source, target,
weight, delay, group], ...]}: source a cell index or {"input": times} (a virtual fibre,
replayed with NetCon.event at time + delay); onto a ball-and-stick cell the edge drives an
Exp2Syn (tau1 0.5, tau2 2, e 0) at soma(0.5), one per (cell, group) as linear synapses of
one edge population share one; onto an artificial cell it drives the cell. Delays are put
on the grid as neurodamus does, trunc(delay/dt + 1e-5) * dt. Writes the spikes.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from neuron import h  # noqa: E402
from plain_ring import ball_and_stick  # noqa: E402

h.load_file("stdrun.hoc")


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    dt, tstop = spec["dt"], spec["tstop"]
    pc = h.ParallelContext()
    cells = []
    for gid, item in enumerate(spec["cells"]):
        if item["class"] == "ball_and_stick":
            soma, dend = ball_and_stick(hh=True)
            source = h.NetCon(soma(1)._ref_v, None, sec=soma)
            source.threshold = spec["threshold"]
            cells.append({"soma": soma, "dend": dend, "synapses": {}})
        else:
            cell = getattr(h, item["class"])()
            for name, value in item["params"].items():
                setattr(cell, name, value)
            source = h.NetCon(cell, None)
            cells.append({"artificial": cell})
        pc.set_gid2node(gid, 0)
        pc.cell(gid, source)
    keep, events = [], []
    for source, target, weight, delay, group in spec["edges"]:
        cell = cells[target]
        if "artificial" in cell:
            receiver = cell["artificial"]
        else:
            receiver = cell["synapses"].get(group)
            if receiver is None:
                receiver = cell["synapses"][group] = h.Exp2Syn(cell["soma"](0.5))
                receiver.tau1, receiver.tau2, receiver.e = 0.5, 2.0, 0.0
        delay = math.trunc(delay / dt + 1e-5) * dt
        if isinstance(source, dict):
            nc = h.NetCon(None, receiver)
            events += [(nc, t + delay) for t in source["input"]]
        else:
            nc = pc.gid_connect(source, receiver)
            nc.delay = delay
            nc.threshold = spec["threshold"]
        nc.weight[0] = weight
        keep.append(nc)
    handler = h.FInitializeHandler(lambda: [nc.event(t) for nc, t in events])
    times, gids = h.Vector(), h.Vector()
    pc.spike_record(-1, times, gids)
    h.celsius, h.v_init = spec["celsius"], spec["v_init"]
    h.dt, h.steps_per_ms, h.tstop = dt, 1.0 / dt, tstop
    pc.set_maxstep(10)
    h.stdinit()
    pc.psolve(tstop)
    del handler
    Path(sys.argv[2]).write_text(json.dumps({"gids": [int(g) for g in gids], "times": list(times)}))


if __name__ == "__main__":
    main()
