"""A node population whose nodes mix model types (SONATA and bmtk allow it, e.g. Allen's V1
with a biophysical core and point-neuron periphery in one population): every node is
built by its own `model_type`, by the manager of that kind, into one table of cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.config import NodePopulationInfo
from engine.errors import CircuitError
from engine.managers.cells.nodes import BiophysicalNodeManager, NodeManager, PointNeuronManager

DETAILED = ("biophysical", "single_compartment")
POINT = ("point_neuron", "point_process")


def model_types(manager: NodeManager, ids: np.ndarray | None = None) -> np.ndarray:
    """model_type of each node (of `ids`, else of the whole population) as str."""
    if ids is None:
        ids = np.arange(manager.size, dtype=np.uint64)
    return np.asarray(manager.attribute("model_type", ids)).astype(str)


def is_mixed(manager: NodeManager) -> bool:
    """Whether the population has both detailed and point nodes (one bulk read)."""
    if not manager.has_attribute("model_type") or manager.size == 0:
        return False
    kinds = set(np.unique(model_types(manager)).tolist())
    return bool(kinds & set(DETAILED)) and bool(kinds & set(POINT))


class MixedNodeManager(NodeManager):
    """Builds detailed nodes with a BiophysicalNodeManager, point nodes with a
    PointNeuronManager (same population, storage and gid offset) and keeps all cells."""

    def __init__(self, info: NodePopulationInfo, storage: Any, offset: int):
        super().__init__(info, storage, offset)
        self.detailed = BiophysicalNodeManager(info, storage, offset)
        self.point = PointNeuronManager(info, storage, offset)

    def detailed_mask(self, ids: np.ndarray) -> np.ndarray:
        """True for the nodes of `ids` built from morphologies; refuses other kinds."""
        kinds = model_types(self, np.asarray(ids, dtype=np.uint64))
        other = ~np.isin(kinds, DETAILED + POINT)
        if other.any():
            node = int(np.asarray(ids)[np.flatnonzero(other)[0]])
            raise CircuitError(
                f"node {node} of population {self.name} has model_type"
                f" '{kinds[np.flatnonzero(other)[0]]}'; a population mixing model types may"
                f" hold {', '.join(DETAILED + POINT)} nodes",
                file=self.info.nodes_file,
                key="model_type",
            )
        return np.isin(kinds, DETAILED)

    def instantiate(self, sim: Any, local_ids: np.ndarray, context: Any) -> None:
        super().instantiate(sim, local_ids, context)
        if not self.local_ids.size:
            return
        detailed = self.detailed_mask(self.local_ids)
        for part, mask in ((self.detailed, detailed), (self.point, ~detailed)):
            part.instantiate(sim, self.local_ids[mask], context)
            self.cells.update(part.cells)

    def morphology_source(self) -> Any:
        return self.detailed.morphology_source()

    def probe_cell(self, h: Any, node_id: int, loader: Any) -> Any:
        return self.detailed.probe_cell(h, node_id, loader)
