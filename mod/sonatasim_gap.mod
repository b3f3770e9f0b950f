COMMENT
SonataGap: one side of an ohmic gap junction (sonatasim's own).

Why: SONATA `electrical` edges couple two cells that may live on different MPI ranks.
Each side is a point process whose `vgap` is filled by ParallelContext.target_var with
the other side's membrane voltage (published with source_var), so
    i = g * (v - vgap) * 0.001     (g in nS, i in nA).
ENDCOMMENT

NEURON {
    POINT_PROCESS SonataGap
    RANGE g, vgap, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (nS) = (nanosiemens)
}

PARAMETER {
    g = 0 (nS)
}

ASSIGNED {
    v (mV)
    vgap (mV)
    i (nA)
}

BREAKPOINT {
    i = (0.001) * g * (v - vgap)
}
