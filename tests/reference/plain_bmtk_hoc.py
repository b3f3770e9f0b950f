"""Plain NEURON: bmtk-style hoc template cells under an IClamp, built by hand.

Usage: plain_bmtk_hoc.py TEMPLATE.hoc OUT.npz DL TSTOP DT AMP DELAY DUR ARGS_JSON...
Each ARGS_JSON is the argument list one cell's template gets (bmtk's loadHOC convention).
Every section then gets nseg = 1 + 2*int(L/(2*DL)); an IClamp at soma(0.5); soma(0.5) v
recorded at every step; spikes detected at soma(0.5) at -15 mV (the configs' default).
"""

import json
import sys

import numpy as np
from neuron import h

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")
template, out = sys.argv[1], sys.argv[2]
dl, tstop, dt, amp, delay, dur = (float(v) for v in sys.argv[3:9])
h.load_file(template)
with open(template) as f:
    name = f.read().split("begintemplate")[1].split()[0]
cells, clamps, voltages, detectors, spikes = [], [], [], [], []
for raw in sys.argv[9:]:
    cell = getattr(h, name)(*json.loads(raw))
    for sec in cell.all:
        sec.nseg = 1 + 2 * int(sec.L / (2 * dl))
    soma = cell.soma[0]
    clamp = h.IClamp(soma(0.5))
    clamp.amp, clamp.delay, clamp.dur = amp, delay, dur
    v = h.Vector().record(soma(0.5)._ref_v)
    nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
    nc.threshold = -15.0
    times = h.Vector()
    nc.record(times)
    cells.append(cell)
    clamps.append(clamp)
    voltages.append(v)
    detectors.append(nc)
    spikes.append(times)
h.celsius, h.dt, h.steps_per_ms, h.tstop, h.v_init = 6.3, dt, 1 / dt, tstop, -65.0
h.stdinit()
h.continuerun(tstop)
np.savez(out, v=np.array([np.array(v) for v in voltages]),
         **{f"spikes_{k}": np.array(t) for k, t in enumerate(spikes)})  # fmt: skip
