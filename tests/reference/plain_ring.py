"""Plain NEURON, no engine: the generated ring built by hand, for comparison tests.

Usage: plain_ring.py {point|biophysical|passive} N_CELLS OUT.npz [TSTOP]
Cells: IntFire1 (tau 10, refrac 2), or the ball-and-stick of engine.generate.templates written
out by hand (3-point soma as a 20 um sphere, 200 um dendrite, pas everywhere, hh in soma).
One input spike at 5 ms reaches cell 0 after the 5 ms edge delay; cell i excites i+1.
"""

import os
import sys

import numpy as np

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

h.load_file("stdrun.hoc")
DELAY, INPUT_TIME, DT = 5.0, 5.0, 0.025


def ball_and_stick(hh: bool):
    soma = h.Section(name="soma")
    dend = h.Section(name="dend")
    for x in (-10.0, 0.0, 10.0):
        soma.pt3dadd(x, 0.0, 0.0, 20.0)
    for x in np.linspace(10.0, 210.0, 11):
        dend.pt3dadd(float(x), 0.0, 0.0, 1.0)
    dend.connect(soma(0.5))
    for sec in (soma, dend):
        sec.nseg = 1 + 2 * int(sec.L / 40)
        sec.insert("pas")
        sec.g_pas, sec.e_pas, sec.cm, sec.Ra = 3e-5, -65.0, 1.0, 100.0
    if hh:
        soma.insert("hh")
        soma.gnabar_hh, soma.gkbar_hh, soma.gl_hh, soma.el_hh = 0.12, 0.036, 0.0003, -54.3
    return soma, dend


def main() -> None:
    kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tstop = float(sys.argv[4]) if len(sys.argv) > 4 else 100.0
    h.secondorder = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    pc = h.ParallelContext()
    cells, targets, keep = [], [], []
    for gid in range(n):
        if kind == "point":
            cell = h.IntFire1()
            cell.tau, cell.refrac = 10.0, 2.0
            target, weight, source = cell, 1.5, h.NetCon(cell, None)
        else:
            soma, dend = ball_and_stick(hh=kind == "biophysical")
            syn = h.Exp2Syn(soma(0.5))
            syn.tau1, syn.tau2, syn.e = 0.2, 2.0, 0.0
            cell, target, weight = (soma, dend), syn, 10.0 * 1e-3
            source = h.NetCon(soma(1)._ref_v, None, sec=soma)
            source.threshold = -30.0
        pc.set_gid2node(gid, 0)
        pc.cell(gid, source)
        cells.append(cell)
        targets.append((target, weight))
    for gid in range(n):
        target, weight = targets[(gid + 1) % n]
        nc = pc.gid_connect(gid, target)
        nc.delay, nc.weight[0] = DELAY, weight
        keep.append(nc)
    stim = h.NetStim()
    stim.number, stim.start = 1, INPUT_TIME
    first = h.NetCon(stim, targets[0][0])
    first.delay, first.weight[0] = DELAY, targets[0][1]
    times, gids = h.Vector(), h.Vector()
    pc.spike_record(-1, times, gids)
    v0 = h.Vector()
    if kind != "point":
        v0.record(cells[0][0](0.5)._ref_v)
    h.celsius, h.dt, h.steps_per_ms, h.tstop = 6.3, DT, 1 / DT, tstop
    h.v_init = -65.0
    pc.set_maxstep(4)
    h.stdinit()
    pc.psolve(tstop)
    np.savez(out, gids=np.array(gids), times=np.array(times), v0=np.array(v0))


if __name__ == "__main__":
    main()
