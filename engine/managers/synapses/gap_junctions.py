"""Gap junctions (`electrical` edge populations): ohmic couplings across MPI ranks.

Each side of a junction is a SonataGap point process; its partner's voltage arrives
through ParallelContext.source_var/target_var, keyed by ids computed from the edge file
alone, so every rank agrees on them without communication. After every manager has
created its junctions, all ranks must call `pc.setup_transfer()` once before init.

Two conventions:
* BBP (edges have afferent_junction_id and efferent_junction_id): a junction is stored as
  two edges, one per direction; each edge is the side on its target cell. The target's
  voltage is published under key `efferent_junction_id` and the side reads the key
  `afferent_junction_id` (the partner edge publishes that one), as neurodamus pairs them.
* otherwise (bmtk-style) every edge is one whole junction between its source (at the
  efferent location, default soma centre) and its target (afferent location): keys
  2 * edge_id (target side voltage) and 2 * edge_id + 1 (source side voltage).
Keys of each population start at `key_base`, so several populations never collide.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import libsonata
import numpy as np

from engine.config import EdgePopulationInfo
from engine.errors import CircuitError
from engine.io.attributes import AttributeReader
from engine.io.edge_index import edge_selection

log = logging.getLogger("sonatasim")

GAP_MECHANISM = "SonataGap"
US_TO_NS = 1e3
JUNCTION_IDS = ("afferent_junction_id", "efferent_junction_id")


@dataclass
class GapSide:
    """One side of a junction on a local cell: where it is, its keys and its objects."""

    cell: Any
    node_id: int
    section_id: int
    position: float
    conductance_ns: float
    publish_key: int
    read_key: int
    point_process: Any = None


class GapJunctionManager:
    """Creates the junction sides of one electrical edge population on local cells."""

    def __init__(
        self, info: EdgePopulationInfo, storage: Any, source: Any, target: Any, key_base: int = 0
    ):
        self.info = info
        self.storage = storage
        self.attributes = AttributeReader(storage, info.edges_file)
        self.source = source
        self.target = target
        self.key_base = int(key_base)
        self.sides: list[GapSide] = []

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def uses_junction_ids(self) -> bool:
        return all(self.attributes.has(name) for name in JUNCTION_IDS)

    def key_span(self) -> int:
        """How many keys this population uses (read from the file: equal on every rank)."""
        size = int(self.storage.size)
        if size == 0:
            return 0
        if not self.uses_junction_ids:
            return 2 * size
        everything = libsonata.Selection([(0, size)])
        largest = max(int(np.max(self.attributes.read(n, everything))) for n in JUNCTION_IDS)
        return largest + 1

    def _conductance_ns(self, edges: Any) -> np.ndarray:
        if self.attributes.has("conductance"):
            return self.attributes.read("conductance", edges).astype(np.float64)
        if self.attributes.has("syn_weight"):
            return self.attributes.read("syn_weight", edges).astype(np.float64) * US_TO_NS
        raise CircuitError(
            "gap junction edges need 'conductance' (nS) or 'syn_weight' (µS)",
            file=self.info.edges_file,
            key=self.name,
        )

    def _location(self, prefix: str, edges: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Section ids and positions at one end (`afferent` or `efferent`); soma centre if absent."""
        reader = self.attributes
        if not reader.has(f"{prefix}_section_id"):
            if prefix == "afferent":
                raise CircuitError(
                    "gap junction edges need 'afferent_section_id'",
                    file=self.info.edges_file,
                    key=self.name,
                )
            return np.zeros(n, np.int64), np.full(n, 0.5)
        ids = reader.read(f"{prefix}_section_id", edges).astype(np.int64)
        positions = reader.read_optional(f"{prefix}_section_pos", edges, 0.5, n)
        return ids, positions

    def _edges_of(self, cells: dict[int, Any], afferent: bool) -> tuple[Any, np.ndarray]:
        ids = np.array(sorted(cells), dtype=np.uint64).tolist()
        edges = edge_selection(
            self.storage, self.info.edges_file, self.name, ids, afferent=afferent
        )
        return edges, np.asarray(edges.flatten(), dtype=np.int64)

    def plan(self) -> list[GapSide]:
        """The junction sides on this rank's cells, in edge order (target sides first)."""
        sides: list[GapSide] = []
        if self.target.cells:
            edges, edge_ids = self._edges_of(self.target.cells, afferent=True)
            if edge_ids.size:
                sides += self._sides(edges, edge_ids, afferent=True)
        if not self.uses_junction_ids and self.source.cells:
            edges, edge_ids = self._edges_of(self.source.cells, afferent=False)
            if edge_ids.size:
                sides += self._sides(edges, edge_ids, afferent=False)
        return sides

    def _sides(self, edges: Any, edge_ids: np.ndarray, afferent: bool) -> list[GapSide]:
        n = edge_ids.size
        ends = self.storage.target_nodes(edges) if afferent else self.storage.source_nodes(edges)
        nodes = np.asarray(ends, dtype=np.int64)
        cells = (self.target if afferent else self.source).cells
        sections, positions = self._location("afferent" if afferent else "efferent", edges, n)
        conductance = self._conductance_ns(edges)
        if self.uses_junction_ids:
            publish = self.attributes.read("efferent_junction_id", edges).astype(np.int64)
            read = self.attributes.read("afferent_junction_id", edges).astype(np.int64)
        else:
            own, other = (0, 1) if afferent else (1, 0)
            publish, read = 2 * edge_ids + own, 2 * edge_ids + other
        return [
            GapSide(
                cell=cells[int(nodes[i])],
                node_id=int(nodes[i]),
                section_id=int(sections[i]),
                position=float(positions[i]),
                conductance_ns=float(conductance[i]),
                publish_key=self.key_base + int(publish[i]),
                read_key=self.key_base + int(read[i]),
            )
            for i in range(n)
        ]

    def create(self, sim: Any) -> None:
        """Create every local junction side and register its voltage transfer."""
        h, pc = sim.h, sim.pc
        try:
            self.sides = self.plan()
        except libsonata.SonataError as exc:
            raise CircuitError(
                f"cannot read gap junctions: {exc}", file=self.info.edges_file
            ) from None
        for side in self.sides:
            segment = side.cell.segment(side.section_id, side.position)
            if segment is None:
                raise CircuitError(
                    f"gap junction on node {side.node_id}, section id {side.section_id},"
                    " which the cell no longer has (replaced axon?)",
                    file=self.info.edges_file,
                    key=self.name,
                )
            gap = getattr(h, GAP_MECHANISM)(segment)
            gap.g = side.conductance_ns
            pc.source_var(segment._ref_v, side.publish_key, sec=segment.sec)
            pc.target_var(gap, gap._ref_vgap, side.read_key)
            side.point_process = gap
        if self.sides:
            log.debug("edges %s: %d local gap junction sides", self.name, len(self.sides))

    @property
    def count(self) -> int:
        return len(self.sides)


def create_gap_junctions(circuit: Any, open_edges: Any) -> list[GapJunctionManager]:
    """Every electrical population of the circuit, keys stacked in config order.

    `open_edges(info)` opens the libsonata EdgePopulation (the circuit's helper). The
    caller must then call `pc.setup_transfer()` on every rank, after all of them.
    """
    managers = []
    base = 0
    for info in circuit.setup.edge_populations.values():
        if info.type != "electrical":
            continue
        source = circuit.node_managers[info.source]
        target = circuit.node_managers[info.target]
        manager = GapJunctionManager(info, open_edges(info), source, target, key_base=base)
        base += manager.key_span()
        manager.create(circuit.sim)
        managers.append(manager)
    return managers
