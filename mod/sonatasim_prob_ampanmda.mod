COMMENT
SonataProbAMPANMDA: stochastic, depressing/facilitating AMPA+NMDA synapse (sonatasim's own).

Why: OBI/BBP SONATA edges describe every synapse by Tsodyks-Markram parameters (u_syn,
depression_time, facilitation_time, n_rrp_vesicles). Circuits normally ship their own
ProbAMPANMDA_EMS; this mechanism, written from the published equations, stands in when
they do not, with the same parameter names so the engine sets both the same way.

Release (Tsodyks & Markram 1997; Fuhrmann et al. 2002; multi-vesicular release with Nrrp
release sites and probabilistic recovery as in Markram et al. 2015). On a presynaptic
event at time t, with s = t - tsyn the time since the previous event:
  1. every empty site is refilled with probability 1 - exp(-s/Dep)   (one draw per site);
  2. facilitation: u := u exp(-s/Fac) (u := 0 if Fac <= 0), then u := u + Use (1 - u);
  3. every filled site releases its vesicle with probability u        (one draw per site);
  4. each released vesicle adds `weight` (nS) of conductance to AMPA and
     weight * NMDA_ratio to NMDA.
Draws come from the Random123 stream set by setRNG(id1, id2, id3); INITIAL rewinds it, so
every run (and every rank count) sees the same numbers.

Conductances are normalised double exponentials (peak 1 per unit kick) times
gmax = 0.001 uS per nS of NetCon weight. NMDA has the Mg block of Jahr & Stevens (1990):
  B(v) = 1 / (1 + exp(-0.062 v) mg / 3.57).
NetCon weight vector (neurodamus' layout): [0] conductance per vesicle (nS); [1], [2] the
strength (uM) and decay time (ms) of a neuromodulatory event; [nc_type_param] = [3] the
NetCon kind (0 presynaptic cell, 1 spontaneous mini, 2 replay, 10 neuromodulatory event);
with minis_single_vesicle a mini releases at most one vesicle. init_depleted starts with
every site empty. A neuromodulatory event releases nothing: it adds its strength to the
running neuromodulator concentration `neuromod_conc`, which decays exponentially with the
decay time of the previous event (a state for mechanisms that act on it; here it is
only tracked).
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS SonataProbAMPANMDA
    RANGE tau_r_AMPA, tau_d_AMPA, tau_r_NMDA, tau_d_NMDA
    RANGE Use, Dep, Fac, u0, Nrrp, mg, NMDA_ratio, gmax, e, conductance, synapseID
    RANGE u, tsyn, occupied, released, neuromod_conc, neuromod_tau, tmod
    RANGE i, i_AMPA, i_NMDA, g, g_AMPA, g_NMDA, mggate
    GLOBAL nc_type_param, init_depleted, minis_single_vesicle
    NONSPECIFIC_CURRENT i
    RANDOM rng
}

UNITS {
    (uM) = (micro/liter)
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
    (mM) = (milli/liter)
}

PARAMETER {
    tau_r_AMPA = 0.2 (ms)
    tau_d_AMPA = 1.7 (ms)
    tau_r_NMDA = 0.29 (ms)
    tau_d_NMDA = 43 (ms)
    Use = 1.0 (1)
    Dep = 100 (ms)
    Fac = 10 (ms)
    u0 = 0 (1)
    Nrrp = 1 (1)
    e = 0 (mV)
    mg = 1 (mM)
    NMDA_ratio = 0.71 (1)
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
    i_AMPA (nA)
    i_NMDA (nA)
    g (uS)
    g_AMPA (uS)
    g_NMDA (uS)
    mggate (1)
    factor_AMPA (1)
    factor_NMDA (1)
    u (1)
    tsyn (ms)
    occupied (1)
    released (1)
    neuromod_conc (uM)
    neuromod_tau (ms)
    tmod (ms)
}

STATE {
    A_AMPA (1)
    B_AMPA (1)
    A_NMDA (1)
    B_NMDA (1)
}

INITIAL {
    factor_AMPA = peak_factor(tau_r_AMPA, tau_d_AMPA)
    factor_NMDA = peak_factor(tau_r_NMDA, tau_d_NMDA)
    A_AMPA = 0
    B_AMPA = 0
    A_NMDA = 0
    B_NMDA = 0
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
    mggate = mg_block(v)
    g_AMPA = gmax * (B_AMPA - A_AMPA)
    g_NMDA = gmax * (B_NMDA - A_NMDA) * mggate
    g = g_AMPA + g_NMDA
    i_AMPA = g_AMPA * (v - e)
    i_NMDA = g_NMDA * (v - e)
    i = i_AMPA + i_NMDA
}

DERIVATIVE kinetics {
    A_AMPA' = -A_AMPA / tau_r_AMPA
    B_AMPA' = -B_AMPA / tau_d_AMPA
    A_NMDA' = -A_NMDA / tau_r_NMDA
    B_NMDA' = -B_NMDA / tau_d_NMDA
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
        A_AMPA = A_AMPA + n * weight * factor_AMPA
        B_AMPA = B_AMPA + n * weight * factor_AMPA
        A_NMDA = A_NMDA + n * weight * NMDA_ratio * factor_NMDA
        B_NMDA = B_NMDA + n * weight * NMDA_ratio * factor_NMDA
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

FUNCTION mg_block(v (mV)) {
    UNITSOFF
    mg_block = 1 / (1 + exp(-0.062 * v) * (mg / 3.57))
    UNITSON
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
