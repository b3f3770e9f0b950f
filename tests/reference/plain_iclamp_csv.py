"""Plain NEURON: what bmtk's csv IClamp does, written out by hand.

An IClamp (delay 0, dur = the given stop) whose amp is driven by
Vector(amps).play(clamp._ref_amp, step), its current recorded every dt for tstop.
Usage: plain_iclamp_csv.py AMPS_JSON STEP STOP TSTOP DT OUT.npz
"""

import json
import sys

import numpy as np
from neuron import h

amps, step, stop, tstop, dt, out = (json.loads(sys.argv[1]), *map(float, sys.argv[2:6]),
                                    sys.argv[6])  # fmt: skip
h.load_file("stdrun.hoc")
soma = h.Section(name="soma")
soma.insert("pas")
clamp = h.IClamp(soma(0.5))
clamp.delay, clamp.dur = 0.0, stop
played = h.Vector(amps)
played.play(clamp._ref_amp, step)
current, t = h.Vector().record(clamp._ref_i), h.Vector().record(h._ref_t)
h.dt, h.tstop = dt, tstop
h.finitialize(-65.0)
h.continuerun(tstop)
np.savez(out, t=np.array(t), i=np.array(current))
