COMMENT
SonataNmlExpOne: NeuroML2 expOneSynapse (NeuroML2CoreTypes/Synapses.xml).

    dg/dt = -g / tauDecay;   event of weight w: g = g + gbase w;   i = g (v - erev)
Events add linearly. Units: gbase uS, ms, mV, nA (outward positive).
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataNmlExpOne
    RANGE gbase, erev, tau_decay, g, i
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
    tau_decay = 5 (ms) <1e-9, 1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
}

STATE {
    g (uS)
}

INITIAL {
    g = 0
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = g * (v - erev)
}

DERIVATIVE states {
    g' = -g / tau_decay
}

NET_RECEIVE(weight) {
    g = g + gbase * weight
}
