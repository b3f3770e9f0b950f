"""Build a sonatasim model in-process (no run) and dump it with model_dump.py.

.venv/bin/python benchmarks/peers/ss_dump.py CONFIG OUT.json
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))


def main(config: str, out: str) -> int:
    import os

    import model_dump

    if os.environ.get("SS_PATCH"):  # same proposed fixes as compare_neurodamus --ss-patch
        import ss_patched

        ss_patched.apply(os.environ["SS_PATCH"])

    from engine import simulator
    from engine.config import load_setup
    from engine.simulation import Simulation

    setup = load_setup(Path(config), None)
    sim = simulator.start()
    simulation = Simulation(setup, sim)
    simulation.build()
    gids = []
    for name, ids in simulation.circuit.simulated_ids().items():
        offset = int(simulation.circuit.offsets[name])
        gids += [int(i) + offset for i in ids]
    model_dump.write(out, model_dump.dump(sim.h, sim.h.ParallelContext(), gids))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
