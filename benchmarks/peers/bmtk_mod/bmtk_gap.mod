COMMENT
Gap: the point process bmtk 1.2.0 bionet creates for a gap junction side (h.Gap), which
its wheel does not ship. Written here from the ohmic equation, for the peer harness only:
    i = g * (v - vgap)       (g in uS, v and vgap in mV, i in nA)
bmtk sets `g` to the edge's syn_weight and fills `vgap` with pc.target_var.
ENDCOMMENT

NEURON {
    POINT_PROCESS Gap
    RANGE g, vgap, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    g = 0 (uS)
}

ASSIGNED {
    v (mV)
    vgap (mV)
    i (nA)
}

BREAKPOINT {
    i = g * (v - vgap)
}
