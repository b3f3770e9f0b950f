"""Plain NEURON, no engine: the gap-junction pair of tests/test_bbp_support.py by hand.

Usage: plain_bbp_gap.py LIBNRNMECH OUT.npz
Two HH ball-and-stick cells (the shape of tests/reference/plain_ring.py); cell 0 gets a
6 nS SonataExp2Syn input at its soma, a 2 nS junction joins cell 0's soma(0.5) and cell
1's dendrite(0.7): one SonataGap on each side, each reading the other side's voltage.
"""

import os
import sys

import numpy as np

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from plain_ring import ball_and_stick  # noqa: E402

h.load_file("stdrun.hoc")
GAP_NS, INPUT_NS, DT, TSTOP = 2.0, 6.0, 0.025, 60.0
INPUT_TIMES = [5.0, 12.0, 30.0, 31.0, 32.0, 33.0, 34.0]


def main() -> None:
    h.nrn_load_dll(sys.argv[1])
    out = sys.argv[2]
    pc = h.ParallelContext()
    cells = [ball_and_stick(hh=True) for _ in range(2)]
    syn = h.SonataExp2Syn(cells[0][0](0.5))
    syn.tau_d, syn.e = 2.0, 0.0
    vec = h.Vector(INPUT_TIMES)
    stim = h.SonataVecStim()
    stim.play(vec)
    nc = h.NetCon(stim, syn)
    nc.delay, nc.weight[0] = 1.0, INPUT_NS * 1e-3
    sides = [cells[0][0](0.5), cells[1][1](0.7)]
    gaps = []
    for key, segment in enumerate(sides):
        gap = h.SonataGap(segment)
        gap.g = GAP_NS
        pc.source_var(segment._ref_v, key, sec=segment.sec)
        pc.target_var(gap, gap._ref_vgap, 1 - key)
        gaps.append(gap)
    pc.setup_transfer()
    voltages = [h.Vector().record(soma(0.5)._ref_v) for soma, _ in cells]
    t = h.Vector().record(h._ref_t)
    h.celsius, h.dt, h.steps_per_ms, h.tstop, h.v_init = 6.3, DT, 1 / DT, TSTOP, -65.0
    pc.set_maxstep(4)
    h.stdinit()
    pc.psolve(TSTOP)
    np.savez(out, t=np.array(t), v_pair_0=np.array(voltages[0]), v_pair_1=np.array(voltages[1]))


if __name__ == "__main__":
    main()
