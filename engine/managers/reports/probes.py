"""What each report reads on each local cell: NEURON pointers and how they make elements.

Every report type reduces to the same shape: a list of pointers per cell and a linear map
from pointer values to element values (identity for compartment and synapse reports, a
weighted sum for summation and LFP reports). The sampler then needs one code path only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.managers.cells import points as points_module
from engine.managers.cells.points import TargetPoint
from engine.managers.reports import variables as report_variables
from engine.managers.reports.spec import ReportSpec

log = logging.getLogger("sonatasim")


@dataclass
class CellProbes:
    """One cell's part of a report: element ids, pointers, and pointers -> elements.

    Without terms pointer k is element k. With terms, element `term_elements[j]` gets
    `term_weights[j] * value(pointer term_pointers[j])`, the terms added in order.
    """

    population: str
    node_id: int
    gid: int
    element_ids: list[int] = field(default_factory=list)
    refs: list[Any] = field(default_factory=list)
    term_pointers: np.ndarray | None = None
    term_elements: np.ndarray | None = None
    term_weights: np.ndarray | None = None

    @property
    def is_sum(self) -> bool:
        return self.term_pointers is not None


def _simulated_points(circuit: Any, sections: str, compartments: str) -> list[TargetPoint]:
    """Points on every local simulated cell (a report with no `cells` node set)."""
    return points_module.points_on_target(
        circuit, circuit.simulated, sections=sections, compartments=compartments
    )


def report_points(spec: ReportSpec, circuit: Any) -> list[TargetPoint]:
    """Local target points of a report, ascending gid."""
    if spec.type == "compartment_set":
        points = points_module.local_compartment_set_points(circuit, spec.compartment_set)
        return sorted(points, key=lambda p: p.gid)
    sections, compartments = spec.sections, spec.compartments
    if spec.type == "lfp" or (spec.type == "summation" and sections == "soma"):
        sections, compartments = "all", "all"  # whole cell
    if not spec.cells:
        return _simulated_points(circuit, sections, compartments)
    return points_module.local_target_points(
        circuit,
        spec.cells,
        sections=sections,
        compartments=compartments,
        key=f"reports.{spec.name}.cells",
    )


def _segment_refs(spec: ReportSpec, point: TargetPoint, sid: int, x: float) -> list[Any]:
    """What a compartment report's variable reads at one compartment (one or more refs)."""
    variable = spec.variables[0]
    section = point.section(sid)
    if section is None:
        raise spec.error(
            f"section id {sid} of node {point.node_id} (population {point.population}) was"
            " removed by its template (a replaced axon)",
            "compartment_set",
        )
    segment = section(x)
    found = report_variables.resolve(variable, segment)
    if not found.refs:
        raise spec.error(
            f"{report_variables.missing_reason(variable, segment)} at {segment} (node"
            f" {point.node_id} of population {point.population}, section id {sid})",
            "variable_name",
        )
    return found.refs


def compartment_probes(spec: ReportSpec, points: list[TargetPoint]) -> list[CellProbes]:
    """One element per compartment: the variable there, or the sum of a mechanism's point
    processes in it (neurodamus refuses more than one; the sum is what one would expect)."""
    out, summed = [], False
    for point in points:
        if getattr(point.cell, "is_artificial", False):
            continue
        probes = CellProbes(point.population, point.node_id, point.gid)
        elements = []
        for sid, x in zip(point.section_ids, point.xs, strict=True):
            refs = _segment_refs(spec, point, sid, x)
            elements += [len(probes.element_ids)] * len(refs)
            probes.element_ids.append(sid)
            probes.refs += refs
            summed |= len(refs) > 1
        probes.term_elements = np.asarray(elements, dtype=np.int64)
        out.append(probes)
    for probes in out:  # the sampler wants all cells of a rank summed, or none
        if summed:
            probes.term_pointers = np.arange(len(probes.refs), dtype=np.int64)
            probes.term_weights = np.ones(len(probes.refs), dtype=np.float64)
        else:
            probes.term_elements = None
    return out


def _segment_index(segment: Any) -> tuple[str, int]:
    """(section name, segment index): identifies the segment a location falls in."""
    sec = segment.sec
    return sec.name(), min(int(segment.x * sec.nseg), sec.nseg - 1)


def summation_probes(
    spec: ReportSpec, points: list[TargetPoint], matched: set[str]
) -> list[CellProbes]:
    """Weighted sums per segment, or over the whole cell (sections=soma -> id 0), with
    neurodamus' weights (report_variables.summation_weight)."""
    collapsed = spec.sections == "soma"
    area_scaling = spec.scaling == "area"
    out = []
    for point in points:
        if getattr(point.cell, "is_artificial", False):
            continue
        probes = CellProbes(point.population, point.node_id, point.gid)
        elements, weights = [], []
        if collapsed:
            probes.element_ids.append(0)
        for sid, x in zip(point.section_ids, point.xs, strict=True):
            if not collapsed:
                probes.element_ids.append(sid)
            element = len(probes.element_ids) - 1
            segment = point.section(sid)(x)
            area = segment.area()
            for variable in spec.variables:
                weight = report_variables.summation_weight(variable, area, area_scaling)
                if weight == 0.0:
                    continue  # a zero-area segment (neurodamus skips it too)
                refs = report_variables.resolve(variable, segment).refs
                probes.refs += refs
                elements += [element] * len(refs)
                weights += [weight] * len(refs)
                if refs:
                    matched.add(variable.text)
        probes.term_pointers = np.arange(len(probes.refs), dtype=np.int64)
        probes.term_elements = np.asarray(elements, dtype=np.int64)
        probes.term_weights = np.asarray(weights, dtype=np.float64)
        out.append(probes)
    return out


def _process_ref(spec: ReportSpec, process: Any, name: str) -> Any:
    ref = getattr(process, f"_ref_{name}", None)
    if ref is None:
        raise spec.error(f"'{name}' is not a variable of {process.hname()}", "variable_name")
    return ref


def _local_synapses(circuit: Any) -> dict[tuple[str, int], list[tuple[int, int, Any]]]:
    """(population, node id) -> [(edge manager index, synapse id, point process)]."""
    found: dict[tuple[str, int], list[tuple[int, int, Any]]] = {}
    for index, manager in enumerate(circuit.edge_managers):
        local = manager.local
        if local is None or not len(local) or not local.targets:
            continue
        population = manager.target.name
        for i, process in enumerate(local.targets):
            key = (population, int(local.target_ids[i]))
            found.setdefault(key, []).append((index, int(local.synapse_ids[i]), process))
    return found


def synapse_probes(spec: ReportSpec, points: list[TargetPoint], circuit: Any) -> list[CellProbes]:
    """One element per synapse whose segment is a target point; element id = synapse id."""
    variable = spec.variables[0]
    mechanism = variable.mechanism or variable.name
    name = variable.name if variable.mechanism else "i"
    synapses = _local_synapses(circuit)
    out = []
    for point in points:
        if getattr(point.cell, "is_artificial", False):
            continue
        order = {}
        for sid, x in zip(point.section_ids, point.xs, strict=True):
            order.setdefault(_segment_index(point.section(sid)(x)), len(order))
        chosen = []
        for edge_index, synapse_id, process in synapses.get((point.population, point.node_id), []):
            if not process.hname().startswith(mechanism):
                continue
            where = order.get(_segment_index(process.get_segment()))
            if where is not None:
                chosen.append((where, edge_index, synapse_id, process))
        if not chosen:
            continue
        probes = CellProbes(point.population, point.node_id, point.gid)
        for _, _, synapse_id, process in sorted(chosen, key=lambda c: c[:3]):
            probes.element_ids.append(synapse_id)
            probes.refs.append(_process_ref(spec, process, name))
        out.append(probes)
    return out


def lfp_probes(spec: ReportSpec, points: list[TargetPoint]) -> list[CellProbes]:
    """Per cell and electrode: sum over compartments of i_membrane x scaling factor."""
    import libsonata

    reader = libsonata.ElectrodeReader(str(spec.electrodes_file))
    available = set(reader.population_names)
    out, missing = [], 0
    by_population: dict[str, list[TargetPoint]] = {}
    for point in points:
        if not getattr(point.cell, "is_artificial", False):
            by_population.setdefault(point.population, []).append(point)
    for population, cells in sorted(by_population.items()):
        if population not in available:
            raise spec.error(
                f"population '{population}' is not in {spec.electrodes_file}", "electrodes_file"
            )
        electrodes = reader.open_population(population)
        ids = [p.node_id for p in cells]
        factors = electrodes.get(node_ids=libsonata.Selection(ids))
        rows = np.asarray(factors.ids, dtype=np.int64).reshape(-1, 2)
        data = np.asarray(factors.data, dtype=np.float64).reshape(rows.shape[0], -1)
        columns = [int(e) for e in np.asarray(factors.electrodes).reshape(-1)]
        for point in cells:
            mine = np.flatnonzero(rows[:, 0] == point.node_id)
            if mine.size == 0:
                missing += 1
                continue
            if mine.size != len(point.xs):
                raise spec.error(
                    f"node {point.node_id} of '{population}' has {len(point.xs)} compartments"
                    f" but {mine.size} rows of scaling factors",
                    "electrodes_file",
                )
            mine = mine[np.argsort(rows[mine, 1], kind="stable")]
            probes = CellProbes(point.population, point.node_id, point.gid, list(columns))
            for sid, x in zip(point.section_ids, point.xs, strict=True):
                probes.refs.append(point.section(sid)(x)._ref_i_membrane_)
            n_compartments, n_electrodes = mine.size, len(columns)
            probes.term_pointers = np.repeat(np.arange(n_compartments), n_electrodes)
            probes.term_elements = np.tile(np.arange(n_electrodes), n_compartments)
            probes.term_weights = data[mine].reshape(-1)
            out.append(probes)
    if missing:
        log.warning(
            "report %s: %d local cell(s) have no scaling factors in %s; left out",
            spec.name,
            missing,
            spec.electrodes_file,
        )
    return out


def build_probes(spec: ReportSpec, circuit: Any, matched: set[str]) -> list[CellProbes]:
    """The probes of `spec` on this rank's cells, ascending gid."""
    points = report_points(spec, circuit)
    if spec.type in ("compartment", "compartment_set"):
        probes = compartment_probes(spec, points)
        matched.update(v.text for v in spec.variables)
    elif spec.type == "summation":
        probes = summation_probes(spec, points, matched)
    elif spec.type == "synapse":
        probes = synapse_probes(spec, points, circuit)
        if probes:
            matched.update(v.text for v in spec.variables)
    else:
        probes = lfp_probes(spec, points)
        matched.update(v.text for v in spec.variables)
    return sorted(probes, key=lambda p: p.gid)
