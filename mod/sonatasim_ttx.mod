COMMENT
SonataTTX: puts tetrodotoxin on a section (the `ttx` modification of SONATA conditions).

Why: BBP/OBI sodium channels read the concentrations of a pseudo-ion `ttx` (ttxo, ttxi)
and stop conducting when it is present; neurodamus switches it on by inserting a density
mechanism that writes those concentrations. This is our own such switch: inserted in a
section, it sets ttxo and ttxi to `level` (mM) at initialisation; nothing changes them
afterwards. Channels that do not read ttx are blocked by the engine in another way (it
zeroes their sodium conductance, see engine/managers/modifications.py).
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
}

ASSIGNED {
    ttxo (mM)
    ttxi (mM)
}

INITIAL {
    ttxo = level
    ttxi = level
}
