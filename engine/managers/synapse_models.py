"""Which point process an edge population's synapses are, and how its parameters are set.

A model is a factory `(h, segment, index) -> point process` built once per edge population
from bulk-read attribute arrays; the edge manager calls it once per synapse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import CircuitError

SynapseFactory = Callable[[Any, Any, int], Any]

DEFAULT_SYNAPSE = "SonataExp2Syn"
INHIBITORY_REVERSAL = -80.0
EXCITATORY_REVERSAL = 0.0


def _template_of(edges_manager: Any, edges: Any) -> str | None:
    if not edges_manager.has_attribute("model_template"):
        return None
    kinds = set(edges_manager.attribute("model_template", edges).tolist())
    if len(kinds) > 1:
        raise CircuitError(
            f"several synapse models in one edge population: {sorted(kinds)}",
            file=edges_manager.info.edges_file,
            key="model_template",
        )
    return str(kinds.pop()).lower() or None


def exp2syn_model(em: Any, edges: Any, n: int) -> SynapseFactory:
    tau1 = em.optional_attribute("@dynamics:tau1", edges, 0.5, n)
    tau2 = em.optional_attribute("@dynamics:tau2", edges, 2.0, n)
    erev = em.optional_attribute("@dynamics:erev", edges, 0.0, n)

    def make(h: Any, segment: Any, i: int) -> Any:
        syn = h.Exp2Syn(segment)
        syn.tau1, syn.tau2, syn.e = tau1[i], tau2[i], erev[i]
        return syn

    return make


def expsyn_model(em: Any, edges: Any, n: int) -> SynapseFactory:
    tau = em.optional_attribute("@dynamics:tau", edges, 2.0, n)
    erev = em.optional_attribute("@dynamics:erev", edges, 0.0, n)

    def make(h: Any, segment: Any, i: int) -> Any:
        syn = h.ExpSyn(segment)
        syn.tau, syn.e = tau[i], erev[i]
        return syn

    return make


def default_model(em: Any, edges: Any, n: int) -> SynapseFactory:
    """Our double-exponential synapse: decay from `decay_time`, reversal by syn_type_id."""
    decay = em.optional_attribute("decay_time", edges, 1.7, n)
    syn_type = em.optional_attribute("syn_type_id", edges, 100, n)
    reversal = np.where(syn_type < 100, INHIBITORY_REVERSAL, EXCITATORY_REVERSAL)

    def make(h: Any, segment: Any, i: int) -> Any:
        syn = getattr(h, DEFAULT_SYNAPSE)(segment)
        syn.tau_d, syn.e = decay[i], reversal[i]
        return syn

    return make


MODELS: dict[str, Callable[[Any, Any, int], SynapseFactory]] = {
    "exp2syn": exp2syn_model,
    "expsyn": expsyn_model,
}


def choose_synapse_model(edges_manager: Any, edges: Any, n: int) -> SynapseFactory:
    template = _template_of(edges_manager, edges)
    if template is None:
        return default_model(edges_manager, edges, n)
    if template not in MODELS:
        raise CircuitError(
            f"synapse model '{template}' is not supported yet",
            file=edges_manager.info.edges_file,
            key="model_template",
        )
    return MODELS[template](edges_manager, edges, n)
