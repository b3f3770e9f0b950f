COMMENT
SonataFieldSource: holds the uniform electric field E(t) (V/m) that one cell feels.

Why: a spatially_uniform_e_field input sets the extracellular potential of every segment
to phi = -E(t) . r. Playing phi into each segment costs one vector per segment for the
whole run (tens of GB on a large detailed circuit). Instead the engine plays the three
components of E into one SonataFieldSource per cell (three vectors per cell), and every
segment's SonataEField computes its own phi from them (mod/sonatasim_efield.mod).
It injects nothing.
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS SonataFieldSource
    RANGE ex, ey, ez
}

PARAMETER {
    ex = 0 (1)
    ey = 0 (1)
    ez = 0 (1)
}
