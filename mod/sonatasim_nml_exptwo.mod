COMMENT
SonataNmlExpTwo: NeuroML2 expTwoSynapse (NeuroML2CoreTypes/Synapses.xml).

    dA/dt = -A / tauRise,  dB/dt = -B / tauDecay,  g = gbase (B - A),  i = g (v - erev)
    event of weight w: A = A + w factor, B = B + w factor, with
    peakTime = ln(tauDecay/tauRise) tauRise tauDecay / (tauDecay - tauRise)
    factor = 1 / (exp(-peakTime/tauDecay) - exp(-peakTime/tauRise))
so one event of weight 1 peaks at gbase. tauRise must differ from tauDecay (NeuroML's
factor is undefined there; the engine refuses such a synapse before the run).
Units: gbase uS, ms, mV, nA (outward positive).
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataNmlExpTwo
    RANGE gbase, erev, tau_rise, tau_decay, factor, g, i
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
    tau_rise = 0.5 (ms) <1e-9, 1e9>
    tau_decay = 5 (ms) <1e-9, 1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
    factor (1)
}

STATE {
    A (1)
    B (1)
}

INITIAL {
    LOCAL peak
    peak = log(tau_decay / tau_rise) * tau_rise * tau_decay / (tau_decay - tau_rise)
    factor = 1 / (exp(-peak / tau_decay) - exp(-peak / tau_rise))
    A = 0
    B = 0
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbase * (B - A)
    i = g * (v - erev)
}

DERIVATIVE states {
    A' = -A / tau_rise
    B' = -B / tau_decay
}

NET_RECEIVE(weight) {
    A = A + weight * factor
    B = B + weight * factor
}
