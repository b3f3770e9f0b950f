"""Managers of populations of NeuroML point cells (`nml:` templates of iafCell,
izhikevichCell, adExIaFCell, ...): the dialect parses the files, this builds the cells.

Why one section per cell: NeuroML's point cells integrate C dv/dt = I_cell + iSyn. A section
whose capacitance (cm * area) is C, with our point process supplying I_cell, lets the
engine's synapses, current inputs, gap junctions and voltage reports act on it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from engine.config import NodePopulationInfo
from engine.dialects.neuroml.point_cells import (
    PointCellModel,
    cell_file,
    is_point_cell_file,
    load_point_cell,
)
from engine.errors import CircuitError
from engine.io.attributes import AttributeReader
from engine.managers.cells.cell import BiophysicalCell
from engine.managers.cells.nodes import NodeManager

CM = 1.0  # uF/cm2 of the section; its area makes cm * area equal to the cell's C


@dataclass
class NmlPointCell(BiophysicalCell):
    """One section plus the cell's point process; spikes are the mechanism's net_event."""

    mechanism: Any = None

    def spike_source(self, h: Any, spike_location: str, threshold: float) -> Any:
        segment = self.sections[0](0.5)
        netcon = h.NetCon(segment._ref_v, None, sec=segment.sec)
        netcon.threshold = self.extra["spike_threshold"]
        return netcon


def build_point_cell(h: Any, model: PointCellModel, name: str) -> tuple[Any, Any, Any]:
    """(section, mechanism, hoc holder) of one cell; area * cm = C exactly."""
    section = h.Section(name=name)
    area_um2 = model.capacitance_nf * 1e-3 / CM * 1e8  # nF -> uF, / (uF/cm2) -> cm2 -> um2
    side = math.sqrt(area_um2 / math.pi)  # a cylinder L = diam has area pi d^2
    section.L = side
    section.diam = side
    section.nseg = 1
    section.cm = CM
    section.Ra = 100.0
    mechanism = getattr(h, model.mechanism)(section(0.5))
    for parameter, value in model.parameters.items():
        setattr(mechanism, parameter, value)
    return section, mechanism, SimpleNamespace(somatic=[section], all=[section], name=model.id)


class NmlPointCellManager(NodeManager):
    """Cells of a population whose templates are `nml:` files of point cells."""

    own_spike_threshold = True  # each cell's threshold, never run.spike_threshold

    def __init__(self, info: NodePopulationInfo, storage: Any, offset: int, models: dict):
        super().__init__(info, storage, offset)
        self.models = models  # template -> PointCellModel
        self._initializer = None

    def instantiate(self, sim: Any, local_ids: np.ndarray, context: Any) -> None:
        super().instantiate(sim, local_ids, context)
        if not self.local_ids.size:
            return
        h = sim.h
        templates = self.attribute("model_template")
        for index, node_id in enumerate(self.local_ids):
            model = self.models[str(templates[index])]
            name = f"{self.name}_{int(node_id)}_{model.id}.soma"
            section, mechanism, holder = build_point_cell(h, model, name)
            self.cells[int(node_id)] = NmlPointCell(
                gid=self.gid(node_id),
                node_id=int(node_id),
                hoc=holder,
                sections=[section],
                mechanism=mechanism,
                extra={"v_init": model.v_init, "spike_threshold": model.spike_threshold},
            )
            context.progress(1)
        # NeuroML's OnStart sets each cell's own v: after finitialize sets v_init, before
        # the mechanisms' INITIAL blocks (so izhikevichCell's U = b v0 sees it).
        self._initializer = h.FInitializeHandler(0, self._set_initial_v)

    def _set_initial_v(self) -> None:
        for cell in self.cells.values():
            cell.sections[0].v = cell.extra["v_init"]

    def probe_cell(self, h: Any, node_id: int, loader: Any) -> tuple[Any, list[Any]]:
        template = str(self.attribute("model_template", np.array([node_id], dtype=np.uint64))[0])
        section, _, holder = build_point_cell(h, self.models[template], f"probe_{node_id}")
        return holder, [section]


def point_cell_manager(info: NodePopulationInfo, storage: Any, offset: int) -> NodeManager | None:
    """The manager of a population of `nml:` point cells, or None for any other population
    (the dispatch hook of the node managers; multi-compartment nml: cells go elsewhere)."""
    reader = AttributeReader(storage, info.nodes_file)
    if info.is_virtual or not reader.has("model_template"):
        return None
    ids = np.arange(storage.size, dtype=np.uint64)
    templates = sorted(set(np.asarray(reader.read("model_template", ids)).astype(str).tolist()))
    nml = [t for t in templates if t.startswith("nml:")]
    if not nml:
        return None
    files = {t: cell_file(info, t) for t in nml}
    if not all(is_point_cell_file(f) for f in files.values()):
        return None
    if len(nml) != len(templates):
        other = next(t for t in templates if not t.startswith("nml:"))
        raise CircuitError(
            f"population '{info.name}' mixes NeuroML point cells with '{other}'",
            file=info.nodes_file,
            key="model_template",
        )
    return NmlPointCellManager(
        info, storage, offset, {t: load_point_cell(f) for t, f in files.items()}
    )
