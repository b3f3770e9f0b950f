COMMENT
SonataNmlAlpha: NeuroML2 alphaSynapse: rise and decay both `tau`; one event of weight w
gives g(s) = gbase w (s/tau) exp(1 - s/tau), peak gbase w at s = tau.
As two linear states: dA/dt = -A/tau, dg/dt = (e A - g)/tau (e = exp(1)); event: A += gbase w.
i = g (v - erev). Units: gbase uS, ms, mV, nA (outward positive).
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataNmlAlpha
    RANGE gbase, erev, tau, g, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    gbase = 0.001 (uS)
    erev = 0 (mV)
    tau = 2 (ms) <1e-9, 1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
}

STATE {
    A (uS)
    g (uS)
}

INITIAL {
    A = 0
    g = 0
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = g * (v - erev)
}

DERIVATIVE states {
    A' = -A / tau
    g' = (2.718281828459045 * A - g) / tau
}

NET_RECEIVE(weight) {
    A = A + gbase * weight
}
