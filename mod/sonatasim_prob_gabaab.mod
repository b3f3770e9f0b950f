COMMENT
SonataProbGABAAB: stochastic, depressing/facilitating GABA-A + GABA-B synapse (sonatasim's own).

Why: the inhibitory counterpart of SonataProbAMPANMDA (see that file for the release
model, the Random123 stream and the NetCon weight vector); it stands in for a circuit's
ProbGABAAB_EMS and has the same parameter names.

Each released vesicle adds `weight` (nS) to GABA-A and weight * GABAB_ratio to GABA-B;
both are normalised double exponentials times gmax = 0.001 uS per nS, with their own
reversal potentials (e_GABAA, e_GABAB) and no voltage dependence.
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS SonataProbGABAAB
    RANGE tau_r_GABAA, tau_d_GABAA, tau_r_GABAB, tau_d_GABAB
    RANGE Use, Dep, Fac, u0, Nrrp, GABAB_ratio, gmax, e_GABAA, e_GABAB, conductance, synapseID
    RANGE u, tsyn, occupied, released, neuromod_conc, neuromod_tau, tmod
    RANGE i, i_GABAA, i_GABAB, g, g_GABAA, g_GABAB
    GLOBAL nc_type_param, init_depleted, minis_single_vesicle
    NONSPECIFIC_CURRENT i
    RANDOM rng
}

UNITS {
    (uM) = (micro/liter)
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    tau_r_GABAA = 0.2 (ms)
    tau_d_GABAA = 8 (ms)
    tau_r_GABAB = 3.5 (ms)
    tau_d_GABAB = 260.9 (ms)
    Use = 1.0 (1)
    Dep = 100 (ms)
    Fac = 10 (ms)
    u0 = 0 (1)
    Nrrp = 1 (1)
    e_GABAA = -80 (mV)
    e_GABAB = -97 (mV)
    GABAB_ratio = 0 (1)
    gmax = 0.001 (uS)
    conductance = 0 (1)
    synapseID = 0 (1)
    nc_type_param = 3 (1)
    init_depleted = 0 (1)
    minis_single_vesicle = 0 (1)
}

ASSIGNED {
    v (mV)
    i (nA)
    i_GABAA (nA)
    i_GABAB (nA)
    g (uS)
    g_GABAA (uS)
    g_GABAB (uS)
    factor_GABAA (1)
    factor_GABAB (1)
    u (1)
    tsyn (ms)
    occupied (1)
    released (1)
    neuromod_conc (uM)
    neuromod_tau (ms)
    tmod (ms)
}

STATE {
    A_GABAA (1)
    B_GABAA (1)
    A_GABAB (1)
    B_GABAB (1)
}

INITIAL {
    factor_GABAA = peak_factor(tau_r_GABAA, tau_d_GABAA)
    factor_GABAB = peak_factor(tau_r_GABAB, tau_d_GABAB)
    A_GABAA = 0
    B_GABAA = 0
    A_GABAB = 0
    B_GABAB = 0
    u = u0
    tsyn = 0
    released = 0
    neuromod_conc = 0
    neuromod_tau = 0
    tmod = 0
    if (init_depleted) {
        occupied = 0
    } else {
        occupied = Nrrp
    }
    random_setseq(rng, 0)
}

BREAKPOINT {
    SOLVE kinetics METHOD cnexp
    g_GABAA = gmax * (B_GABAA - A_GABAA)
    g_GABAB = gmax * (B_GABAB - A_GABAB)
    g = g_GABAA + g_GABAB
    i_GABAA = g_GABAA * (v - e_GABAA)
    i_GABAB = g_GABAB * (v - e_GABAB)
    i = i_GABAA + i_GABAB
}

DERIVATIVE kinetics {
    A_GABAA' = -A_GABAA / tau_r_GABAA
    B_GABAA' = -B_GABAA / tau_d_GABAA
    A_GABAB' = -A_GABAB / tau_r_GABAB
    B_GABAB' = -B_GABAB / tau_d_GABAB
}

NET_RECEIVE (weight, neuromod_strength, neuromod_dtc, nc_type) {
    LOCAL n
    INITIAL {
        : present so that finitialize keeps weight[1..3] (the engine sets them)
        nc_type = nc_type
    }
    if (nc_type == 10) {
        neuromodulate(neuromod_strength, neuromod_dtc)
    } else {
        n = release(t - tsyn, nc_type)
        tsyn = t
        A_GABAA = A_GABAA + n * weight * factor_GABAA
        B_GABAA = B_GABAA + n * weight * factor_GABAA
        A_GABAB = A_GABAB + n * weight * GABAB_ratio * factor_GABAB
        B_GABAB = B_GABAB + n * weight * GABAB_ratio * factor_GABAB
    }
}

: A neuromodulatory event (nc_type 10): no release; the running concentration decays
: with the time constant of the previous event, then rises by `strength`.
PROCEDURE neuromodulate(strength (uM), dtc (ms)) {
    if (neuromod_tau > 0) {
        neuromod_conc = neuromod_conc * exp(-(t - tmod) / neuromod_tau)
    }
    neuromod_conc = neuromod_conc + strength
    neuromod_tau = dtc
    tmod = t
}

: Steps 1-3 of the release model; returns the number of vesicles released.
FUNCTION release(s (ms), nc_type) {
    LOCAL k, empty, p_refill, n, limit
    empty = Nrrp - occupied
    if (Dep > 0) {
        p_refill = 1 - exp(-s / Dep)
    } else {
        p_refill = 1
    }
    k = 0
    while (k < empty) {
        if (random_uniform(rng) < p_refill) {
            occupied = occupied + 1
        }
        k = k + 1
    }
    if (Fac > 0) {
        u = u * exp(-s / Fac)
    } else {
        u = 0
    }
    u = u + Use * (1 - u)
    limit = occupied
    if (minis_single_vesicle && nc_type == 1 && limit > 1) {
        limit = 1
    }
    n = 0
    k = 0
    while (k < occupied) {
        if (random_uniform(rng) < u && n < limit) {
            n = n + 1
        }
        k = k + 1
    }
    occupied = occupied - n
    released = n
    release = n
}

: 1 / peak of exp(-s/tau_d) - exp(-s/tau_r): a unit kick peaks at 1.
FUNCTION peak_factor(tau_r (ms), tau_d (ms)) {
    LOCAL tr, tp
    tr = tau_r
    if (tr > 0.9999 * tau_d) {
        tr = 0.9999 * tau_d
    }
    tp = (tr * tau_d) / (tau_d - tr) * log(tau_d / tr)
    peak_factor = 1 / (exp(-tp / tau_d) - exp(-tp / tr))
}

PROCEDURE setRNG(id1, id2, id3) {
: NEURON sets the stream ids before the model goes to CoreNEURON, which receives the
: Random123 state (ids and position) with it; CoreNEURON has no setter of its own.
VERBATIM
#ifndef CORENEURON_BUILD
ENDVERBATIM
    random_setids(rng, id1, id2, id3)
VERBATIM
#endif
ENDVERBATIM
}
