COMMENT
SonataExp2Syn: the engine's default conductance synapse (double exponential).

Why our own: SONATA edges without a model template need a synapse whose name cannot
clash with a circuit's mechanisms, and whose weight is the peak conductance.

One event of weight w (uS) at time t0 gives, for s = t - t0 >= 0,
    g(s) = w * norm * (exp(-s/tau_d) - exp(-s/tau_r))
with the peak at
    s_peak = tau_r*tau_d/(tau_d - tau_r) * ln(tau_d/tau_r)
and norm = 1/(exp(-s_peak/tau_d) - exp(-s_peak/tau_r)), so that max g = w.
Events add linearly. The two exponentials are the states `fall` and `rise`, each
decaying on its own time constant and each kicked by w*norm per event; g = fall - rise.

tau_r must be below tau_d; a larger or equal tau_r is treated as 0.9999*tau_d (the
user's parameter is left unchanged; the value used is in taur_eff).
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataExp2Syn
    RANGE tau_r, tau_d, e, g, i, taur_eff, taud_eff, norm
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    tau_r = 0.2 (ms) <1e-9, 1e9>
    tau_d = 1.7 (ms) <1e-9, 1e9>
    e = 0 (mV)
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
    taur_eff (ms)
    taud_eff (ms)
    norm (1)
}

STATE {
    rise (uS)
    fall (uS)
}

INITIAL {
    LOCAL s_peak
    taud_eff = tau_d
    taur_eff = tau_r
    if (taur_eff > 0.9999 * taud_eff) {
        taur_eff = 0.9999 * taud_eff
    }
    if (taur_eff < 1e-9) {
        taur_eff = 1e-9
    }
    s_peak = taur_eff * taud_eff / (taud_eff - taur_eff) * log(taud_eff / taur_eff)
    norm = 1 / (exp(-s_peak / taud_eff) - exp(-s_peak / taur_eff))
    rise = 0
    fall = 0
    g = 0
}

BREAKPOINT {
    SOLVE decay METHOD cnexp
    g = fall - rise
    i = g * (v - e)
}

DERIVATIVE decay {
    rise' = -rise / taur_eff
    fall' = -fall / taud_eff
}

NET_RECEIVE (weight (uS)) {
    rise = rise + weight * norm
    fall = fall + weight * norm
}
