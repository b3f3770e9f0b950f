"""Spontaneous synaptic releases ("minis"): one Poisson source per synapse, as neurodamus.

Rate of a synapse (Hz, compat doc §4.3): the `spont_minis` of the last connection override
that selects its edge and sets one; otherwise the target node's `inh_mini_frequency`
(syn_type_id < 100) or `exc_mini_frequency` (>= 100; edges without syn_type_id count as
excitatory). No source when the rate is 0 or absent.

Each source is a SonataInhPoissonStim (mod/sonatasim_minis.mod) without an end time
(neurodamus ends them at tstop: the same releases within the run, the same draws, but a
run continued from a checkpoint needs sources that did not stop at the first segment's
tstop) and two Random123 streams keyed by ids only, so the releases of a synapse never depend on the
rank count or creation order:

    exponential intervals: (synapse_id + 200, gid + 1 + 250, seed2 + 300)
    thinning uniforms:     (synapse_id + 200, gid + 1 + 250, seed2 + 350)
    seed2 = src_pop_id * 65536 + dst_pop_id + run.minis_seed

(gid = the target's final gid, pop ids = compat.population_hash_id). Its NetCon has delay
0.1 ms and the weights of the edge's other NetCons (conductance x override weight), with
the mechanism's nc_type slot set to 1 (spontaneous release).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.compat import population_hash_id
from engine.io.attributes import selection
from engine.managers.synapses.base import NETCON_MINI

MINIS_NO_END_MS = 1e9  # see the module docstring
log = logging.getLogger("sonatasim")

MINIS_SOURCE = "SonataInhPoissonStim"
MINI_DELAY_MS = 0.1
INHIBITORY_BELOW = 100  # syn_type_id < 100: inhibitory
EXCITATORY_DEFAULT = 113  # the syn_type_id assumed for edges without one
SYNAPSE_SHIFT, GID_SHIFT, EXP_SHIFT, UNIFORM_SHIFT = 200, 250, 300, 350
POPULATION_FACTOR = 65536


def mini_keys(
    gids: np.ndarray, synapse_ids: np.ndarray, source: str, target: str, minis_seed: int
) -> np.ndarray:
    """(n, 6) Random123 ids per synapse: exponential stream ids, then uniform stream ids."""
    seed2 = population_hash_id(source) * POPULATION_FACTOR + population_hash_id(target)
    seed2 += int(minis_seed)
    keys = np.empty((gids.size, 6), dtype=np.int64)
    keys[:, 0] = keys[:, 3] = np.asarray(synapse_ids, dtype=np.int64) + SYNAPSE_SHIFT
    keys[:, 1] = keys[:, 4] = np.asarray(gids, dtype=np.int64) + 1 + GID_SHIFT
    keys[:, 2] = seed2 + EXP_SHIFT
    keys[:, 5] = seed2 + UNIFORM_SHIFT
    return keys


@dataclass
class SpontaneousMinis:
    """The minis sources of this rank's synapses and their NetCons."""

    sim: Any
    circuit: Any
    setup: Any
    sources: list[Any] = field(default_factory=list)
    netcons: list[Any] = field(default_factory=list)
    # per source: (edge population, local edge index)
    edges: list[tuple[str, int]] = field(default_factory=list)

    def create(self) -> int:
        """Sources on every local synapse with a positive rate; returns how many."""
        for manager in self.circuit.edge_managers:
            local = manager.local
            if local is None or not len(local) or manager.model is None:
                continue  # no edges, or artificial targets (no synapse to release onto)
            rates = self.rates(manager)
            wanted = np.flatnonzero(rates > 0)
            if wanted.size:
                self._create_on(manager, wanted, rates)
        count = len(self.sources)
        total = sum(self.sim.allgather(count))
        if total and self.sim.is_root:
            log.info("Spontaneous minis: %d source(s)", total)
        return count

    def rates(self, manager: Any) -> np.ndarray:
        """Rate (Hz) per local edge: override spont_minis, else the node attributes."""
        local = manager.local
        n = len(local)
        rates = np.zeros(n)
        node_rates = self._node_rates(manager)
        if node_rates is not None:
            syn_type = np.full(n, EXCITATORY_DEFAULT, dtype=np.int64)
            if manager.has_attribute("syn_type_id"):
                edges = selection(local.edge_ids)
                syn_type = manager.attribute("syn_type_id", edges).astype(np.int64)
            inhibitory, excitatory = node_rates
            rates = np.where(syn_type < INHIBITORY_BELOW, inhibitory, excitatory)
        overrides = getattr(manager, "overrides", None)
        if overrides is not None:
            rates = np.where(np.isnan(overrides.spont_rates), rates, overrides.spont_rates)
        return np.asarray(rates, dtype=np.float64)

    @staticmethod
    def _node_rates(manager: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """(inh, exc) mini frequency of each edge's target node, or None without either."""
        nodes = manager.target
        names = ("inh_mini_frequency", "exc_mini_frequency")
        if not any(nodes.has_attribute(name) for name in names):
            return None
        targets = np.asarray(manager.local.target_ids, dtype=np.uint64)
        ids, where = np.unique(targets, return_inverse=True)
        columns = []
        for name in names:
            if nodes.has_attribute(name):
                values = np.asarray(nodes.attribute(name, ids), dtype=np.float64)
                columns.append(np.nan_to_num(values)[where.reshape(-1)])
            else:
                columns.append(np.zeros(targets.size))
        return columns[0], columns[1]

    def _create_on(self, manager: Any, wanted: np.ndarray, rates: np.ndarray) -> None:
        from engine.managers.synapses.bbp import set_global_index

        h, run = self.sim.h, self.setup.run
        set_global_index(h, int(run.random_seed))
        local = manager.local
        gids = local.target_ids.astype(np.int64) + int(manager.target.offset)
        keys = mini_keys(
            gids[wanted],
            np.asarray(local.synapse_ids)[wanted],
            manager.source.name,
            manager.target.name,
            int(run.minis_seed),
        )
        for row, i in enumerate(wanted.tolist()):
            synapse = local.targets[i]
            if synapse is None:
                continue  # removed section, or a pathway an override disabled
            stim = getattr(h, MINIS_SOURCE)()
            stim.rate = float(rates[i])
            stim.duration = MINIS_NO_END_MS
            stim.setRNGs(*(float(k) for k in keys[row]))
            netcon = h.NetCon(stim, synapse)
            netcon.delay = MINI_DELAY_MS
            manager.configure_netcon(netcon, i, NETCON_MINI)
            self.sources.append(stim)
            self.netcons.append(netcon)
            self.edges.append((manager.name, i))
