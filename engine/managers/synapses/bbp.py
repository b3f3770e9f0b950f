"""BBP/OBI synapses: stochastic Tsodyks-Markram AMPA/NMDA and GABA-A/B, as neurodamus makes them.

Edges that carry u_syn, depression_time and facilitation_time get ProbAMPANMDA_EMS
(syn_type_id >= 100) or ProbGABAAB_EMS (< 100) when the circuit compiled them, else our
SonataProbAMPANMDA / SonataProbGABAAB, which take the same parameter names. The mapping,
the NetCon weight (conductance in nS; the mechanism's gmax 0.001 turns nS into µS) and the
Random123 keys follow ../shared/docs/neurodamus-compat.md §3-§5, so every synapse draws
the same numbers on any rank count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.compat import population_hash_id
from engine.errors import CircuitError
from engine.managers.synapses.base import (
    NETCON_PRESYNAPTIC,
    ModelContext,
    SynapseModel,
    scale_use_by_calcium,
)

log = logging.getLogger("sonatasim")

MARKERS = ("u_syn", "depression_time", "facilitation_time")
REQUIRED = ("conductance", "u_syn", "depression_time", "facilitation_time", "decay_time")
REQUIRED += ("syn_type_id",)
EXCITATORY = ("ProbAMPANMDA_EMS", "SonataProbAMPANMDA")  # circuit's first, then ours
INHIBITORY = ("ProbGABAAB_EMS", "SonataProbGABAAB")
INHIBITORY_BELOW = 100  # syn_type_id < 100 is inhibitory
# Random123 key shifts (compat §4.2, §3.5); gids enter 1-based as in legacy neurodamus.
GID_SHIFT, SYNAPSE_SHIFT, SEED_SHIFT, GABA_RISE_SEED_SHIFT = 250, 100, 300, 450
POPULATION_FACTOR = 65536
GABA_RISE_MEAN, GABA_RISE_VARIANCE = 0.2, 0.1  # NEURON's lognormal(mean, variance)

_global_index: int | None = None


def has_bbp_attributes(ctx: ModelContext) -> bool:
    return all(ctx.has(name) for name in MARKERS)


def set_global_index(h: Any, seed: int) -> None:
    """Random123_globalindex(run.random_seed): applies to every Random123 stream."""
    global _global_index
    if _global_index != seed:
        h.Random().Random123_globalindex(int(seed))
        _global_index = int(seed)


def stream_keys(
    gids: np.ndarray, synapse_ids: np.ndarray, source: str, target: str, synapse_seed: int
) -> np.ndarray:
    """(n, 3) Random123 ids of each synapse's release stream."""
    third = population_hash_id(source) * POPULATION_FACTOR + population_hash_id(target)
    keys = np.empty((gids.size, 3), dtype=np.int64)
    keys[:, 0] = gids.astype(np.int64) + 1 + GID_SHIFT
    keys[:, 1] = synapse_ids.astype(np.int64) + SYNAPSE_SHIFT
    keys[:, 2] = third + int(synapse_seed) + SEED_SHIFT
    return keys


@dataclass
class BBPModel(SynapseModel):
    """Per-edge TM parameters; weights (nS) go to NetCon weight[0], not to gmax."""

    weight_unit = "nS"

    excitatory: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    use: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dep: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fac: np.ndarray = field(default_factory=lambda: np.zeros(0))
    decay: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nrrp: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ratio: np.ndarray = field(default_factory=lambda: np.zeros(0))
    synapse_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    gaba_rise_keys: np.ndarray | None = None
    mechanisms: dict[bool, str] = field(default_factory=dict)
    nc_type_slots: dict[str, int] = field(default_factory=dict)

    def mechanism(self, h: Any, excitatory: bool) -> str:
        """The circuit's EMS mechanism if NEURON has it, else ours (decided once)."""
        found = self.mechanisms.get(excitatory)
        if found is None:
            from engine.loaded_mechanisms import mechanism_exists

            candidates = EXCITATORY if excitatory else INHIBITORY
            found = next((m for m in candidates if mechanism_exists(h, m)), None)
            if found is None:
                raise CircuitError(f"none of the mechanisms {', '.join(candidates)} is compiled")
            self.mechanisms[excitatory] = found
            slot = f"nc_type_param_{found}"
            self.nc_type_slots[found] = int(getattr(h, slot)) if hasattr(h, slot) else -1
        return found

    def create(self, h: Any, segment: Any, i: int) -> Any:
        excitatory = bool(self.excitatory[i])
        synapse = getattr(h, self.mechanism(h, excitatory))(segment)
        if excitatory:
            synapse.tau_d_AMPA = float(self.decay[i])
        else:
            synapse.tau_d_GABAA = float(self.decay[i])
            if self.gaba_rise_keys is not None:
                synapse.tau_r_GABAA = gaba_rise_time(h, self.gaba_rise_keys[i])
        synapse.Use = float(self.use[i])
        synapse.Dep = float(self.dep[i])
        synapse.Fac = float(self.fac[i])
        if self.nrrp[i] >= 0:
            synapse.Nrrp = float(self.nrrp[i])
        if self.ratio[i] >= 0:
            setattr(synapse, "NMDA_ratio" if excitatory else "GABAB_ratio", float(self.ratio[i]))
        synapse.synapseID = float(self.synapse_ids[i])
        if hasattr(synapse, "conductance"):
            synapse.conductance = float(self.weights[i])
        synapse.setRNG(*(float(k) for k in self.keys[i]))
        return synapse

    def configure_netcon(self, netcon: Any, i: int, kind: int = NETCON_PRESYNAPTIC) -> None:
        netcon.weight[0] = float(self.weights[i])
        if kind != NETCON_PRESYNAPTIC:
            slot = self.nc_type_slots.get(self.mechanisms.get(bool(self.excitatory[i]), ""), -1)
            if slot > 0:
                netcon.weight[slot] = float(kind)


def gaba_rise_time(h: Any, keys: np.ndarray) -> float:
    """tau_r_GABAA from its own Random123 stream (randomize_gaba_rise_time).

    neurodamus' GABAABHelper calls lognormal(0.2, 0.1), drops what it returns and takes
    `repick()`: the stream's second lognormal value (checked against neurodamus 4.2.9).
    """
    rng = h.Random()
    rng.Random123(*(float(k) for k in keys))
    rng.lognormal(GABA_RISE_MEAN, GABA_RISE_VARIANCE)
    return float(rng.repick())


def bbp_model(ctx: ModelContext, weight_factor: float = 1.0) -> BBPModel:
    """Read the BBP attributes of the local edges in bulk and build their model."""
    em, local, settings = ctx.edges_manager, ctx.local, ctx.settings
    missing = [name for name in REQUIRED if not ctx.has(name)]
    if missing:
        raise CircuitError(
            f"BBP synapses need the edge attributes {', '.join(missing)}",
            file=em.info.edges_file,
            key=em.name,
        )
    if not ctx.has("n_rrp_vesicles"):
        log.warning("edges %s have no n_rrp_vesicles: Nrrp keeps its default", em.name)
    use = ctx.read("u_syn").astype(np.float64)
    calcium = getattr(settings.conditions, "extracellular_calcium", None)
    # without a u_hill_coefficient column neurodamus does not scale U at all
    if calcium is not None and ctx.has("u_hill_coefficient"):
        use = scale_use_by_calcium(use, ctx.read("u_hill_coefficient"), calcium)
    syn_type = ctx.read("syn_type_id").astype(np.int64)
    gids = local.target_ids.astype(np.int64) + int(em.target.offset)
    seed = int(getattr(settings.run, "synapse_seed", 0))
    keys = stream_keys(gids, local.synapse_ids, em.source.name, em.target.name, seed)
    gaba_keys = None
    if getattr(settings.conditions, "randomize_gaba_rise_time", False):
        gaba_keys = keys.copy()
        gaba_keys[:, 2] += GABA_RISE_SEED_SHIFT - SEED_SHIFT
    from engine import simulator

    set_global_index(simulator.current().h, int(settings.run.random_seed))
    return BBPModel(
        weights=ctx.read("conductance").astype(np.float64) * weight_factor,
        excitatory=syn_type >= INHIBITORY_BELOW,
        use=np.abs(use),
        dep=np.abs(ctx.read("depression_time").astype(np.float64)),
        fac=np.abs(ctx.read("facilitation_time").astype(np.float64)),
        decay=ctx.read("decay_time").astype(np.float64),
        nrrp=ctx.optional("n_rrp_vesicles", -1.0),
        ratio=ctx.optional("conductance_scale_factor", -1.0),
        synapse_ids=np.asarray(local.synapse_ids, dtype=np.int64),
        keys=keys,
        gaba_rise_keys=gaba_keys,
    )
