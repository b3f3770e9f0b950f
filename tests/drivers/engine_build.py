"""What the engine drivers share: a built (not yet run) Simulation, and section owners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import simulator
from engine.config import load_setup
from engine.logs import setup_logging
from engine.simulation import RunOptions, Simulation


def built_simulation(config: str, out: Path) -> tuple[Any, Simulation]:
    """(simulator handle, Simulation of `config` built); outputs go next to `out`."""
    setup = load_setup(config, output_dir=out.parent / f"output_{out.stem}")
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    return sim, simulation


def section_owners(simulation: Simulation) -> dict[str, tuple[str, int, int]]:
    """NEURON section name -> (population, node id, SONATA section id) of local cells."""
    where = {}
    for population, manager in simulation.circuit.node_managers.items():
        for node_id, cell in manager.cells.items():
            for sid, sec in enumerate(getattr(cell, "sections", None) or []):
                if sec is not None:
                    where[sec.name()] = (population, int(node_id), sid)
    return where


def run_and_save(sim: Any, simulation: Simulation, out: Path, label: str, entries: list,
                 records: dict) -> None:  # fmt: skip
    """Run, gather every rank's `entries` (JSON list saved as `label`) and recorded
    vectors, and save them with the time vector on rank 0."""
    import json

    import numpy as np

    t = sim.h.Vector().record(sim.h._ref_t)
    simulation.run()
    local = {k: np.array(v) for k, v in records.items()}
    parts = sim.gather((entries, local), 0)
    if sim.is_root:
        merged_entries = [s for part in parts for s in part[0]]
        merged = {k: v for part in parts for k, v in part[1].items()}
        np.savez(out, t=np.array(t), **{label: json.dumps(merged_entries)}, **merged)
    sim.barrier()
