"""Target points: the local cells of a node set and the segments on them that an input or a
report attaches to (soma centre, every segment of a section type, or a compartment set).

Points are listed per cell in ascending gid, segments in section-id order, so the order of
created objects never depends on the rank count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError

SECTION_LISTS = {"soma": "somatic", "axon": "axonal", "dend": "basal", "apic": "apical"}
SECTION_PREFIXES = {"soma": "soma", "axon": "axon", "dend": "dend", "apic": "apic"}


@dataclass
class TargetPoint:
    """One local cell and the (section id, x) locations chosen on it."""

    population: str
    node_id: int
    gid: int
    cell: Any
    section_ids: list[int] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    table: list[Any] = field(default_factory=list, repr=False)  # section id -> section

    def section(self, section_id: int) -> Any:
        return (self.table or self.cell.sections)[section_id]

    def segments(self) -> list[Any]:
        return [self.section(s)(x) for s, x in zip(self.section_ids, self.xs, strict=True)]


def point_sections(cell: Any) -> list[Any]:
    """The section table of reports, inputs and compartment sets: neurodamus' block rule
    (a replaced axon's new sections take the first axon ids), else the cell's own."""
    table = getattr(cell, "report_sections", None)
    return table() if table is not None else list(getattr(cell, "sections", []))


def section_ids_of_type(cell: Any, section_type: str, table: list[Any] | None = None) -> list[int]:
    """SONATA section ids of the cell's sections of one type (soma/axon/dend/apic/all)."""
    # Templates that remove sections (axon replacement) leave None holes in the table.
    table = cell.sections if table is None else table
    present = [(i, sec) for i, sec in enumerate(table) if sec is not None]
    if section_type == "all":
        return [i for i, _ in present]
    if section_type not in SECTION_LISTS:
        raise ConfigError(f"unknown section type '{section_type}'", key="sections")
    index = {sec.name(): i for i, sec in present}
    hoc_list = getattr(cell.hoc, SECTION_LISTS[section_type], None)
    if hoc_list is not None:
        return sorted(index[s.name()] for s in hoc_list if s.name() in index)
    prefix = SECTION_PREFIXES[section_type]
    return [i for i, s in present if s.name().split(".")[-1].startswith(prefix)]


def segment_locations(
    cell: Any, section_ids: list[int], compartments: str, table: list[Any] | None = None
) -> tuple[list, list]:
    """(section ids, xs): the centre of each section, or the centre of every segment."""
    ids, xs = [], []
    for sid in section_ids:
        sec = (cell.sections if table is None else table)[sid]
        if compartments == "center":
            ids.append(sid)
            xs.append(0.5)
        else:
            for seg in sec:
                ids.append(sid)
                xs.append(seg.x)
    return ids, xs


def local_target_points(
    circuit: Any,
    node_set: str,
    *,
    sections: str = "soma",
    compartments: str = "center",
    key: str = "node_set",
) -> list[TargetPoint]:
    """Points on this rank's cells of `node_set`, ascending gid."""
    target = circuit.targets.target(node_set, key=key)
    return points_on_target(circuit, target, sections=sections, compartments=compartments)


def points_on_target(
    circuit: Any, target: Any, *, sections: str = "soma", compartments: str = "center"
) -> list[TargetPoint]:
    """Points on this rank's cells of a resolved target (e.g. the simulated cells)."""
    points = []
    for population in target.populations:
        manager = circuit.node_managers[population]
        wanted = set(map(int, target.get(population)))
        for node_id in sorted(wanted & set(manager.cells)):
            cell = manager.cells[node_id]
            point = TargetPoint(population, node_id, cell.gid, cell)
            if not getattr(cell, "is_artificial", False):
                point.table = point_sections(cell)
                ids = section_ids_of_type(cell, sections, point.table)
                if sections == "soma" and compartments == "center":
                    ids = ids[:1]
                point.section_ids, point.xs = segment_locations(
                    cell, ids, compartments, point.table
                )
            points.append(point)
    points.sort(key=lambda p: p.gid)
    return points


def _compartment_targets(circuit: Any) -> Any:
    """The circuit's TargetManager, with the config's compartment_sets_file attached."""
    targets = circuit.targets
    if targets.compartment_sets_file is None:
        path = getattr(circuit.setup.libsonata_config, "compartment_sets_file", "") or ""
        if path:
            targets.attach_compartment_sets(Path(path))
    return targets


def local_compartment_set_points(circuit: Any, name: str) -> list[TargetPoint]:
    """Points of compartment set `name` on this rank's cells, ascending gid.

    Entries on cells living on other ranks (or not simulated) are simply not local; an
    entry on a section the cell does not have is an error naming the set.
    """
    targets = _compartment_targets(circuit)
    compartments = targets.compartment_set(name)
    population = compartments.population
    manager = circuit.node_managers[population]
    wanted = compartments.node_ids()
    simulated = circuit.simulated.get(population)
    outside = np.setdiff1d(wanted, simulated)
    if outside.size and _is_root(circuit):
        targets.warn_once(
            f"compartment set '{name}': {outside.size} of its {wanted.size} cells of population"
            f" {population} are not simulated (not in the node_set); their entries are ignored"
        )
    local = np.array(sorted(manager.cells), dtype=np.uint64)
    translation = getattr(circuit.setup, "translation", None)
    rule = getattr(translation, "ranged_sets", {}).get(name)
    points = []
    for node_id, locations in sorted(compartments.local(local).items()):
        cell = manager.cells[node_id]
        if getattr(cell, "is_artificial", False):
            raise ConfigError(
                f"compartment set '{name}' names node {node_id} of population {population},"
                " an artificial cell without sections",
                file=targets.compartment_sets_file,
                key=name,
            )
        point = TargetPoint(population, node_id, cell.gid, cell, table=point_sections(cell))
        n_sections = len(point.table)
        if rule is not None:
            locations = [
                _in_table(point.table, cell, *_ranged_location(circuit, name, rule, node_id, cell))
            ]
        for section_id, offset in locations:
            if not 0 <= section_id < n_sections:
                raise ConfigError(
                    f"compartment set '{name}' names section {section_id} of node {node_id}"
                    f" (population {population}), which has {n_sections} sections",
                    file=targets.compartment_sets_file,
                    key=name,
                )
            point.section_ids.append(section_id)
            point.xs.append(offset)
        points.append(point)
    points.sort(key=lambda p: p.gid)
    return points


def _ranged_location(circuit: Any, name: str, rule: dict, node_id: int, cell: Any) -> tuple:
    """A bmtk distance-range IClamp's segment on this cell (engine.managers.cells.placement)."""
    from engine.managers.cells.placement import draw_iclamp_segment

    low, high = rule["distance_range"]
    found = draw_iclamp_segment(
        circuit.sim.h, cell, frozenset(rule["sections"]), float(low), float(high),
        circuit.setup.run.random_seed, rule["input"], int(node_id),
    )  # fmt: skip
    if found is None:
        raise ConfigError(
            f"IClamp {rule['input']}: node {node_id} has no {'/'.join(rule['sections'])}"
            f" segment within {low}-{high} um of the soma",
            key=f"inputs.{rule['input']}.section_index",
        )
    return found


def _in_table(table: list[Any], cell: Any, section_id: int, x: float) -> tuple[int, float]:
    """A location drawn on `cell.sections` as an id of the point table (same section)."""
    if table is cell.sections:
        return section_id, x
    section = cell.sections[section_id]
    return next(i for i, sec in enumerate(table) if sec is not None and sec == section), x


def _is_root(circuit: Any) -> bool:
    sim = getattr(circuit, "sim", None)
    return sim is None or bool(getattr(sim, "is_root", True))
