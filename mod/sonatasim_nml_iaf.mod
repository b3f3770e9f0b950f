COMMENT
SonataNmlIaf: NeuroML2 iafCell and iafRefCell (ComponentTypes of NeuroML2CoreTypes/Cells.xml).

Why our own: SONATA circuits converted from NeuroML name these cells; the engine runs them
as one section whose membrane capacitance (cm * area) is the cell's C, with this point
process supplying the leak current, so synapses and current inputs add to the same
membrane as NeuroML's iSyn does:
    C dv/dt = leakConductance * (leakReversal - v) + iSyn
    v > thresh: spike, v = reset; then (iafRefCell) v is held at reset for `refract`.
Holding v is a clamp conductance of 1000 C/dt, so v stays within 1e-3 of the distance to
reset per step whatever the synaptic current (NeuroML ignores iSyn while refractory).
Units: C nF, g uS, v mV, t ms, i nA (outward positive, NEURON's convention).
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataNmlIaf
    RANGE C, g_leak, e_leak, thresh, reset, refract, refractory, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
    (nF) = (nanofarad)
}

PARAMETER {
    C = 1 (nF)
    g_leak = 0.01 (uS)
    e_leak = -70 (mV)
    thresh = -50 (mV)
    reset = -70 (mV)
    refract = 0 (ms)
}

ASSIGNED {
    v (mV)
    i (nA)
    refractory (1)
    dt (ms)
}

INITIAL {
    refractory = 0
    net_send(0, 1)
}

BREAKPOINT {
    if (refractory > 0.5) {
        i = 1000 * C / dt * (v - reset)
    } else {
        i = g_leak * (v - e_leak)
    }
}

NET_RECEIVE(w) {
    if (flag == 1) {
        WATCH (v > thresh) 2
    } else if (flag == 2) {
        net_event(t)
        v = reset
        if (refract > 0) {
            refractory = 1
            net_send(refract, 3)
        }
    } else if (flag == 3) {
        refractory = 0
    }
}
