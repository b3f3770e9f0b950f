COMMENT
SonataConductanceSource: a conductance to a reversal potential, counted as a membrane
current.

Why our own: NEURON's SEClamp drives a conductance 1/rs towards amp1 but as an
ELECTRODE_CURRENT, invisible to i_membrane. Conductance inputs that stand for synaptic
drive (shot noise, Ornstein-Uhlenbeck in conductance mode) use this source; its
parameters mean what SEClamp's first level means, so the engine plays a conductance
trace into rs (as 1/g) of either mechanism the same way.

Interface:
  rs (megohm)  series resistance; the conductance is g = 1/rs
  amp1 (mV)    reversal potential
  dur1 (ms)    the source is on for 0 <= t < dur1, off afterwards
  i (nA)       membrane current, outward positive: i = (v - amp1)/rs while on, else 0
  g (uS)       1/rs while on, else 0 (for recording)

An SEClamp with the same rs, amp1, dur1 injects exactly -i.
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS SonataConductanceSource
    RANGE rs, amp1, dur1, i, g
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    rs = 1e9 (megohm)
    amp1 = 0 (mV)
    dur1 = 0 (ms) <0, 1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
}

INITIAL {
    i = 0
    g = 0
}

BREAKPOINT {
    if (t < dur1 && rs != 0) {
        g = 1 / rs
        i = (v - amp1) / rs
    } else {
        g = 0
        i = 0
    }
}
