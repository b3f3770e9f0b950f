"""Which point process an edge population's synapses are, and what their NetCons carry.

A `SynapseModel` is built once per edge population from bulk-read attribute arrays. It
decides the NetCon weights (in the unit its mechanism expects), creates the point process
of local edge i on a segment, and configures every NetCon that drives it. Models whose
events add linearly (Exp2Syn, ExpSyn, SonataExp2Syn) say so, so the edge manager can let
one point process serve every edge with the same parameters onto the same segment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import CircuitError, ConfigError
from engine.managers.synapses import bbp as bbp_synapses
from engine.managers.synapses import glusynapse
from engine.managers.synapses.base import NETCON_PRESYNAPTIC, ModelContext, SynapseModel

log = logging.getLogger("sonatasim")

DEFAULT_SYNAPSE = "SonataExp2Syn"
INHIBITORY_REVERSAL = -80.0
EXCITATORY_REVERSAL = 0.0
NS_TO_US = 1e-3


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
    em = ctx.edges_manager
    if ctx.has("conductance"):
        if not ctx.has("syn_weight"):
            _say_once(em, "no 'syn_weight': weights from 'conductance' (nS), as neurodamus does")
        return ctx.read("conductance").astype(np.float64) * NS_TO_US
    if ctx.has("syn_weight"):
        return ctx.read("syn_weight").astype(np.float64)
    raise CircuitError(
        "edges have neither 'conductance' (nS) nor 'syn_weight' (uS): no synaptic weight"
        " (neither neurodamus nor bmtk has a default)",
        file=em.info.edges_file,
        key=em.name,
    )


def _edge_type(ctx: ModelContext) -> str:
    return str(ctx.edges_manager.info.type)


def _raw_weights(ctx: ModelContext) -> np.ndarray:
    """neurodamus' AllenPoint edge types: the NetCon weight is `conductance` as given."""
    name = "conductance" if ctx.has("conductance") else "syn_weight"
    if not ctx.has(name):
        em = ctx.edges_manager
        raise CircuitError(
            f"{_edge_type(ctx)} edges need 'conductance'", file=em.info.edges_file, key=em.name
        )
    return ctx.read(name).astype(np.float64)


_said: set[tuple[str, str]] = set()


def _say_once(em: Any, message: str) -> None:
    """Log `message` once per edge population and process (rank 0's log shows it)."""
    key = (str(em.info.edges_file), em.name)
    if key not in _said:
        _said.add(key)
        log.info("edge population %s (%s): %s", em.name, em.info.edges_file, message)


def artificial_weights(ctx: ModelContext) -> np.ndarray:
    """Weights for artificial-cell targets: `syn_weight` as given, else conductance/1000;
    edge populations of type point_process: `conductance` as given (neurodamus)."""
    if _edge_type(ctx) == "point_process":
        return _raw_weights(ctx)
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


def exp2syn_edges_model(ctx: ModelContext) -> SynapseModel:
    """Edge type Exp2Syn_synapse (neurodamus' Exp2SynHelper): NEURON's Exp2Syn with the
    edges' own tau1, tau2, erev; NetCon weight = conductance as given (uS)."""
    em = ctx.edges_manager
    missing = [a for a in ("tau1", "tau2", "erev") if not ctx.has(a)]
    if missing:
        raise CircuitError(
            f"Exp2Syn_synapse edges need {', '.join(missing)}",
            file=em.info.edges_file,
            key=em.name,
        )
    params = {p: ctx.read(a).astype(np.float64) for p, a in (("tau1", "tau1"),
              ("tau2", "tau2"), ("e", "erev"))}  # fmt: skip
    return LinearModel(_raw_weights(ctx), mechanism="Exp2Syn", parameters=params)


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
    if _edge_type(ctx) == "Exp2Syn_synapse":
        return exp2syn_edges_model(ctx)
    template = _template_of(ctx)
    if template is not None and template.startswith("nml:"):
        from engine.managers.synapses.neuroml import nml_synapse_model

        return nml_synapse_model(ctx, str(ctx.read("model_template")[0]))
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


# NEURON's own synapses take uS weights (edges of BBP models give nS).
MICROSIEMENS_MECHANISMS = ("Exp2Syn", "ExpSyn")
# Edge attribute -> TM parameter a modoverride mechanism gets when it declares it (abs value).
TM_PARAMETERS = {"u_syn": "Use", "depression_time": "Dep", "facilitation_time": "Fac"}
# Random123 ids of a modoverride mechanism's setRNG (GluSynapse's convention, compat §4.2).
MOD_OVERRIDE_SYNAPSE_SHIFT, MOD_OVERRIDE_SEED_SHIFT = 100000, 200


@dataclass
class ModOverrideModel(SynapseModel):
    """A `modoverride` mechanism: parameters from the edge attributes it declares.

    NaN in `parameters` means "keep the mod default" for that edge. NetCon weights are the
    circuit model's (nS for BBP edges, turned into uS for NEURON's Exp2Syn/ExpSyn).
    """

    mechanism: str = ""
    parameters: dict[str, np.ndarray] = field(default_factory=dict)
    keys: np.ndarray | None = None
    nc_type_slot: int = -1

    def create(self, h: Any, segment: Any, i: int) -> Any:
        synapse = getattr(h, self.mechanism)(segment)
        for name, values in self.parameters.items():
            value = float(values[i])
            if not np.isnan(value):
                setattr(synapse, name, value)
        if self.keys is not None and hasattr(synapse, "setRNG"):
            synapse.setRNG(*(float(k) for k in self.keys[i]))
        return synapse

    def configure_netcon(self, netcon: Any, i: int, kind: int = NETCON_PRESYNAPTIC) -> None:
        netcon.weight[0] = float(self.weights[i])
        if kind != NETCON_PRESYNAPTIC and self.nc_type_slot > 0:
            netcon.weight[self.nc_type_slot] = float(kind)


def point_process_parameters(h: Any, name: str) -> list[str] | None:
    """PARAMETER names of point process `name`; None if NEURON has no such point process."""
    types = h.MechanismType(1)
    found = h.ref("")
    for index in range(int(types.count())):
        types.select(index)
        types.selected(found)
        if found[0] == name:
            standard = h.MechanismStandard(name, 1)
            names = []
            for k in range(int(standard.count())):
                standard.name(found, k)
                names.append(str(found[0]))
            return names
    return None


def mod_override_model(
    ctx: ModelContext, name: str, base: SynapseModel, label: str, key: str | None = None
) -> SynapseModel:
    """The model of edges whose connection override says `modoverride: name`.

    `label` names the override block in messages, `key` is its config key.
    """
    from engine import simulator

    h = simulator.current().h
    declared = point_process_parameters(h, name)
    if declared is None:
        raise ConfigError(
            f"{label}: modoverride '{name}': no point process {name} is compiled (add its .mod"
            " file to the circuit's mechanisms_dir)",
            key=key or label,
            file=ctx.settings.config_path,
        )
    params: dict[str, np.ndarray] = {}
    for attribute, variable in TM_PARAMETERS.items():
        if variable in declared and ctx.has(attribute):
            params[variable] = np.abs(ctx.read(attribute).astype(np.float64))
    if "Nrrp" in declared and ctx.has("n_rrp_vesicles"):
        nrrp = ctx.read("n_rrp_vesicles").astype(np.float64)
        params["Nrrp"] = np.where(nrrp >= 0, nrrp, np.nan)
    for variable in declared:
        if ctx.has(variable):
            values = ctx.read(variable)
            if np.asarray(values).dtype.kind in "iuf":
                params[variable] = np.asarray(values, dtype=np.float64)
    local = ctx.local
    synapse_ids = np.asarray(local.synapse_ids, dtype=np.int64)
    if "synapseID" in declared:
        params["synapseID"] = synapse_ids.astype(np.float64)
    if "conductance" in declared and ctx.has("conductance"):
        params["conductance"] = ctx.read("conductance").astype(np.float64)
    if name == glusynapse.MECHANISM:  # neurodamus' GluSynapseHelper mapping
        params.update(glusynapse.glusynapse_parameters(ctx, h, label, key or label))
    weights = np.asarray(base.weights, dtype=np.float64)
    if name in MICROSIEMENS_MECHANISMS and base.weight_unit == "nS":
        weights = weights * NS_TO_US
    em, settings = ctx.edges_manager, ctx.settings
    keys = np.empty((ctx.n, 3), dtype=np.int64)
    keys[:, 0] = local.target_ids.astype(np.int64) + int(em.target.offset) + 1
    keys[:, 1] = synapse_ids + MOD_OVERRIDE_SYNAPSE_SHIFT
    keys[:, 2] = int(getattr(settings.run, "synapse_seed", 0)) + MOD_OVERRIDE_SEED_SHIFT
    slot = f"nc_type_param_{name}"
    return ModOverrideModel(
        weights=weights,
        mechanism=name,
        parameters=params,
        keys=keys,
        nc_type_slot=int(getattr(h, slot)) if hasattr(h, slot) else -1,
    )


@dataclass
class OverriddenModel(SynapseModel):
    """The circuit's model, with some edges on a modoverride mechanism (`which` > 0).

    `signature` numbers the synapse_configure sets; linear synapses share a point process
    only within one set, and not at all once a mechanism is overridden.
    """

    base: SynapseModel | None = None
    replacements: dict[int, SynapseModel] = field(default_factory=dict)
    which: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    signature: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def model_of(self, i: int) -> SynapseModel:
        model = self.replacements.get(int(self.which[i]), self.base)
        assert model is not None
        return model

    def create(self, h: Any, segment: Any, i: int) -> Any:
        return self.model_of(i).create(h, segment, i)

    def configure_netcon(self, netcon: Any, i: int, kind: int = NETCON_PRESYNAPTIC) -> None:
        self.model_of(i).configure_netcon(netcon, i, kind)

    def share_groups(self) -> np.ndarray | None:
        if self.base is None or self.which.any():
            return None
        groups = self.base.share_groups()
        if groups is None:
            return None
        table = np.column_stack([groups, self.signature])
        return np.unique(table, axis=0, return_inverse=True)[1].reshape(-1)
