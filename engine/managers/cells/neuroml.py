"""`nml:<file>` templates of biophysical populations: one NEURON cell per node (the
dispatch point into engine.dialects.neuroml, which reads the file and builds sections).

With a <morphology> the sections come from the file (numberInternalDivisions -> nseg);
without one (bmtk's biophysics-only files) from the node's morphology, built as bmtk's
NMLLoad does: Biophys1 morphology, axon replaced by two stubs before any mechanism, then
the properties, then nseg from run.dL.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from engine.dialects.neuroml import biophysics
from engine.dialects.neuroml.document import load_cell
from engine.dialects.neuroml.generated import cell_mechanisms
from engine.dialects.neuroml.morphology import build_sections, resolve_group
from engine.errors import CircuitError
from engine.managers.cells import allen as allen_cells
from engine.managers.cells.cell import BiophysicalCell


def build_cell(
    h: Any,
    path: Path,
    node_id: int,
    loader: Any,
    morph_dir: Path | None,
    morph_file: str | None,
    dL: float,
    detectors: tuple[tuple[int, float], ...] = (),
) -> tuple[Any, list[Any], Any]:
    """(owner object, sections in section-id order, cell class) of one node; `detectors`:
    the (section id, position) places its connections also leave from (spike_detectors)."""
    cell = load_cell(path)
    generated = cell_mechanisms(cell)
    if cell.has_morphology:
        owner, sections, section_of = build_sections(h, cell, node_id)

        def groups(name: str) -> list[Any]:
            found, seen = [], set()
            for seg_id in sorted(resolve_group(cell, name)):
                sec = section_of[seg_id]
                if sec.name() not in seen:
                    seen.add(sec.name())
                    found.append(sec)
            return found

        biophysics.apply(h, cell, sections, groups, generated)
    else:
        if morph_dir is None or not morph_file:
            raise CircuitError(
                f"{path.name} has no <morphology> and node {node_id} has none either",
                file=path,
                key="morphology",
            )
        owner, sections = allen_cells.biophys1_morphology(h, loader, node_id, morph_dir, morph_file)
        sections = allen_cells.replace_axon(h, owner, sections, allactive=False)
        biophysics.apply(h, cell, sections, biophysics.bmtk_groups(sections, cell), generated)
        for sec in sections:
            sec.nseg = allen_cells.nseg_for(sec.L, dL)
    handler = biophysics.initial_voltage(h, sections, cell.init_v)
    extra = {"neuroml": cell.path, "init_handler": handler}
    cell_class = partial(NeuroMLCell, threshold=cell.threshold, detectors=detectors, extra=extra)
    return owner, sections, cell_class


@dataclass
class NeuroMLCell(BiophysicalCell):
    """A NeuroML cell: spikes detected at soma(0.5), at spikeThresh when the file sets it;
    connections leaving from other places (their preSegmentId) have their own detectors
    there, as jNeuroML's export watches them, on gids `extra_spike_sources` numbers."""

    threshold: float | None = None
    detectors: tuple[tuple[int, float], ...] = ()
    own_threshold: bool = False  # spikeThresh in use: edges must not reset it

    def spike_source(self, h: Any, spike_location: str, threshold: float) -> Any:
        if spike_location != "soma":
            return super().spike_source(h, spike_location, threshold)
        self.own_threshold = self.threshold is not None
        return self._detector(h, self.soma(0.5), threshold)

    def _detector(self, h: Any, segment: Any, threshold: float) -> Any:
        """A NetCon watching v at `segment`, at spikeThresh when the file sets it."""
        netcon = h.NetCon(segment._ref_v, None, sec=segment.sec)
        netcon.threshold = threshold if self.threshold is None else self.threshold
        return netcon

    def extra_spike_sources(self, h: Any, threshold: float) -> list[Any]:
        """One NetCon per place of `detectors` (the k-th is detector k + 1 of the edges)."""
        netcons = []
        for section_id, position in self.detectors:
            segment = self.segment(section_id, position)
            if segment is None:
                raise CircuitError(
                    f"node {self.node_id}: spike detector at section {section_id}, which the"
                    " cell does not have",
                    key="neuroml_spike_detectors",
                )
            netcons.append(self._detector(h, segment, threshold))
        return netcons
