COMMENT
SonataCurrentSource: a current injected at a point, counted as a membrane current.

Why our own: NEURON's IClamp is an ELECTRODE_CURRENT, which i_membrane (and so LFP or
summation reports of membrane currents) does not include. Inputs that stand for missing
synaptic drive rather than a pipette use this source instead; its amp has the same
meaning and sign as IClamp's (positive amp depolarises).

Interface (same as IClamp, so the engine plays into either the same way):
  del (ms)  start of the window in which the source is on
  dur (ms)  length of that window
  amp (nA)  injected current; usually played from a Vector with interpolation
  i (nA)    the membrane current, outward positive: i = -amp while on, else 0

The engine uses fixed-step integration only, so the on/off window needs no event.
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS SonataCurrentSource
    RANGE del, dur, amp, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
}

PARAMETER {
    del = 0 (ms)
    dur = 0 (ms) <0, 1e9>
    amp = 0 (nA)
}

ASSIGNED {
    i (nA)
}

INITIAL {
    i = 0
}

BREAKPOINT {
    if (t >= del && t < del + dur) {
        i = -amp
    } else {
        i = 0
    }
}
