COMMENT
SonataEField: the extracellular potential of a segment in a uniform electric field.

phi = -1e-3 (Ex x + Ey y + Ez z) mV, with (x, y, z) the segment centre in global
coordinates (um) and E (V/m) read through POINTERs from the cell's SonataFieldSource,
whose components the engine plays with interpolation. phi is written, through the POINTER
`potential`, into the segment's e_extracellular (NEURON's extracellular mechanism must be
inserted too) at initialisation, before each step's currents (E at mid-step, as NEURON
plays it there) and after each step (E at the new t, so recordings read phi(t)).
ENDCOMMENT

NEURON {
    THREADSAFE
    SUFFIX SonataEField
    RANGE x, y, z
    POINTER ex, ey, ez, potential
}

UNITS {
    (mV) = (millivolt)
    (um) = (micron)
}

PARAMETER {
    x = 0 (um)
    y = 0 (um)
    z = 0 (um)
}

ASSIGNED {
    ex (1)
    ey (1)
    ez (1)
    potential (mV)
}

INITIAL {
    apply()
}

BEFORE BREAKPOINT {
    apply()
}

AFTER SOLVE {
    : again at the end of the step, so e_extracellular reads phi(t) as a played one would
    apply()
}

PROCEDURE apply() {
    potential = -1e-3 * (ex * x + ey * y + ez * z)
}
