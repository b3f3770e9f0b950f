COMMENT
SonataNmlAdex: NeuroML2 adExIaFCell (Brette and Gerstner 2005, adaptive exponential IaF).

    C dv/dt = -gL (v - EL) + gL delT exp((v - VT)/delT) - w + iSyn
     dw/dt = (a (v - EL) - w) / tauw          (also while refractory)
    v > thresh: spike, v = reset, w = w + b, v held at reset for `refract`
The section's capacitance is C; v is held by a clamp conductance of 1000 C/dt.
Units: C nF, gL and a uS, b and w nA, mV, ms.
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataNmlAdex
    RANGE C, gL, EL, VT, delT, thresh, reset, refract, tauw, a, b, w, i, refractory
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
    (nF) = (nanofarad)
}

PARAMETER {
    C = 0.281 (nF)
    gL = 0.03 (uS)
    EL = -70.6 (mV)
    VT = -50.4 (mV)
    delT = 2 (mV)
    thresh = -40.4 (mV)
    reset = -70.6 (mV)
    refract = 0 (ms)
    tauw = 144 (ms)
    a = 0.004 (uS)
    b = 0.0805 (nA)
}

ASSIGNED {
    v (mV)
    i (nA)
    refractory (1)
    dt (ms)
}

STATE {
    w (nA)
}

INITIAL {
    w = 0
    refractory = 0
    net_send(0, 1)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    if (refractory > 0.5) {
        i = 1000 * C / dt * (v - reset)
    } else {
        i = -(-gL * (v - EL) + gL * delT * exp((v - VT) / delT) - w)
    }
}

DERIVATIVE states {
    w' = (a * (v - EL) - w) / tauw
}

NET_RECEIVE(weight) {
    if (flag == 1) {
        WATCH (v > thresh) 2
    } else if (flag == 2) {
        net_event(t)
        v = reset
        w = w + b
        if (refract > 0) {
            refractory = 1
            net_send(refract, 3)
        }
    } else if (flag == 3) {
        refractory = 0
    }
}
