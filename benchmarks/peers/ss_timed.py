"""`sonatasim` with CPU time and peak RSS per phase (bench_cells_neurodamus.py).

    [mpiexec -n N] .venv/bin/python ss_timed.py run CONFIG [any `sonatasim run` option]

The same CLI (engine.cli.main, so `--morphology-cache` and every other option behave as
in `sonatasim run`); the engine's own phase boundaries (engine.summary.PhaseTimer:
mechanisms, cells, synapses, inputs, modifications, reports, init, run, write) are also
timed in CPU seconds by phase_clock, per rank, into $BENCH_TIMING_DIR. The set-up ends
with the `init` phase (stdinit), as neurodamus' ends with its stdinit.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from phase_clock import PhaseClock  # noqa: E402  (first: its clock starts at import)

sys.path.insert(0, str(HERE.parents[1]))


def install(clock: PhaseClock) -> None:
    from engine.summary import PhaseTimer

    original = PhaseTimer.phase

    @contextmanager
    def phase(self, name: str):
        with clock.phase(name), original(self, name):
            yield
        if name == "init":
            clock.mark_setup()

    PhaseTimer.phase = phase


if __name__ == "__main__":
    install(PhaseClock())
    from engine.cli import main

    sys.argv[0] = "sonatasim"
    main()
