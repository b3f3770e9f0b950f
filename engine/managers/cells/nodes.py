"""One node manager per node population: reads attributes in bulk, instantiates local cells.

Each manager reads only the nodes this rank owns (numpy selections into libsonata) and
owns the NEURON objects of its cells.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from engine import failure
from engine.config import NodePopulationInfo
from engine.errors import CircuitError, UserError
from engine.io.attributes import AttributeReader, find_model_file, selection  # noqa: F401
from engine.io.morphology import (
    morphology_directory,
    morphology_file_name,
    template_file_name,
)
from engine.managers.cells import allen as allen_cells
from engine.managers.cells.cell import ArtificialCell, BiophysicalCell, HocPointCell
from engine.managers.cells.templates import (
    instantiate_hoc_cell,
    instantiate_point_template,
    load_template,
)

log = logging.getLogger("sonatasim")

ARTIFICIAL_CELLS = {"IntFire1", "IntFire2", "IntFire4", "NetStim"}
SECONDS = {"tau", "refrac"}  # bmtk IntFire1 json units


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
        self.detector_stride = 0  # set by the CircuitManager (gids of more spike detectors)
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
    """NEURON artificial cells named `nrn:IntFire1` etc.; parameters from @dynamics. Or
    `hoc:<Template>` wrapping an artificial cell as `pointcell` (neurodamus' AllenPoint).

    `@dynamics:` values come from the h5 dynamics_params group or, per node type, from the
    json file named by `dynamics_params` (merged by AttributeReader). Allen/bmtk IntFire1
    json files give `tau` and `refrac` in seconds (bmtk multiplies them by 1000), so for
    Allen-dialect populations they are converted to ms here.
    """

    def instantiate(self, sim: Any, local_ids: np.ndarray, context: Any) -> None:
        super().instantiate(sim, local_ids, context)
        if not self.local_ids.size:
            return
        templates = self.attribute("model_template")
        params = self._dynamics_parameters()
        h = sim.h
        morphologies = None
        for index, node_id in enumerate(self.local_ids):
            kind = str(templates[index])
            mech = kind.split(":", 1)[1] if ":" in kind else kind
            if kind.startswith("hoc:"):
                if morphologies is None:
                    morphologies = self._morphology_arguments()
                folder, names = morphologies
                hoc = instantiate_point_template(
                    h, self.info, mech, int(node_id), folder, str(names[index])
                )
                self.cells[int(node_id)] = HocPointCell(self.gid(node_id), int(node_id), hoc)
                continue
            if not hasattr(h, mech):
                raise CircuitError(
                    f"node {node_id}: model_template '{kind}' is not a NEURON mechanism",
                    file=self.info.nodes_file,
                    key="model_template",
                )
            obj = getattr(h, mech)()
            for pname, values in params.items():
                value = float(values[index])
                if hasattr(obj, pname) and not np.isnan(value):
                    if self.info.dialect == "allen" and mech == "IntFire1" and pname in SECONDS:
                        value *= 1000.0
                    setattr(obj, pname, value)
            gid = self.gid(node_id)
            self.cells[int(node_id)] = ArtificialCell(gid=gid, node_id=int(node_id), hoc=obj)

    def _morphology_arguments(self) -> tuple[str, np.ndarray]:
        """(directory, file per local node) handed to point templates, as neurodamus does
        (`morphology` + extension of the directory kind); empty when the nodes have none."""
        n = self.local_ids.size
        if not self.has_attribute("morphology"):
            return "", np.full(n, "", dtype=object)
        names = self.attribute("morphology")
        alt = self.info.alternate_morphologies
        folder, ext = next(
            ((alt[k], e) for k, e in (("neurolucida-asc", "asc"), ("h5v1", "h5")) if k in alt),
            (self.info.morphologies_dir, "swc"),
        )
        files = np.array(
            [morphology_file_name(str(m), ext) if m else "" for m in names], dtype=object
        )
        return (str(folder) if folder else ""), files

    def _dynamics_parameters(self) -> dict[str, np.ndarray]:
        """Numeric @dynamics parameters per local node (NaN where a type lacks one)."""
        params: dict[str, np.ndarray] = {}
        for name in sorted(self.attributes.names()):
            if name.startswith("@dynamics:"):
                values = self.attribute(name)
                if values.dtype.kind in "iuf":
                    params[name[10:]] = values.astype(float)
        return params


class BiophysicalNodeManager(NodeManager):
    """Cells from hoc templates (`hoc:Name`) with morphologies read by morphio."""

    def morphology_source(self) -> tuple[Path, str]:
        """Directory and extension, preferring asc then h5 alternates (as neurodamus)."""
        found, ext = morphology_directory(
            self.info.morphologies_dir, self.info.alternate_morphologies
        )
        if found is None:
            raise CircuitError(
                f"population '{self.name}' has no morphologies_dir",
                key="components.morphologies_dir",
            )
        return found, ext

    def instantiate(self, sim: Any, local_ids: np.ndarray, context: Any) -> None:
        super().instantiate(sim, local_ids, context)
        if not self.local_ids.size:
            return
        threshold, holding = self._relative_currents()
        inputs = CellInputs(self, self.local_ids)
        for index, node_id in enumerate(self.local_ids):
            hoc, sections, cell_class = self._build(sim.h, inputs, index, context.morphology_loader)
            context.progress(1)
            self.cells[int(node_id)] = cell_class(
                gid=self.gid(node_id),
                node_id=int(node_id),
                hoc=hoc,
                sections=sections,
                threshold_current=float(threshold[index]),
                holding_current=float(holding[index]),
            )

    def probe_cell(self, h: Any, node_id: int, loader: Any) -> tuple[Any, list[Any]]:
        """One cell built outside the network (load-balance probes); the caller drops it."""
        inputs = CellInputs(self, np.array([node_id], dtype=np.uint64))
        hoc, sections, _ = self._build(h, inputs, 0, loader)
        return hoc, sections

    def _build(self, h: Any, inputs: CellInputs, index: int, loader: Any):
        """(hoc object, sections, cell class) of the node at `index` of `inputs`.

        The cell is the rank's recorded activity while its hoc code runs, so any failure
        (an exception, quit(), a crash) names population, node id and template.
        """
        node_id, template = int(inputs.ids[index]), str(inputs.templates[index])
        cell = failure.cell_text(self.name, node_id, template.partition(":")[2] or template)
        with failure.doing(cell, cell_code=True):
            try:
                return self._build_cell(h, inputs, index, loader)
            except UserError as exc:
                raise exc.within(cell) from None
            except RuntimeError as exc:  # a hoc error not caught on the way
                raise CircuitError(f"{cell}: {exc}", file=self.info.nodes_file) from None

    def _build_cell(self, h: Any, inputs: CellInputs, index: int, loader: Any):
        node_id = int(inputs.ids[index])
        template = str(inputs.templates[index])
        kind, _, name = template.partition(":")
        morphology = str(inputs.morphologies[index])
        if kind == "hoc" and self.info.dialect == "allen":
            load_template(h, self.info, name)
            dynamics, steps = inputs.allen.of(index)
            path = None
            if morphology and morphology not in ("None", "nan") and inputs.morph_dir:
                path = Path(inputs.morph_dir) / inputs.file_name(morphology)
            try:
                hoc, sections = allen_cells.build_bmtk_hoc(
                    h, getattr(h, name), path, dynamics, steps, self.info.dL
                )
            except RuntimeError as exc:
                raise CircuitError(
                    f"the template failed (morphology {path}): {exc}",
                    file=self.info.nodes_file,
                ) from None
            return hoc, sections, allen_cells.AllenCell
        if kind == "nml":
            return _build_neuroml(h, self.info, name, node_id, inputs, index, loader)
        if kind == "hoc":
            hoc, sections = instantiate_hoc_cell(
                h, self.info, name, node_id, inputs.morph_dir, inputs.file_name(morphology), loader
            )
            return hoc, sections, BiophysicalCell
        if inputs.allen is not None and _is_ctdb(template):
            morph_file = inputs.file_name(morphology)
            dynamics, steps = inputs.allen.of(index)
            hoc, sections = allen_cells.build_biophys1(
                h, loader, node_id, inputs.morph_dir, morph_file, dynamics, steps, self.info.dL
            )
            return hoc, sections, allen_cells.AllenCell
        raise CircuitError(
            f"node {node_id}: model_template '{template}' is not supported yet"
            " (expected hoc:<TemplateName>, nml:<file> or ctdb:Biophys1)",
            file=self.info.nodes_file,
            key="model_template",
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


CTDB_TEMPLATES = {"ctdb:Biophys1", "ctdb:Biophys1.hoc"}


def _build_neuroml(h, info, name, node_id, inputs, index, loader):
    """`nml:<file>`: engine.dialects.neuroml builds it (morphology from the file or node)."""
    from engine.dialects.neuroml import generated
    from engine.dialects.neuroml.spike_detectors import parse_places
    from engine.managers.cells import neuroml as cells

    path = generated.find_cell_file(name, generated.model_dirs(info), info.nodes_file)
    morph_file, morphology = None, str(inputs.morphologies[index])
    if morphology and morphology not in ("None", "nan") and inputs.morph_dir is not None:
        morph_file = inputs.file_name(morphology)
    detectors = ()
    if inputs.spike_detectors is not None:
        detectors = tuple(parse_places(inputs.spike_detectors[index]))
    return cells.build_cell(
        h, path, node_id, loader, inputs.morph_dir, morph_file, info.dL, detectors
    )


def _is_ctdb(template: Any) -> bool:
    return str(template) in CTDB_TEMPLATES


class CellInputs:
    """Bulk-read attributes a biophysical cell needs, for a list of node ids."""

    def __init__(self, manager: BiophysicalNodeManager, ids: np.ndarray):
        self.ids = np.asarray(ids, dtype=np.uint64)
        self.templates = manager.attribute("model_template", self.ids)
        ctdb = any(_is_ctdb(t) for t in self.templates)
        bmtk_hoc = manager.info.dialect == "allen" and any(
            str(t).startswith("hoc:") for t in self.templates
        )
        neuroml = all(str(t).startswith("nml:") for t in self.templates)
        self.morph_dir, self.ext = None, "swc"
        if (bmtk_hoc or neuroml) and not ctdb and not manager.has_attribute("morphology"):
            # bmtk templates may build their own morphology: called with no argument
            self.morphologies = np.full(self.ids.size, "", dtype=object)
        else:
            self.morphologies = manager.attribute("morphology", self.ids)
            self.morph_dir, self.ext = manager.morphology_source()
        self.allen = AllenParameters(manager, self.ids) if ctdb or bmtk_hoc else None
        self.spike_detectors = None  # nml: cells whose connections leave off soma(0.5)
        some_nml = any(str(t).startswith("nml:") for t in self.templates)
        if some_nml and manager.has_attribute("neuroml_spike_detectors"):
            self.spike_detectors = manager.attribute("neuroml_spike_detectors", self.ids)
        self._file_names: dict[str, str] = {}

    def file_name(self, morphology: str) -> str:
        """The morphology file a template gets, looked up on disk once per distinct name."""
        found = self._file_names.get(morphology)
        if found is None:
            found = template_file_name(Path(self.morph_dir), morphology, self.ext)
            self._file_names[morphology] = found
        return found


class AllenParameters:
    """Per node: the parsed model json and the model_processing steps of Biophys1 cells."""

    def __init__(self, manager: NodeManager, ids: np.ndarray):
        info = manager.info
        n = ids.size
        self.processing: list[Any] = [None] * n
        self.files: list[Any] = [None] * n
        if manager.has_attribute("model_processing"):
            self.processing = manager.attribute("model_processing", ids).tolist()
        if manager.has_attribute("dynamics_params"):
            self.files = manager.attribute("dynamics_params", ids).tolist()
        self.dirs = tuple(d for d in (info.biophysical_neuron_models_dir,) if d is not None)
        self.file = info.nodes_file

    def of(self, index: int) -> tuple[Any, list[str]]:
        name = self.files[index]
        dynamics = None
        if isinstance(name, str) and name:
            path = find_model_file(name, self.dirs, self.file, "dynamics_params")
            dynamics = allen_cells.read_dynamics(path)
        try:
            steps = allen_cells.processing_steps(self.processing[index])
        except CircuitError as exc:
            raise CircuitError(exc.plain_message, file=self.file, key="model_processing") from None
        return dynamics, steps


def make_node_manager(info: NodePopulationInfo, storage: Any, offset: int) -> NodeManager:
    from engine.managers.cells.mixed import MixedNodeManager, is_mixed

    if info.is_virtual:
        return VirtualNodeManager(info, storage, offset)
    from engine.managers.cells.neuroml_points import point_cell_manager  # nml: point cells

    if (nml := point_cell_manager(info, storage, offset)) is not None:
        return nml
    cellular = ("point_neuron", "point_process", "biophysical", "single_compartment")
    if info.type in cellular and is_mixed(NodeManager(info, storage, offset)):
        return MixedNodeManager(info, storage, offset)
    if info.type in ("point_neuron", "point_process"):
        return PointNeuronManager(info, storage, offset)
    if info.type in ("biophysical", "single_compartment"):
        return BiophysicalNodeManager(info, storage, offset)
    raise CircuitError(
        f"population '{info.name}' has type '{info.type}', which is not supported yet",
        file=info.nodes_file,
        key="type",
    )
