"""CircuitManager: node managers per population, gid offsets, rank assignment, edges.

The circuit is treated as a read-only recipe: every rank computes the same plan from ids,
then reads and builds only the cells it owns and the edges that end on them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsonata
import numpy as np

from engine.compat import gid_limit, population_offsets
from engine.config import SimulationSetup
from engine.errors import CircuitError, ConfigError
from engine.io.hdf5_check import check_hdf5
from engine.managers import load_balance
from engine.managers.cells import import3d_cache
from engine.managers.cells.nodes import NodeManager, make_node_manager
from engine.managers.synapses.edges import EdgeManager
from engine.managers.synapses.gap_junctions import (
    GapJunctionManager,
    create_gap_junctions,
    is_gap_population,
)
from engine.managers.synapses.neuromodulation import NeuromodulationManager, report_unlinked
from engine.managers.targets import Target, TargetManager

log = logging.getLogger("sonatasim")
MAX_GID = 2**31  # NEURON's gids are int
# point_process / Exp2Syn_synapse: neurodamus' AllenPoint edge types (synapses/models.py)
EDGE_TYPES = ("chemical", "synapse", "electrical", "neuromodulatory", "", "point_process",
              "Exp2Syn_synapse")  # fmt: skip


def _check_hdf5(path: Path, key: str) -> None:
    check_hdf5(path, key)


def open_node_population(path: Path, name: str) -> Any:
    _check_hdf5(path, f"nodes.{name}")
    try:
        storage = libsonata.NodeStorage(str(path))
        if name not in storage.population_names:
            raise CircuitError(
                f"population '{name}' is not in the file (it has: "
                f"{', '.join(sorted(storage.population_names)) or 'none'})",
                file=path,
                key="populations",
            )
        return storage.open_population(name)
    except libsonata.SonataError as exc:
        raise CircuitError(f"malformed nodes file: {exc}", file=path) from None


def open_edge_population(path: Path, name: str) -> Any:
    _check_hdf5(path, f"edges.{name}")
    try:
        storage = libsonata.EdgeStorage(str(path))
        if name not in storage.population_names:
            raise CircuitError(
                f"edge population '{name}' is not in the file", file=path, key="populations"
            )
        return storage.open_population(name)
    except libsonata.SonataError as exc:
        raise CircuitError(f"malformed edges file: {exc}", file=path) from None


@dataclass
class BuildContext:
    """What node managers need while instantiating (shared services, no state of theirs)."""

    morphology_loader: Any
    progress: Any = lambda n: None


class CircuitManager:
    def __init__(self, setup: SimulationSetup, sim: Any):
        self.setup = setup
        self.sim = sim
        self.storages = {
            name: open_node_population(info.nodes_file, name)
            for name, info in setup.node_populations.items()
        }
        compartment_sets = setup.libsonata_config.compartment_sets_file or None
        self.targets = TargetManager(
            setup.node_sets_files,
            self.storages,
            compartment_sets_file=Path(compartment_sets) if compartment_sets else None,
        )
        self.simulated = self._simulated_target()
        max_ids = self._max_ids()
        self.offsets = population_offsets(max_ids)
        self.detector_stride = gid_limit(max_ids)  # gids of more spike detectors
        self.node_managers: dict[str, NodeManager] = {
            name: make_node_manager(info, self.storages[name], self.offsets.get(name, 0))
            for name, info in setup.node_populations.items()
        }
        for manager in self.node_managers.values():
            manager.detector_stride = self.detector_stride
        self.edge_managers: list[EdgeManager] = []
        self.neuromodulation_managers: list[NeuromodulationManager] = []
        self.plan: dict[str, np.ndarray] = {}
        self.spike_sources: list[Any] = []
        self.gap_junctions: list[GapJunctionManager] = []

    def _simulated_target(self) -> Target:
        """Cells to instantiate: the node_set, or every non-virtual population."""
        real = [n for n, i in self.setup.node_populations.items() if not i.is_virtual]
        if self.setup.node_set is None:
            return self.targets.whole_populations(real)
        target = self.targets.target(self.setup.node_set, key="node_set")
        for name in list(target.ids):
            if self.setup.node_populations[name].is_virtual:
                del target.ids[name]  # virtual nodes are never instantiated
        if target.size() == 0:
            raise ConfigError(
                f"node_set '{self.setup.node_set}' selects no cell to simulate",
                file=self.setup.config_path,
                key="node_set",
            )
        return target

    def _max_ids(self) -> dict[str, int]:
        """Largest registered id per population: whole virtual pops, simulated ids of others."""
        max_ids = {}
        for name, info in self.setup.node_populations.items():
            if info.is_virtual:
                max_ids[name] = self.storages[name].size - 1
            elif self.simulated.get(name).size:
                max_ids[name] = int(self.simulated.get(name).max())
        return max_ids

    def simulated_ids(self) -> dict[str, np.ndarray]:
        return {p: self.simulated.get(p) for p in self.simulated.populations}

    def create_cells(self, context: BuildContext, lb_mode: str = "round-robin") -> None:
        """Deal the cells to ranks (rank 0 plans, all receive it), build the local ones."""
        cells = self.simulated_ids()
        load_balance.check_mode(lb_mode)
        outcome = self._plan_on_root(cells, context, lb_mode)
        self.plan = outcome.plan
        mine = load_balance.local_ids(cells, self.plan, self.sim.rank)
        self.targets.set_local_cells(mine)
        for name, manager in sorted(self.node_managers.items()):
            if name in mine:
                manager.instantiate(self.sim, mine[name], context)
        if import3d_cache.enabled():
            stats = import3d_cache.statistics()
            parsed, reused, replayed = (
                self.sim.pc.allreduce(float(stats[k]), 1) for k in ("misses", "hits", "replayed")
            )
            log.info(
                "Import3d parse cache: %d parses, %d reused, %d section trees replayed"
                " (all ranks)", parsed, reused, replayed,
            )  # fmt: skip

    def _plan_on_root(
        self, cells: dict[str, np.ndarray], context: BuildContext, mode: str
    ) -> load_balance.PlanOutcome:
        """The load-balance plan, computed (or read from the cache) on rank 0, broadcast."""
        from engine.managers.cells.cost import MechanismProbe, estimate_costs

        outcome = None
        if self.sim.is_root:
            probe = MechanismProbe(self.sim.h, context.morphology_loader)
            outcome = load_balance.make_plan(
                self.setup,
                cells,
                self.sim.nranks,
                mode,
                lambda: estimate_costs(self.setup, self.node_managers, cells, probe),
            )
            if outcome.summary is not None:
                log.info(
                    "Load balance %s%s: imbalance (max/mean estimated cost) %.3f%s",
                    outcome.mode,
                    f" (from {mode})" if outcome.mode != mode else "",
                    outcome.summary.imbalance,
                    f"; plan {outcome.path}" if outcome.path else "",
                )
        return self.sim.broadcast(outcome, 0)

    def register_gids(self) -> None:
        """Give every local cell its gid and spike detector, and its more detectors (NeuroML
        connections leaving off the soma) gids gid + k * detector_stride."""
        sim, run = self.sim, self.setup.run
        location = self.setup.conditions.spike_location
        for manager in self.node_managers.values():
            for node_id in sorted(manager.cells):
                cell = manager.cells[node_id]
                sim.pc.set_gid2node(cell.gid, sim.rank)
                netcon = cell.spike_source(sim.h, location, run.spike_threshold)
                sim.pc.cell(cell.gid, netcon)
                self.spike_sources.append(netcon)
                more = getattr(cell, "extra_spike_sources", None)
                for k, extra in enumerate(more(sim.h, run.spike_threshold) if more else (), 1):
                    gid = cell.gid + k * self.detector_stride
                    if gid >= MAX_GID:
                        raise CircuitError(
                            f"population '{manager.name}' node {node_id}: spike detector {k}"
                            f" would need gid {gid}, past NEURON's {MAX_GID - 1}"
                            " (too many pre segment places for this circuit's size)",
                            file=manager.info.nodes_file,
                            key="neuroml_spike_detectors",
                        )
                    sim.pc.set_gid2node(gid, sim.rank)
                    sim.pc.cell(gid, extra)
                    self.spike_sources.append(extra)

    def create_edges(self) -> None:
        simulated = {p: set(map(int, ids)) for p, ids in self.simulated_ids().items()}
        reported = self._synapse_report_cells()
        neuromodulatory = []
        for name, info in self.setup.edge_populations.items():
            if info.type not in EDGE_TYPES:
                log.warning("edge population %s of type %s is not supported yet", name, info.type)
                continue
            for end, pop in (("source", info.source), ("target", info.target)):
                if pop not in self.node_managers:
                    raise CircuitError(
                        f"edge population '{name}' refers to {end} node population '{pop}',"
                        " which the circuit config does not declare",
                        file=info.edges_file,
                        key=f"{name}.{end}",
                    )
            if info.type == "electrical":
                continue  # gap junctions below, on every rank
            target = self.node_managers[info.target]
            if not target.cells:
                continue
            storage = open_edge_population(info.edges_file, name)
            if info.type == "neuromodulatory":
                neuromodulatory.append((info, storage))
                continue  # below: they link to the synapses of the other populations
            source = self.node_managers[info.source]
            unshared = reported.get(info.target, frozenset())
            manager = EdgeManager(info, storage, source, target, unshared=unshared)
            manager.create_synapses(self.sim, self.setup, simulated)
            self.edge_managers.append(manager)
        for info, storage in neuromodulatory:
            source, target = self.node_managers[info.source], self.node_managers[info.target]
            modulation = NeuromodulationManager(info, storage, source, target)
            modulation.link_to_synapses(self.sim, self.setup, self.edge_managers)
            self.neuromodulation_managers.append(modulation)
        modulatory = [
            n for n, i in self.setup.edge_populations.items() if i.type == "neuromodulatory"
        ]
        if modulatory:  # the same list on every rank: the reduction is collective
            report_unlinked(self.sim, modulatory, self.neuromodulation_managers)
        self.gap_junctions = create_gap_junctions(
            self, lambda info: open_edge_population(info.edges_file, info.name)
        )

    def _synapse_report_cells(self) -> dict[str, frozenset[int]]:
        """Per population, the node ids of synapse reports (each synapse is one element)."""
        from engine.managers.reports.spec import parse_reports

        found: dict[str, set[int]] = {}
        for spec in parse_reports(self.setup):
            if spec.type != "synapse":
                continue
            if spec.cells:
                target = self.targets.target(spec.cells, key=f"reports.{spec.name}.cells")
                chosen = {p: target.get(p) for p in target.populations}
            else:  # no `cells`: every simulated cell
                chosen = self.simulated_ids()
            for population, ids in chosen.items():
                found.setdefault(population, set()).update(np.asarray(ids).tolist())
        return {population: frozenset(ids) for population, ids in found.items()}

    @property
    def has_gap_junctions(self) -> bool:
        """From the config, so equal on every rank (setup_transfer is collective)."""

        def open_edges(info: Any) -> Any:
            return open_edge_population(info.edges_file, info.name)

        return any(is_gap_population(i, open_edges) for i in self.setup.edge_populations.values())

    @property
    def local_cell_count(self) -> int:
        return sum(len(m.cells) for m in self.node_managers.values())

    @property
    def local_synapse_count(self) -> int:
        return sum(m.synapse_count for m in self.edge_managers)

    def population_of_gid(self) -> list[tuple[str, int]]:
        """(population, offset) sorted by offset, to turn gids back into node ids."""
        return sorted(((n, o) for n, o in self.offsets.items()), key=lambda item: item[1])
