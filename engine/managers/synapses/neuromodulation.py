"""Neuromodulatory edge populations: events onto existing synapses, as neurodamus does.

A `neuromodulatory` edge (SONATA BBP edge type) creates no synapse. It names a place on
its target cell (`afferent_section_id`, `afferent_section_pos`) and carries
`neuromod_strength` (uM) and `neuromod_dtc` (ms); it is linked to the closest synapse that
the other edge populations placed on the same section of the same cell: the smallest
|position difference|, which must be below 0.05 (the first such synapse wins a tie, edge
populations in circuit order, edges in id order). An edge with no synapse that close is
not linked (counted and reported with a warning).

Neuromodulatory sources are driven by `synapse_replay` inputs, like virtual projections
(ReplayManager). Each event's NetCon carries neurodamus' weight layout: weight[0] = 1
(0 when a connection override's weight is 0), weight[1] = strength, weight[2] = dtc,
weight[nc_type_param] = 10 (NC_NEUROMODULATOR); delay = the edge's delay. Connection
overrides' `neuromodulation_strength` / `neuromodulation_dtc` replace the edge values.
What the synapse does with the event is its mechanism's business (ours track a running
concentration and release nothing).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import numpy as np

from engine.errors import CircuitError
from engine.io.attributes import selection
from engine.managers.synapses.base import NETCON_PRESYNAPTIC
from engine.managers.synapses.edges import EdgeManager
from engine.managers.synapses.overrides import resolve_active as resolve_overrides

log = logging.getLogger("sonatasim")

NETCON_NEUROMODULATOR = 10
MAX_POSITION_DIFFERENCE = 0.05
STRENGTH, DTC = "neuromod_strength", "neuromod_dtc"


class NeuromodulationManager(EdgeManager):
    """Links the local edges of one neuromodulatory population to existing synapses."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.strength = np.zeros(0)
        self.dtc = np.zeros(0)
        self.enabled = np.zeros(0, dtype=bool)
        self.unlinked = 0
        self._slots: dict[str, int] = {}

    def link_to_synapses(self, sim: Any, settings: Any, base_managers: list[EdgeManager]) -> None:
        """Find each local edge's synapse among `base_managers` (chemical, already built)."""
        local = self.read_local_edges(settings.run.dt)
        self.local = local
        n = len(local)
        if n == 0:
            return
        edges = selection(local.edge_ids)
        for name in (STRENGTH, DTC):
            if not self.has_attribute(name):
                raise CircuitError(
                    f"neuromodulatory edges need the attribute '{name}'",
                    file=self.info.edges_file,
                    key=self.name,
                )
        self.strength = self.attribute(STRENGTH, edges).astype(np.float64)
        self.dtc = self.attribute(DTC, edges).astype(np.float64)
        self.enabled = np.ones(n, dtype=bool)
        overrides = resolve_overrides(self, local)
        if overrides is not None:
            self.overrides = overrides
            local.delays = overrides.edge_delays(local.delays)
            self.enabled = overrides.factors > 0
            for values, chosen in ((self.strength, overrides.neuromod_strength),
                                   (self.dtc, overrides.neuromod_dtc)):  # fmt: skip
                if chosen is not None:
                    np.copyto(values, chosen, where=~np.isnan(chosen))
        where = self.locations(edges, n)
        if where.positions is None:
            raise CircuitError(
                "neuromodulatory edges need 'afferent_section_pos'",
                file=self.info.edges_file,
                key=self.name,
            )
        self.where = where
        same_cells = [
            m
            for m in base_managers
            if m.target.name == self.target.name and m.source.name != self.source.name
        ]
        candidates = _synapses_by_place(sim.h, same_cells, local.target_ids)
        local.targets = []
        for i in range(n):
            found = None
            if self.enabled[i]:
                place = (int(local.target_ids[i]), int(where.section_ids[i]))
                found = _closest(candidates.get(place, ()), float(where.positions[i]))
            if found is None and self.enabled[i]:
                self.unlinked += 1
            if found is not None:
                self._check_mechanism(sim.h, found)
            local.targets.append(found)

    def _check_mechanism(self, h: Any, synapse: Any) -> None:
        """The synapse's NetCons must have the slots [weight, strength, dtc, ..., nc_type]."""
        mechanism = synapse.hname().split("[")[0]
        if mechanism in self._slots:
            return
        slot = int(getattr(h, f"nc_type_param_{mechanism}", -1))
        probe = h.NetCon(None, synapse)
        count = int(probe.wcnt())
        del probe
        if slot < 3 or slot >= count:
            raise CircuitError(
                f"neuromodulatory edges end on {mechanism} synapses, whose NetCons take"
                f" {count} weight(s) with nc_type_param {slot}; neuromodulatory events need"
                " [weight, strength, dtc, ..., nc_type] (nc_type_param >= 3)",
                file=self.info.edges_file,
                key=self.name,
            )
        self._slots[mechanism] = slot

    def configure_netcon(self, netcon: Any, i: int, kind: int = NETCON_PRESYNAPTIC) -> None:
        """neurodamus' neuromodulatory weights (whatever kind the caller asks for)."""
        assert self.local is not None
        synapse = self.local.targets[i]
        netcon.weight[0] = 1.0 if self.enabled[i] else 0.0
        netcon.weight[1] = float(self.strength[i])
        netcon.weight[2] = float(self.dtc[i])
        netcon.weight[self._slots[synapse.hname().split("[")[0]]] = NETCON_NEUROMODULATOR

    @property
    def plain_weights(self) -> bool:
        return False

    @property
    def synapse_count(self) -> int:
        return 0  # links to other populations' synapses, creates none


def report_unlinked(sim: Any, names: list[str], managers: list[NeuromodulationManager]) -> None:
    """One warning per population (rank 0) for edges that found no synapse on any rank."""
    counts = {name: [0, 0] for name in names}
    for manager in managers:
        counts[manager.name] = [manager.unlinked, len(manager.local) if manager.local else 0]
    totals = np.sum(np.array(sim.allgather([counts[n] for n in names])), axis=0)
    if not sim.is_root:
        return
    for name, (unlinked, total) in zip(names, totals.reshape(-1, 2).tolist(), strict=True):
        if unlinked:
            log.warning(
                "neuromodulatory edges %s: %d of %d edge(s) of the simulated cells have no"
                " synapse within %g of their position on the same section; they have no effect",
                name,
                unlinked,
                total,
                MAX_POSITION_DIFFERENCE,
            )


def _synapses_by_place(
    h: Any, managers: list[EdgeManager], node_ids: np.ndarray
) -> dict[tuple[int, int], list[tuple[float, Any]]]:
    """(node id, section id) -> [(position, synapse)] of the built synapses on these nodes."""
    wanted = np.unique(node_ids)
    places: dict[tuple[int, int], list[tuple[float, Any]]] = defaultdict(list)
    for manager in managers:
        base, where = manager.local, manager.where
        if base is None or where is None or not len(base):
            continue
        for i in np.flatnonzero(np.isin(base.target_ids, wanted)).tolist():
            synapse = base.targets[i]
            if synapse is None:
                continue
            if where.positions is not None:
                position = float(where.positions[i])
            else:  # placed by (segment, offset): the point process's own location
                position = float(synapse.get_loc())
                h.pop_section()
            place = (int(base.target_ids[i]), int(where.section_ids[i]))
            places[place].append((position, synapse))
    return places


def _closest(candidates: Any, position: float) -> Any:
    """The first synapse with the smallest |position difference| below the limit."""
    best, found = MAX_POSITION_DIFFERENCE, None
    for candidate_position, synapse in candidates:
        difference = abs(candidate_position - position)
        if difference < best:
            best, found = difference, synapse
    return found
