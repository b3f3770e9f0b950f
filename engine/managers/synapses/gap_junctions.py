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
* bmtk (Allen dialect: edge types with `is_gap_junction`, in any edge population, also
  mixed with chemical edge types; bmtk's `networks.gap_juncs` id file is not needed): as
  bmtk's BioCell does, each edge is one junction of conductance `syn_weight` (uS) whose two
  sides sit at the centre, sec(0.5), of a section of their own cell: both at the edge's
  `afferent_section_id` when the edges have one (bmtk uses it on the source cell too),
  else each side on a section drawn by bmtk's candidate rule from `target_sections` /
  `distance_range` (our rank-independent stream, not bmtk's); `nsyns` 0 means no junction.
  Keys as in the previous case.
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
from engine.io.attributes import AttributeReader, selection
from engine.io.edge_index import edge_selection

log = logging.getLogger("sonatasim")

GAP_MECHANISM = "SonataGap"
US_TO_NS = 1e3
JUNCTION_IDS = ("afferent_junction_id", "efferent_junction_id")
GAP_SALT = 5147  # keeps bmtk gap junction placement apart from the synapse streams


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


def _truthy(values: np.ndarray) -> np.ndarray:
    return np.array([str(v).strip().lower() in ("true", "1", "1.0") for v in values], dtype=bool)


def bmtk_gap_mask(attributes: AttributeReader, edge_ids: np.ndarray) -> np.ndarray | None:
    """Per edge, whether its edge type is a bmtk gap junction (None: no such column)."""
    if not attributes.has("is_gap_junction"):
        return None
    return _truthy(attributes.read("is_gap_junction", edge_ids.astype(np.uint64)))


def has_bmtk_gap_junctions(attributes: AttributeReader) -> bool:
    """Any bmtk gap junction edge in the population (from the files: equal on every rank)."""
    if not attributes.has("is_gap_junction") or int(attributes.storage.size) == 0:
        return False
    if attributes.from_types_file("is_gap_junction"):
        return bool(_truthy(attributes.table.columns["is_gap_junction"]).any())
    return bool(bmtk_gap_mask(attributes, np.arange(int(attributes.storage.size))).any())


class GapJunctionManager:
    """Creates the junction sides of one electrical edge population on local cells."""

    def __init__(
        self,
        info: EdgePopulationInfo,
        storage: Any,
        source: Any,
        target: Any,
        key_base: int = 0,
        seed: int = 0,
    ):
        self.info = info
        self.storage = storage
        self.attributes = AttributeReader(storage, info.edges_file)
        self.source = source
        self.target = target
        self.key_base = int(key_base)
        self._seed = int(seed)  # run.random_seed: bmtk-style placement draws
        self._h: Any = None
        self.sides: list[GapSide] = []

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def uses_junction_ids(self) -> bool:
        return not self.bmtk and all(self.attributes.has(name) for name in JUNCTION_IDS)

    @property
    def bmtk(self) -> bool:
        """bmtk's convention: the population's gap junctions are its is_gap_junction edges."""
        return self.info.type != "electrical"

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

    def _bmtk_location(
        self, edges: Any, nodes: np.ndarray, cells: dict[int, Any], afferent: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """bmtk's sides: sec(0.5) of afferent_section_id (both sides), else a drawn section."""
        n = nodes.size
        reader = self.attributes
        for name in ("afferent_section_id", "sec_id"):
            if reader.has(name):
                return reader.read(name, edges).astype(np.int64), np.full(n, 0.5)
        from engine.compat import population_hash_id
        from engine.managers.cells.placement import segment_candidates
        from engine.managers.synapses.allen import parse_range, parse_sections

        kinds = reader.read("target_sections", edges) if reader.has("target_sections") else None
        ranges = reader.read("distance_range", edges) if reader.has("distance_range") else None
        h = self._h
        seed = int(self._seed)
        sections = np.zeros(n, np.int64)
        edge_ids = np.asarray(edges.flatten(), dtype=np.int64)
        for i in range(n):
            cell = cells[int(nodes[i])]
            rule = (
                frozenset(parse_sections(None if kinds is None else kinds[i])),
                parse_range(None if ranges is None else ranges[i]),
            )
            ids, _, weights = segment_candidates(h, cell, rule[0], *rule[1])
            if ids.size == 0:
                raise CircuitError(
                    f"gap junction edge {int(edge_ids[i])}: node {int(nodes[i])} has no segment"
                    f" in {sorted(rule[0])} within {rule[1]} um of the soma",
                    file=self.info.edges_file,
                    key="target_sections",
                )
            key = [seed, GAP_SALT, population_hash_id(self.name), int(edge_ids[i]), int(afferent)]
            rng = np.random.default_rng(key)
            sections[i] = ids[int(rng.choice(ids.size, p=weights / weights.sum()))]
        return sections, np.full(n, 0.5)

    def _edges_of(self, cells: dict[int, Any], afferent: bool) -> tuple[Any, np.ndarray]:
        ids = np.array(sorted(cells), dtype=np.uint64).tolist()
        edges = edge_selection(
            self.storage, self.info.edges_file, self.name, ids, afferent=afferent
        )
        edge_ids = np.asarray(edges.flatten(), dtype=np.int64)
        if self.bmtk and edge_ids.size:
            keep = bmtk_gap_mask(self.attributes, edge_ids)
            if self.attributes.has("nsyns"):
                keep &= self.attributes.read("nsyns", edges).astype(np.int64) > 0
            edge_ids = np.sort(edge_ids[keep])
            edges = selection(edge_ids.astype(np.uint64))
        return edges, edge_ids

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
        if self.bmtk:
            sections, positions = self._bmtk_location(edges, nodes, cells, afferent)
        else:
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
        self._h = h
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


def is_gap_population(info: EdgePopulationInfo, open_edges: Any) -> bool:
    """SONATA `electrical`, or an Allen population with bmtk gap junction edge types."""
    if info.type == "electrical":
        return True
    if info.dialect != "allen" or info.type not in ("chemical", ""):
        return False
    return has_bmtk_gap_junctions(AttributeReader(open_edges(info), info.edges_file))


def create_gap_junctions(circuit: Any, open_edges: Any) -> list[GapJunctionManager]:
    """Every electrical population of the circuit, keys stacked in config order.

    `open_edges(info)` opens the libsonata EdgePopulation (the circuit's helper). The
    caller must then call `pc.setup_transfer()` on every rank, after all of them.
    """
    managers = []
    base = 0
    for info in circuit.setup.edge_populations.values():
        if not is_gap_population(info, open_edges):
            continue
        source = circuit.node_managers[info.source]
        target = circuit.node_managers[info.target]
        seed = int(circuit.setup.run.random_seed)
        manager = GapJunctionManager(info, open_edges(info), source, target, base, seed)
        base += manager.key_span()
        manager.create(circuit.sim)
        managers.append(manager)
    return managers
