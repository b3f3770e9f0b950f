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
