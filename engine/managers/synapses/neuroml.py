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


def source_gid_shifts(edges_manager, edges, source_ids: np.ndarray) -> np.ndarray:
    """Per local edge, what its source gid adds to the cell's gid: k * detector_stride
    for the k-th more spike detector of its source (DETECTOR, written by `convert --to
    sonata` for connections leaving off the soma; 0 without it). Checked against the
    source nodes' DETECTORS, so an edge never waits on a detector nobody made."""
    from engine.dialects.neuroml.spike_detectors import DETECTOR, DETECTORS, parse_places

    n = len(source_ids)
    if n == 0 or not edges_manager.attributes.has(DETECTOR):
        return np.zeros(n, np.int64)
    detectors = edges_manager.attributes.read(DETECTOR, edges).astype(np.int64)
    source, info = edges_manager.source, edges_manager.info
    off = detectors > 0
    if off.any():
        ids = np.unique(np.asarray(source_ids, np.uint64)[off])
        counts: dict[int, int] = {}  # more detectors per source node
        if source.has_attribute(DETECTORS):
            places = source.attribute(DETECTORS, ids)
            counts = {int(i): len(parse_places(p)) for i, p in zip(ids, places, strict=True)}
        for i in np.flatnonzero(off):
            src = int(source_ids[i])
            if detectors[i] > counts.get(src, 0):
                raise CircuitError(
                    f"edge population '{edges_manager.name}': an edge leaves from spike"
                    f" detector {detectors[i]} of node {src} of '{source.name}', which has"
                    f" {counts.get(src, 0)} besides its soma (node attribute {DETECTORS})",
                    file=info.edges_file,
                    key=DETECTOR,
                )
    return detectors * int(source.detector_stride)
