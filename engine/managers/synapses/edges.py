"""One edge manager per chemical edge population: synapses and NetCons on local cells.

All attributes of the afferent edges of this rank's cells are read in a few bulk calls;
the per-edge loop only creates NEURON objects. The synapse model (synapse_models.py,
bbp_synapses.py) decides the mechanism, its parameters and the NetCon weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.compat import round_delays, synapse_ids_per_target
from engine.config import EdgePopulationInfo
from engine.errors import CircuitError
from engine.io.attributes import AttributeReader, selection
from engine.io.edge_index import edge_selection
from engine.managers.cells.cell import clamp_x
from engine.managers.cells.nodes import NodeManager
from engine.managers.synapses import allen as allen_synapses
from engine.managers.synapses.base import NETCON_PRESYNAPTIC, ModelContext, SynapseModel
from engine.managers.synapses.gap_junctions import bmtk_gap_mask
from engine.managers.synapses.models import artificial_weights, choose_synapse_model
from engine.managers.synapses.neuroml import source_gid_shifts
from engine.managers.synapses.overrides import EdgeOverrides
from engine.managers.synapses.overrides import resolve_active as resolve_overrides

log = logging.getLogger("sonatasim")


@dataclass
class LocalEdges:
    """Afferent edges of this rank's cells, as arrays in edge-id order.

    `targets[i]` is the point process (or artificial cell) of edge i, or None when the
    edge's section no longer exists (a removed axon section); its synapse id stays used.
    """

    edge_ids: np.ndarray
    source_ids: np.ndarray
    target_ids: np.ndarray
    synapse_ids: np.ndarray
    delays: np.ndarray
    weights: np.ndarray
    targets: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.edge_ids.size)


@dataclass
class Locations:
    """Where each local edge sits: section ids plus a position or a (segment, offset)."""

    section_ids: np.ndarray
    positions: np.ndarray | None
    segment_ids: np.ndarray | None = None
    offsets: np.ndarray | None = None


class EdgeManager:
    """Creates the synapses of one edge population onto the local cells of its target."""

    # Linear synapses with equal parameters on one segment share one point process.
    share_linear_synapses = True

    def __init__(
        self,
        info: EdgePopulationInfo,
        storage: Any,
        source: NodeManager,
        target: NodeManager,
        *,
        unshared: frozenset[int] = frozenset(),
    ):
        self.info = info
        # target nodes whose synapses are reported one by one: no point process sharing
        self.unshared = unshared
        self.storage = storage
        self.attributes = AttributeReader(storage, info.edges_file)
        self.source = source
        self.target = target
        self.local: LocalEdges | None = None
        self.model: SynapseModel | None = None
        self.netcons: list[Any] = []
        self.point_processes = 0
        self.skipped = 0
        self.overrides: EdgeOverrides | None = None
        self.where: Locations | None = None  # of the local edges, once synapses exist
        # edges onto artificial cells of a population that also has detailed ones
        self.onto_points: np.ndarray | None = None
        self.point_weights = np.zeros(0)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def plain_weights(self) -> bool:
        """Whether a NetCon needs only `local.weights[i]` (no model, no override)."""
        return self.model is None and self.overrides is None

    def attribute(self, name: str, edges: Any) -> np.ndarray:
        return self.attributes.read(name, edges)

    def has_attribute(self, name: str) -> bool:
        return self.attributes.has(name)

    def optional_attribute(self, name: str, edges: Any, default: float, n: int) -> np.ndarray:
        return self.attributes.read_optional(name, edges, default, n)

    def read_local_edges(self, dt: float) -> LocalEdges:
        """All afferent edges of local target cells, read in bulk."""
        targets = self.target.local_ids
        edges = edge_selection(self.storage, self.info.edges_file, self.name, targets)
        edge_ids = np.asarray(edges.flatten(), dtype=np.uint64)
        if self.info.dialect == "allen" and edge_ids.size:  # bmtk gap junctions: not synapses
            gap = bmtk_gap_mask(self.attributes, edge_ids)
            if gap is not None and gap.any():
                edge_ids = edge_ids[~gap]
                edges = selection(edge_ids)
        n = edge_ids.size
        if n == 0:
            empty = np.zeros(0)
            return LocalEdges(edge_ids, empty, empty, empty.astype(np.int64), empty, empty)
        source_ids = np.asarray(self.storage.source_nodes(edges), dtype=np.uint64)
        target_ids = np.asarray(self.storage.target_nodes(edges), dtype=np.uint64)
        if not self.has_attribute("delay"):
            raise CircuitError(
                "edges have no 'delay' attribute", file=self.info.edges_file, key=self.name
            )
        delays = self.attribute("delay", edges).astype(np.float64)
        if self.info.dialect != "allen":  # bmtk hands NetCons the raw delay
            delays = round_delays(delays, dt)
        return LocalEdges(
            edge_ids=edge_ids,
            source_ids=source_ids,
            target_ids=target_ids,
            synapse_ids=synapse_ids_per_target(target_ids, edge_ids),
            delays=delays,
            weights=np.zeros(n),
        )

    def create_synapses(self, sim: Any, settings: Any, simulated: dict[str, set[int]]) -> None:
        """Place one synapse per local edge and connect it to its source gid."""
        local = self.read_local_edges(settings.run.dt)
        self.local = local
        n = len(local)
        if n == 0:
            return
        edges = selection(local.edge_ids)
        # per edge: onto an artificial cell (all or none, but in populations mixing types)
        onto_points = _onto_artificial(self.target, local.target_ids)
        artificial = bool(onto_points.all())
        # bmtk rules (nsyns, weight_function, placement by distance); None for other edges
        plan = allen_synapses.plan_synapses(self, edges, local, settings, sim.h, onto_points)
        where = None
        if plan is not None:
            local = self.local = allen_synapses.expand(local, plan.rows)
            onto_points = onto_points[plan.rows]
            edges = selection(local.edge_ids)  # one row per synapse
            n = len(local)
            if plan.section_ids is not None and plan.positions is not None:
                where = Locations(plan.section_ids, plan.positions)
        # connection_overrides: weight factors, delays, models, statements (or None)
        self.overrides = overrides = resolve_overrides(self, local)
        if overrides is not None:
            local.delays = overrides.edge_delays(local.delays)
        ctx = ModelContext(self, edges, local, settings)
        if artificial:
            weights = plan.weights if plan is not None else artificial_weights(ctx)
            local.targets = [self.target.cells[int(t)].event_target for t in local.target_ids]
            if overrides is not None:
                overrides.raw_weights = np.asarray(weights, dtype=np.float64)
                weights = overrides.raw_weights * overrides.factors
                _warn_unused_on_artificial(self.name, overrides)
            local.weights = weights
        else:
            self.model = choose_synapse_model(ctx)
            if plan is not None:
                self.model.weights = plan.weights
            local.weights = self.model.weights
            if overrides is not None:
                self.model = overrides.wrap_model(ctx, self.model)
            disabled = overrides.disabled if overrides is not None else None
            if onto_points.any():  # a population mixing model types: no synapse on those
                disabled = onto_points if disabled is None else disabled | onto_points
            local.targets = self._place_synapses(sim.h, edges, local, self.model, where, disabled)
            if overrides is not None:
                overrides.configure_synapses(local.targets, self.name)
            if onto_points.any():
                self._connect_artificial(ctx, plan, onto_points)
        if artificial and overrides is not None:
            for i in np.flatnonzero(overrides.disabled):  # weight 0: never connected
                local.targets[i] = None
        if self.source.info.is_virtual:
            return  # virtual sources drive synapses only through replay inputs
        simulated_sources = simulated.get(self.source.name, set())
        pc, threshold = sim.pc, settings.run.spike_threshold
        own_threshold = getattr(self.source, "own_spike_threshold", False)  # NeuroML cells
        offset, cells = self.source.offset, getattr(self.source, "cells", {})
        shifts = source_gid_shifts(self, edges, local.source_ids)  # NeuroML pre segments
        for i in range(n):
            src = int(local.source_ids[i])
            if src not in simulated_sources or local.targets[i] is None:
                continue
            nc = pc.gid_connect(src + offset + int(shifts[i]), local.targets[i])
            nc.delay = float(local.delays[i])
            self.configure_netcon(nc, i, NETCON_PRESYNAPTIC)
            # a local source's detector is this NetCon's; keep a NeuroML cell's spikeThresh
            if not own_threshold and not getattr(cells.get(src), "own_threshold", False):
                nc.threshold = threshold
            self.netcons.append(nc)

    def _connect_artificial(self, ctx: Any, plan: Any, onto_points: np.ndarray) -> None:
        """Edges onto the artificial cells of a population mixing model types: their
        NetCons go to the cell itself, with the weights of artificial targets."""
        assert self.local is not None
        local = self.local
        weights = plan.weights if plan is not None else artificial_weights(ctx)
        self.point_weights = np.asarray(weights, dtype=np.float64)
        self.onto_points = onto_points
        disabled = self.overrides.disabled if self.overrides is not None else None
        for i in np.flatnonzero(onto_points):
            if disabled is None or not disabled[i]:
                local.targets[i] = self.target.cells[int(local.target_ids[i])].event_target

    def configure_netcon(self, netcon: Any, i: int, kind: int = NETCON_PRESYNAPTIC) -> None:
        """Weights of a NetCon driving local edge i (kind: presynaptic, mini or replay)."""
        overrides = self.overrides
        if self.onto_points is not None and self.onto_points[i]:
            netcon.weight[0] = float(self.point_weights[i])
            if overrides is not None:
                overrides.finish_netcon(netcon, i, kind, float(self.point_weights[i]))
            return
        if self.model is None:
            assert self.local is not None
            netcon.weight[0] = float(self.local.weights[i])
            if overrides is not None and overrides.raw_weights is not None:
                overrides.finish_netcon(netcon, i, kind, float(overrides.raw_weights[i]))
        else:
            self.model.configure_netcon(netcon, i, kind)
            if overrides is not None:
                overrides.finish_netcon(netcon, i, kind, float(netcon.weight[0]))

    def locations(self, edges: Any, n: int) -> Locations:
        """Section ids and positions; (segment id, offset) only when no position exists."""
        if not self.has_attribute("afferent_section_id"):
            raise CircuitError(
                "edges onto detailed cells need 'afferent_section_id'",
                file=self.info.edges_file,
                key=self.name,
            )
        section_ids = self.attribute("afferent_section_id", edges).astype(np.int64)
        for name in ("afferent_section_pos", "afferent_section_fraction"):
            if self.has_attribute(name):
                return Locations(section_ids, self.attribute(name, edges).astype(np.float64))
        if self.has_attribute("afferent_segment_id"):
            return Locations(
                section_ids,
                None,
                self.attribute("afferent_segment_id", edges).astype(np.int64),
                self.optional_attribute("afferent_segment_offset", edges, 0.0, n),
            )
        return Locations(section_ids, np.full(n, 0.5))

    def _place_synapses(
        self,
        h: Any,
        edges: Any,
        local: LocalEdges,
        model: SynapseModel,
        where: Locations | None = None,
        disabled: np.ndarray | None = None,
    ) -> list[Any]:
        """Point processes per edge (None: removed section, or disabled by an override)."""
        n = len(local)
        where = where if where is not None else self.locations(edges, n)
        self.where = where
        cells = self.target.cells
        groups = model.share_groups() if self.share_linear_synapses else None
        shared: dict[tuple, Any] = {}
        nsegs: dict[tuple[int, int], int] = {}
        synapses: list[Any] = []
        skipped: list[tuple[int, int]] = []
        for i in range(n):
            if disabled is not None and disabled[i]:
                synapses.append(None)
                continue
            node_id = int(local.target_ids[i])
            cell = cells[node_id]
            section_id = int(where.section_ids[i])
            key = None
            share = groups is not None and node_id not in self.unshared
            if share and where.positions is not None:
                # the key from x and the section's nseg: no segment object for a shared one
                nseg = nsegs.get((node_id, section_id))
                if nseg is None:
                    section = cell.section(section_id)
                    nseg = nsegs[node_id, section_id] = 0 if section is None else section.nseg
                if nseg:
                    x = clamp_x(max(float(where.positions[i]), 0.0))
                    key = (node_id, section_id, min(int(x * nseg), nseg - 1), int(groups[i]))
                    found = shared.get(key)
                    if found is not None:
                        synapses.append(found)
                        continue
            if where.positions is not None:
                segment = cell.segment(section_id, float(where.positions[i]))
            else:
                assert where.segment_ids is not None and where.offsets is not None
                segment = cell.segment_at_offset(
                    h, section_id, int(where.segment_ids[i]), float(where.offsets[i])
                )
            if segment is None:
                synapses.append(None)
                skipped.append((node_id, section_id))
                continue
            if share and key is None:
                key = (node_id, section_id, _segment_index(segment), int(groups[i]))
                found = shared.get(key)
                if found is not None:
                    synapses.append(found)
                    continue
            synapse = model.create(h, segment, i)
            self.point_processes += 1
            if key is not None:
                shared[key] = synapse
            synapses.append(synapse)
        self.skipped = len(skipped)
        if skipped:
            node_id, section_id = skipped[0]
            log.warning(
                "edges %s: %d synapse(s) on sections that no longer exist were skipped"
                " (first: node %d, section id %d, e.g. a replaced axon)",
                self.name,
                len(skipped),
                node_id,
                section_id,
            )
        return synapses

    @property
    def synapse_count(self) -> int:
        return len(self.local) if self.local is not None else 0


def _segment_index(segment: Any) -> int:
    """Which of its section's segments a point (x) falls in, as NEURON locates it."""
    nseg = int(segment.sec.nseg)
    return min(int(segment.x * nseg), nseg - 1)


def _warn_unused_on_artificial(name: str, overrides: EdgeOverrides) -> None:
    """Artificial cells have no synapse point process to configure or replace."""
    if overrides.configure.any() or overrides.mechanisms.any():
        log.warning(
            "edges %s end on artificial cells: synapse_configure and modoverride of"
            " connection_overrides do not apply to them",
            name,
        )


def _onto_artificial(target: NodeManager, target_ids: np.ndarray) -> np.ndarray:
    """Per edge: whether its target cell is an artificial one (one look-up per cell)."""
    cells = target.cells
    unique, inverse = np.unique(np.asarray(target_ids, dtype=np.uint64), return_inverse=True)
    flags = np.array([getattr(cells[int(t)], "is_artificial", False) for t in unique], dtype=bool)
    return flags[inverse.reshape(-1)] if unique.size else np.zeros(0, dtype=bool)
