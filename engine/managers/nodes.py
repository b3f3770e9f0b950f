"""One node manager per node population: reads attributes in bulk, instantiates local cells.

Each manager reads only the nodes this rank owns (numpy selections into libsonata) and
owns the NEURON objects of its cells.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import NodePopulationInfo
from engine.errors import CircuitError
from engine.managers.attributes import AttributeReader, selection  # noqa: F401
from engine.managers.cells import ArtificialCell, BiophysicalCell
from engine.managers.templates import instantiate_hoc_cell

log = logging.getLogger("sonatasim")

ARTIFICIAL_CELLS = {"IntFire1", "IntFire2", "IntFire4", "NetStim"}


def read_attribute(storage: Any, name: str, ids: np.ndarray, file: Path) -> np.ndarray:
    """One bulk read of a node attribute for the given ids, errors naming the file."""
    return AttributeReader(storage, file).read(name, ids)


class NodeManager:
    """Base: a population, its gid offset and the ids this rank instantiates."""

    def __init__(self, info: NodePopulationInfo, storage: Any, offset: int):
        self.info = info
        self.storage = storage
        self.attributes = AttributeReader(storage, info.nodes_file)
        self.offset = offset
        self.local_ids = np.zeros(0, dtype=np.uint64)
        self.cells: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def size(self) -> int:
        return int(self.storage.size)

    def gid(self, node_id: int) -> int:
        return int(node_id) + self.offset

    def instantiate(self, sim: Any, local_ids: np.ndarray, context: Any) -> None:
        self.local_ids = np.asarray(local_ids, dtype=np.uint64)

    def attribute(self, name: str, ids: np.ndarray | None = None) -> np.ndarray:
        ids = self.local_ids if ids is None else ids
        return self.attributes.read(name, ids)

    def has_attribute(self, name: str) -> bool:
        return self.attributes.has(name)


class VirtualNodeManager(NodeManager):
    """Spike sources without cells (input projections)."""


class PointNeuronManager(NodeManager):
    """NEURON artificial cells named `nrn:IntFire1` etc.; parameters from @dynamics or json."""

    def instantiate(self, sim: Any, local_ids: np.ndarray, context: Any) -> None:
        super().instantiate(sim, local_ids, context)
        if not self.local_ids.size:
            return
        templates = self.attribute("model_template")
        params = self._dynamics_parameters()
        h = sim.h
        for index, node_id in enumerate(self.local_ids):
            kind = str(templates[index])
            mech = kind.split(":", 1)[1] if ":" in kind else kind
            if not hasattr(h, mech):
                raise CircuitError(
                    f"node {node_id}: model_template '{kind}' is not a NEURON mechanism",
                    file=self.info.nodes_file,
                    key="model_template",
                )
            obj = getattr(h, mech)()
            for pname, values in params.items():
                value = values[index] if isinstance(values, np.ndarray) else values
                if hasattr(obj, pname):
                    setattr(obj, pname, float(value))
            gid = self.gid(node_id)
            self.cells[int(node_id)] = ArtificialCell(gid=gid, node_id=int(node_id), hoc=obj)

    def _dynamics_parameters(self) -> dict[str, Any]:
        """@dynamics attributes (per node) or a bmtk-style dynamics_params json (shared)."""
        params: dict[str, Any] = {}
        for name in self.storage.dynamics_attribute_names:
            params[name] = self.attribute("@dynamics:" + name).astype(float)
        if "dynamics_params" in self.storage.attribute_names and self.info.point_neuron_models_dir:
            files = set(self.attribute("dynamics_params").tolist())
            if len(files) == 1:
                path = self.info.point_neuron_models_dir / str(files.pop())
                try:
                    params.update(json.loads(path.read_text()))
                except (OSError, json.JSONDecodeError) as exc:
                    raise CircuitError(
                        f"cannot read point-neuron parameters: {exc}",
                        file=path,
                        key="dynamics_params",
                    ) from None
        return params


class BiophysicalNodeManager(NodeManager):
    """Cells from hoc templates (`hoc:Name`) with morphologies read by morphio."""

    def morphology_source(self) -> tuple[Path, str]:
        """Directory and extension, preferring asc then h5 alternates (as neurodamus)."""
        alt = self.info.alternate_morphologies
        if "neurolucida-asc" in alt:
            return alt["neurolucida-asc"], "asc"
        if "h5v1" in alt:
            return alt["h5v1"], "h5"
        if self.info.morphologies_dir is None:
            raise CircuitError(
                f"population '{self.name}' has no morphologies_dir",
                key="components.morphologies_dir",
            )
        return self.info.morphologies_dir, "swc"

    def instantiate(self, sim: Any, local_ids: np.ndarray, context: Any) -> None:
        super().instantiate(sim, local_ids, context)
        if not self.local_ids.size:
            return
        h = sim.h
        templates = self.attribute("model_template")
        morphologies = self.attribute("morphology")
        threshold, holding = self._relative_currents()
        morph_dir, ext = self.morphology_source()
        loader = context.morphology_loader
        for index, node_id in enumerate(self.local_ids):
            template = str(templates[index])
            kind, _, name = template.partition(":")
            if kind != "hoc":
                raise CircuitError(
                    f"node {node_id}: model_template '{template}' is not supported yet"
                    " (expected hoc:<TemplateName>)",
                    file=self.info.nodes_file,
                    key="model_template",
                )
            hoc, sections = instantiate_hoc_cell(
                h, self.info, name, int(node_id), morph_dir, str(morphologies[index]), ext, loader
            )
            context.progress(1)
            self.cells[int(node_id)] = BiophysicalCell(
                gid=self.gid(node_id),
                node_id=int(node_id),
                hoc=hoc,
                sections=sections,
                threshold_current=float(threshold[index]),
                holding_current=float(holding[index]),
            )

    def _relative_currents(self) -> tuple[np.ndarray, np.ndarray]:
        """threshold/holding currents, both or neither (neurodamus reads them together)."""
        n = self.local_ids.size
        if self.has_attribute("@dynamics:threshold_current") and self.has_attribute(
            "@dynamics:holding_current"
        ):
            return (
                self.attribute("@dynamics:threshold_current").astype(float),
                self.attribute("@dynamics:holding_current").astype(float),
            )
        return np.zeros(n), np.zeros(n)


def make_node_manager(info: NodePopulationInfo, storage: Any, offset: int) -> NodeManager:
    if info.is_virtual:
        return VirtualNodeManager(info, storage, offset)
    if info.type in ("point_neuron", "point_process"):
        return PointNeuronManager(info, storage, offset)
    if info.type in ("biophysical", "single_compartment"):
        return BiophysicalNodeManager(info, storage, offset)
    raise CircuitError(
        f"population '{info.name}' has type '{info.type}', which is not supported yet",
        file=info.nodes_file,
        key="type",
    )
