"""The synapse model of edges whose model_template is `nml:<file>` (NeuroML expOneSynapse,
expTwoSynapse, alphaSynapse): the dialect parses the file, this builds the point processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.dialects.neuroml.synapses import synapse_of_template
from engine.errors import CircuitError
from engine.managers.synapses.models import LinearModel, ModelContext, SynapseModel


@dataclass
class NmlSynapseModel(LinearModel):
    """NeuroML conductance synapses: NetCon weight = NeuroML connection weight."""

    weight_unit = "1"


def nml_synapse_model(ctx: ModelContext, template: str) -> SynapseModel:
    """The model of an edge population whose model_template is `nml:<file>`."""
    info = ctx.edges_manager.info
    dirs = (info.synaptic_models_dir, Path(info.edges_file).parent)
    synapse = synapse_of_template(template, dirs, Path(info.edges_file))
    if not synapse.mechanism:
        raise CircuitError(
            f'<{synapse.element} id="{synapse.id}"> belongs on electrical edges',
            file=info.edges_file,
            key="model_template",
        )
    weights = ctx.optional("syn_weight", 1.0).astype(np.float64)
    n = weights.size
    parameters = {k: np.full(n, v) for k, v in synapse.parameters.items()}
    return NmlSynapseModel(weights, mechanism=synapse.mechanism, parameters=parameters)
