"""nd_driver.py with CPU time and peak RSS per neurodamus phase (bench_cells_neurodamus.py).

Runs inside the neurodamus venv, launched as nd_driver.py is (drivers.run_neurodamus with
`driver=`), with BENCH_TIMING_DIR set. neurodamus' own phase boundaries are timed by
wrapping its methods (nothing else changes; its wall-clock `timeit` table is still in the
log when run verbose):

    targets         Node.load_targets
    load_balance    Node.compute_load_balance
    cells           Node.create_cells           ("Cell creation")
    synapses_read   Node.create_synapses        ("Synapse creation": edges read, connections)
    synapses_make   ConnectionManagerBase.finalize  (point processes and NetCons made)
    inputs          Node.enable_replay + Node.enable_stimulus
    reports         Node.enable_reports
    init            Node._finalize_model        ("Model Finalized": stdinit)
    run             Node.solve                  ("psolve")

The set-up ends when `Neurodamus(...)` returns (it builds and initialises the model).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phase_clock import PhaseClock  # noqa: E402  (first: its clock starts at import)

PHASES = (
    ("node", "load_targets", "targets"),
    ("node", "compute_load_balance", "load_balance"),
    ("node", "create_cells", "cells"),
    ("node", "create_synapses", "synapses_read"),
    ("manager", "finalize", "synapses_make"),
    ("node", "enable_replay", "inputs"),
    ("node", "enable_stimulus", "inputs"),
    ("node", "enable_reports", "reports"),
    ("node", "_finalize_model", "init"),
    ("node", "solve", "run"),
)


def install(clock: PhaseClock) -> None:
    import neurodamus
    from neurodamus.connection_manager import ConnectionManagerBase
    from neurodamus.node import Node

    owners = {"node": Node, "manager": ConnectionManagerBase}
    for owner, attr, name in PHASES:
        clock.wrap(owners[owner], attr, name)
    clock.wrap(neurodamus.Neurodamus, "__init__", "setup", setup_end=True)


if __name__ == "__main__":
    import nd_driver

    install(PhaseClock())
    rc = nd_driver.main(sys.argv[1], sys.argv[2])
    from neuron import h

    h.quit(rc)
