COMMENT
SonataNmlIzh2007: NeuroML2 izhikevich2007Cell (Izhikevich 2007, "Dynamical systems in
neuroscience", the simple model with capacitance).

    C dv/dt = k (v - vr) (v - vt) - u + iSyn
      du/dt = a (b (v - vr) - u)
    v > vpeak: spike, v = c, u = u + d;   start: v = v0 (set by the engine), u = 0
The section's capacitance is C; this point process gives the intrinsic current.
Units: k uS/mV, b uS, d nA, a /ms, u nA, i nA (outward positive).
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataNmlIzh2007
    RANGE k, vr, vt, vpeak, a, b, c, d, u, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    k = 0.0007 (uS/mV)
    vr = -60 (mV)
    vt = -40 (mV)
    vpeak = 35 (mV)
    a = 0.03 (/ms)
    b = -0.002 (uS)
    c = -50 (mV)
    d = 0.1 (nA)
}

ASSIGNED {
    v (mV)
    i (nA)
}

STATE {
    u (nA)
}

INITIAL {
    u = 0
    net_send(0, 1)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = -(k * (v - vr) * (v - vt) - u)
}

DERIVATIVE states {
    u' = a * (b * (v - vr) - u)
}

NET_RECEIVE(w) {
    if (flag == 1) {
        WATCH (v > vpeak) 2
    } else if (flag == 2) {
        net_event(t)
        v = c
        u = u + d
    }
}
