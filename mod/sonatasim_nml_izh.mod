COMMENT
SonataNmlIzh: NeuroML2 izhikevichCell (Izhikevich 2003), dimensionless a, b, c, d.

    dv/dt = (0.04 v^2/mV + 5 v + (140 - U + I) mV) / ms
    dU/dt = a (b v/mV - U) / ms
    v > thresh: spike, v = c mV, U = U + d;   start: v = v0 (set by the engine), U = b v0
The engine gives the section a capacitance of exactly 1 nF, so this point process's
current is C dv/dt with the current-free terms, and a dimensionless NeuroML input I
(pulseGeneratorDL) is an injected current of I nA.
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataNmlIzh
    RANGE a, b, c, d, thresh, U, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
}

PARAMETER {
    a = 0.02 (1)
    b = 0.2 (1)
    c = -65 (1)
    d = 6 (1)
    thresh = 30 (mV)
    per_ms = 1 (/ms)  : a unit factor (CoreNEURON's NMODL takes no unit literal in a derivative)
}

ASSIGNED {
    v (mV)
    i (nA)
}

STATE {
    U (1)
}

INITIAL {
    U = b * v
    net_send(0, 1)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = -(0.04 * v * v + 5 * v + 140 - U) * (1 (nA/mV))
}

DERIVATIVE states {
    U' = a * (b * v - U) * per_ms
}

NET_RECEIVE(w) {
    if (flag == 1) {
        WATCH (v > thresh) 2
    } else if (flag == 2) {
        net_event(t)
        v = c
        U = U + d
    }
}
