"""One edge manager per chemical edge population: synapses and NetCons on local cells.

All attributes of the afferent edges of this rank's cells are read in a few bulk calls;
the per-edge loop only creates NEURON objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import libsonata
import numpy as np

from engine.compat import round_delays, synapse_ids_per_target
from engine.config import EdgePopulationInfo
from engine.errors import CircuitError
from engine.managers.attributes import AttributeReader, selection
from engine.managers.nodes import NodeManager
from engine.managers.synapse_models import choose_synapse_model

log = logging.getLogger("sonatasim")


@dataclass
class LocalEdges:
    """Afferent edges of this rank's cells, as arrays in edge-id order."""

    edge_ids: np.ndarray
    source_ids: np.ndarray
    target_ids: np.ndarray
    synapse_ids: np.ndarray
    delays: np.ndarray
    weights: np.ndarray
    targets: list[Any] = field(default_factory=list)  # point process (or artificial cell)

    def __len__(self) -> int:
        return int(self.edge_ids.size)


class EdgeManager:
    """Creates the synapses of one edge population onto the local cells of its target."""

    def __init__(
        self,
        info: EdgePopulationInfo,
        storage: Any,
        source: NodeManager,
        target: NodeManager,
    ):
        self.info = info
        self.storage = storage
        self.attributes = AttributeReader(storage, info.edges_file)
        self.source = source
        self.target = target
        self.local: LocalEdges | None = None
        self.netcons: list[Any] = []

    @property
    def name(self) -> str:
        return self.info.name

    def attribute(self, name: str, edges: Any) -> np.ndarray:
        return self.attributes.read(name, edges)

    def has_attribute(self, name: str) -> bool:
        return self.attributes.has(name)

    def optional_attribute(self, name: str, edges: Any, default: float, n: int) -> np.ndarray:
        return self.attributes.read_optional(name, edges, default, n)

    def read_local_edges(self, dt: float) -> LocalEdges:
        """All afferent edges of local target cells, read in bulk."""
        targets = self.target.local_ids
        try:
            edges = self.storage.afferent_edges(np.asarray(targets, dtype=np.uint64).tolist())
        except libsonata.SonataError as exc:
            raise CircuitError(
                f"cannot read edge indices: {exc}", file=self.info.edges_file, key=self.name
            ) from None
        edge_ids = np.asarray(edges.flatten(), dtype=np.uint64)
        n = edge_ids.size
        if n == 0:
            empty = np.zeros(0)
            return LocalEdges(edge_ids, empty, empty, empty, empty, empty)
        source_ids = np.asarray(self.storage.source_nodes(edges), dtype=np.uint64)
        target_ids = np.asarray(self.storage.target_nodes(edges), dtype=np.uint64)
        if not self.has_attribute("delay"):
            raise CircuitError(
                "edges have no 'delay' attribute", file=self.info.edges_file, key=self.name
            )
        delays = round_delays(self.attribute("delay", edges), dt)
        return LocalEdges(
            edge_ids=edge_ids,
            source_ids=source_ids,
            target_ids=target_ids,
            synapse_ids=synapse_ids_per_target(target_ids, edge_ids),
            delays=delays,
            weights=np.zeros(n),
        )

    def _weights_us(self, edges: Any, n: int, artificial: bool) -> np.ndarray:
        """NetCon weights: syn_weight as given (µS / unitless), conductance in nS -> µS."""
        if artificial and self.has_attribute("syn_weight"):
            return self.attribute("syn_weight", edges).astype(np.float64)
        if self.has_attribute("conductance"):
            return self.attribute("conductance", edges).astype(np.float64) * 1e-3
        if self.has_attribute("syn_weight"):
            return self.attribute("syn_weight", edges).astype(np.float64)
        raise CircuitError(
            "edges have neither 'conductance' nor 'syn_weight'",
            file=self.info.edges_file,
            key=self.name,
        )

    def create_synapses(self, sim: Any, settings: Any, simulated: dict[str, set[int]]) -> None:
        """Place one synapse per local edge and connect it to its source gid."""
        local = self.read_local_edges(settings.run.dt)
        self.local = local
        n = len(local)
        if n == 0:
            return
        edges = selection(local.edge_ids)
        artificial = isinstance(self.target, NodeManager) and _targets_artificial(self.target)
        local.weights = self._weights_us(edges, n, artificial)
        if not artificial:
            local.targets = self._place_synapses(sim.h, edges, local)
        else:
            local.targets = [self.target.cells[int(t)].hoc for t in local.target_ids]
        if self.source.info.is_virtual:
            return  # virtual sources drive synapses only through replay inputs
        simulated_sources = simulated.get(self.source.name, set())
        pc, threshold = sim.pc, settings.run.spike_threshold
        offset = self.source.offset
        for i in range(n):
            src = int(local.source_ids[i])
            if src not in simulated_sources:
                continue
            nc = pc.gid_connect(src + offset, local.targets[i])
            nc.delay = float(local.delays[i])
            nc.weight[0] = float(local.weights[i])
            nc.threshold = threshold
            self.netcons.append(nc)

    def _place_synapses(self, h: Any, edges: Any, local: LocalEdges) -> list[Any]:
        n = len(local)
        if not self.has_attribute("afferent_section_id"):
            raise CircuitError(
                "edges onto detailed cells need 'afferent_section_id'",
                file=self.info.edges_file,
                key=self.name,
            )
        section_ids = self.attribute("afferent_section_id", edges).astype(np.int64)
        positions = self.optional_attribute("afferent_section_pos", edges, 0.5, n)
        model = choose_synapse_model(self, edges, n)
        cells = self.target.cells
        synapses = []
        for i in range(n):
            cell = cells[int(local.target_ids[i])]
            segment = cell.segment(int(section_ids[i]), float(positions[i]))
            synapses.append(model(h, segment, i))
        return synapses

    @property
    def synapse_count(self) -> int:
        return len(self.local) if self.local is not None else 0


def _targets_artificial(target: NodeManager) -> bool:
    return any(getattr(c, "is_artificial", False) for c in target.cells.values())
