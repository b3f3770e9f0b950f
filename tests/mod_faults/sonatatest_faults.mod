COMMENT
SonataTestFault: a mechanism written to fail, for tests/test_run_failures.py only.

Inserted in a section (a zero current, so that BREAKPOINT runs every step), it
dereferences a null pointer once t >= crash_at, or kills its own process with SIGKILL
once t >= die_at (an MPI rank dying mid-run), writing "SonataTestFault: dying"
first so a test can time how long the other ranks take to stop.
ENDCOMMENT

NEURON {
    SUFFIX SonataTestFault
    RANGE crash_at, die_at
    NONSPECIFIC_CURRENT i
}

PARAMETER {
    crash_at = 1e9 (ms)
    die_at = 1e9 (ms)
}

ASSIGNED {
    i (mA/cm2)
}

VERBATIM
#include <signal.h>
#include <unistd.h>
ENDVERBATIM

BREAKPOINT {
VERBATIM
    if (t >= crash_at) {
        *(volatile int*) 0 = 0;
    }
    if (t >= die_at) {
        if (write(2, "SonataTestFault: dying\n", 23)) {}
        raise(SIGKILL);
    }
ENDVERBATIM
    i = 0
}
