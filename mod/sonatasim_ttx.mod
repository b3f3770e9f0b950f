COMMENT
SonataTTX: puts tetrodotoxin on a section (the `ttx` modification of SONATA conditions).

Why: BBP/OBI sodium channels read the pseudo-ion `ttx` and stop conducting only when
ttxi holds the sentinel 1/64 mM (exactly representable) and ttxo is above 1e-12 mM: the
sentinel tells them that a TTX switch, not NEURON's default concentration, set ttxo. This
is our own such switch, following that published convention: inserted in a section, it
sets ttxi = 1/64 mM and ttxo = `level` (1 mM, as neurodamus' ttx modification uses) at
initialisation and keeps ttxo there. Channels that do not read ttx are blocked by the
engine in another way (it zeroes their sodium conductance, see
engine/managers/modifications.py).
ENDCOMMENT

NEURON {
    SUFFIX SonataTTX
    USEION ttx WRITE ttxo, ttxi VALENCE 1
    RANGE level
}

UNITS {
    (mM) = (milli/liter)
}

PARAMETER {
    level = 1 (mM)
    sentinel = 0.015625 (mM)  : 1/64: "ttxo was set by a TTX switch"
}

ASSIGNED {
    ttxo (mM)
    ttxi (mM)
}

INITIAL {
    ttxo = level
    ttxi = sentinel
}

BREAKPOINT {
    ttxo = level
}
