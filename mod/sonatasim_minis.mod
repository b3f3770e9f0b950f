COMMENT
SonataInhPoissonStim: a Poisson event source for spontaneous synaptic releases ("minis").

Why our own: SONATA circuits ask for one independent, rank-count-independent Poisson
source per synapse (node attributes exc/inh_mini_frequency, connection_overrides
spont_minis). The numbers follow neurodamus' conventions (compat doc §4.3): two Random123
streams per source, one for the exponential intervals and one for the thinning draw.

Algorithm (thinning; with the constant rate neurodamus uses, every candidate is kept):
  * candidates form a Poisson process of rate `peak` = max(rmax, rate) (Hz); the interval
    to the next candidate is (1000 / peak) * E ms, E an exponential(1) draw;
  * each candidate is kept with probability rate / peak (one uniform draw per candidate,
    drawn after the next candidate was scheduled) and then emitted with net_event;
  * INITIAL rewinds both streams and throws the first exponential draw away (neurodamus
    does the same), so the first candidate is at (1000 / peak) * E2;
  * no candidate at or after start + duration is scheduled.

Usage (Python):
    stim = h.SonataInhPoissonStim()
    stim.rate = 2.0                      # Hz
    stim.duration = tstop                # ms
    stim.setRNGs(a1, a2, a3, b1, b2, b3) # exponential stream ids, uniform stream ids
    nc = h.NetCon(stim, synapse)         # delay 0.1 ms for minis
ENDCOMMENT

NEURON {
    THREADSAFE
    ARTIFICIAL_CELL SonataInhPoissonStim
    RANGE rate, rmax, start, duration, peak
    RANDOM exp_rng, uniform_rng
}

PARAMETER {
    rate = 0 (/s)
    rmax = 0 (/s)
    start = 0 (ms)
    duration = 1e9 (ms)
}

ASSIGNED {
    peak (/s)
}

INITIAL {
    LOCAL first, discarded
    random_setseq(exp_rng, 0)
    random_setseq(uniform_rng, 0)
    peak = rmax
    if (rate > peak) {
        peak = rate
    }
    if (peak > 0) {
        discarded = random_negexp(exp_rng)
        first = interval()
        if (t + first < start + duration) {
            net_send(first, 1)
        }
    }
}

NET_RECEIVE (w) {
    LOCAL next
    if (flag == 1) {
        next = interval()
        if (t + next < start + duration) {
            net_send(next, 1)
        }
        if (random_uniform(uniform_rng) < rate / peak) {
            net_event(t)
        }
    }
}

: ms to the next candidate, never negative
FUNCTION interval() (ms) {
    interval = 1000.0 / peak * random_negexp(exp_rng)
    if (interval < 0) {
        interval = 0
    }
}

PROCEDURE setRNGs(a1, a2, a3, b1, b2, b3) {
: NEURON sets the stream ids before the model goes to CoreNEURON, which receives the
: Random123 state (ids and position) with it; CoreNEURON has no setter of its own.
VERBATIM
#ifndef CORENEURON_BUILD
ENDVERBATIM
    random_setids(exp_rng, a1, a2, a3)
    random_setids(uniform_rng, b1, b2, b3)
VERBATIM
#endif
ENDVERBATIM
}
