"""Which point process an edge population's synapses are, and what their NetCons carry.

A `SynapseModel` is built once per edge population from bulk-read attribute arrays. It
decides the NetCon weights (in the unit its mechanism expects), creates the point process
of local edge i on a segment, and configures every NetCon that drives it. Models whose
events add linearly (Exp2Syn, ExpSyn, SonataExp2Syn) say so, so the edge manager can let
one point process serve every edge with the same parameters onto the same segment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import CircuitError

DEFAULT_SYNAPSE = "SonataExp2Syn"
INHIBITORY_REVERSAL = -80.0
EXCITATORY_REVERSAL = 0.0
NS_TO_US = 1e-3

# NetCon kinds, as neurodamus numbers them (weight slot `nc_type_param` of BBP mechanisms).
NETCON_PRESYNAPTIC, NETCON_MINI, NETCON_REPLAY = 0, 1, 2


@dataclass
class ModelContext:
    """What a model factory may read: the edge manager, the local edges and the settings."""

    edges_manager: Any
    selection: Any  # libsonata Selection of the local edges
    local: Any  # LocalEdges
    settings: Any  # SimulationSetup

    @property
    def n(self) -> int:
        return len(self.local)

    def optional(self, name: str, default: float) -> np.ndarray:
        return self.edges_manager.optional_attribute(name, self.selection, default, self.n)

    def has(self, name: str) -> bool:
        return bool(self.edges_manager.has_attribute(name))

    def read(self, name: str) -> np.ndarray:
        return self.edges_manager.attribute(name, self.selection)


@dataclass
class SynapseModel:
    """Base model: NetCon weight[0] = `weights[i]`; subclasses create the point process."""

    weights: np.ndarray

    def create(self, h: Any, segment: Any, i: int) -> Any:
        raise NotImplementedError

    def share_groups(self) -> np.ndarray | None:
        """Per edge, an id equal for edges whose parameters match (linear models only)."""
        return None

    def configure_netcon(self, netcon: Any, i: int, kind: int = NETCON_PRESYNAPTIC) -> None:
        netcon.weight[0] = float(self.weights[i])


@dataclass
class LinearModel(SynapseModel):
    """A linear conductance synapse: one mechanism, per-edge parameters, weights in µS."""

    mechanism: str = DEFAULT_SYNAPSE
    parameters: dict[str, np.ndarray] = field(default_factory=dict)

    def create(self, h: Any, segment: Any, i: int) -> Any:
        synapse = getattr(h, self.mechanism)(segment)
        for name, values in self.parameters.items():
            setattr(synapse, name, float(values[i]))
        return synapse

    def share_groups(self) -> np.ndarray | None:
        n = self.weights.size
        if not self.parameters:
            return np.zeros(n, dtype=np.int64)
        table = np.column_stack([np.asarray(v, dtype=np.float64) for v in self.parameters.values()])
        return np.unique(table, axis=0, return_inverse=True)[1].reshape(n)


def conductance_weights_us(ctx: ModelContext) -> np.ndarray:
    """µS weights: `conductance` (nS) if present, else `syn_weight` as given (µS)."""
    if ctx.has("conductance"):
        return ctx.read("conductance").astype(np.float64) * NS_TO_US
    if ctx.has("syn_weight"):
        return ctx.read("syn_weight").astype(np.float64)
    em = ctx.edges_manager
    raise CircuitError(
        "edges have neither 'conductance' nor 'syn_weight'", file=em.info.edges_file, key=em.name
    )


def artificial_weights(ctx: ModelContext) -> np.ndarray:
    """Weights for artificial-cell targets: `syn_weight` as given, else conductance/1000."""
    if ctx.has("syn_weight"):
        return ctx.read("syn_weight").astype(np.float64)
    return conductance_weights_us(ctx)


def exp2syn_model(ctx: ModelContext) -> SynapseModel:
    params = {
        "tau1": ctx.optional("@dynamics:tau1", 0.5),
        "tau2": ctx.optional("@dynamics:tau2", 2.0),
        "e": ctx.optional("@dynamics:erev", 0.0),
    }
    return LinearModel(conductance_weights_us(ctx), mechanism="Exp2Syn", parameters=params)


def expsyn_model(ctx: ModelContext) -> SynapseModel:
    params = {"tau": ctx.optional("@dynamics:tau", 2.0), "e": ctx.optional("@dynamics:erev", 0.0)}
    return LinearModel(conductance_weights_us(ctx), mechanism="ExpSyn", parameters=params)


def default_model(ctx: ModelContext) -> SynapseModel:
    """Our double-exponential synapse: decay from `decay_time`, reversal by syn_type_id."""
    syn_type = ctx.optional("syn_type_id", 100)
    params = {
        "tau_d": ctx.optional("decay_time", 1.7),
        "e": np.where(syn_type < 100, INHIBITORY_REVERSAL, EXCITATORY_REVERSAL),
    }
    return LinearModel(conductance_weights_us(ctx), mechanism=DEFAULT_SYNAPSE, parameters=params)


MODELS: dict[str, Callable[[ModelContext], SynapseModel]] = {
    "exp2syn": exp2syn_model,
    "expsyn": expsyn_model,
}


def _template_of(ctx: ModelContext) -> str | None:
    if not ctx.has("model_template"):
        return None
    kinds = set(ctx.read("model_template").tolist())
    if len(kinds) > 1:
        raise CircuitError(
            f"several synapse models in one edge population: {sorted(kinds)}",
            file=ctx.edges_manager.info.edges_file,
            key="model_template",
        )
    return str(kinds.pop()).lower() or None


def choose_synapse_model(ctx: ModelContext) -> SynapseModel:
    """Edge `model_template` first, then BBP attributes (u_syn, ...), else SonataExp2Syn."""
    from engine.managers import bbp_synapses

    template = _template_of(ctx)
    if template is None:
        if bbp_synapses.has_bbp_attributes(ctx):
            return bbp_synapses.bbp_model(ctx)
        return default_model(ctx)
    if template not in MODELS:
        raise CircuitError(
            f"synapse model '{template}' is not supported yet",
            file=ctx.edges_manager.info.edges_file,
            key="model_template",
        )
    return MODELS[template](ctx)
