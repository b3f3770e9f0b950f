"""NeuroML segments -> NEURON sections, as jNeuroML's NEURON export lays them out.

A segment group marked unbranched (neuroLexId sao864921383) that holds every segment once
becomes one section (its numberInternalDivisions is the nseg); without such groups every
segment is a section of its own. 3-d points: the first segment's proximal point (or the
parent's distal point), then each distal point, plus a proximal point wherever a segment
does not start where the previous one ended. A one-segment section whose proximal and
distal points coincide is a sphere: a cylinder of length = diameter has its area.
Section 0 holds the root segment (the soma); the others follow in file order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.dialects.neuroml.model import NmlCell, Segment
from engine.errors import CircuitError

UNBRANCHED = "sao864921383"
# standard section lists, from NeuroML's neuroLex ids and the usual group names
STANDARD_LISTS = {
    "somatic": ("sao1044911821", ("soma", "soma_group", "somatic")),
    "axonal": ("sao1770195789", ("axon", "axon_group", "axonal")),
    "basal": ("sao1211023249", ("dend", "dendrite_group", "basal", "basal_dendrites")),
    "apical": ("sao273773228", ("apic", "apical", "apical_dendrites")),
}


@dataclass
class Cable:
    name: str
    segments: list[int]
    nseg: int = 1


def _cables(cell: NmlCell) -> list[Cable]:
    unbranched = [g for g in cell.groups.values() if g.neurolex == UNBRANCHED and g.members]
    covered = [m for g in unbranched for m in g.members]
    ids = [s.id for s in cell.segments]
    if unbranched and sorted(covered) == sorted(ids):
        cables = [Cable(g.id, list(g.members), max(1, g.divisions or 1)) for g in unbranched]
    else:
        cables = [Cable(s.name or f"Seg{s.id}", [s.id]) for s in cell.segments]
    root = next(s.id for s in cell.segments if s.parent is None)
    cables.sort(key=lambda c: 0 if root in c.segments else 1)
    return cables


def _length(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.dist(a[:3], b[:3])


def section_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class NmlCellObject:
    """Owner of a NeuroML cell's sections and section lists (what `cell.hoc` is for hoc
    cells): `all`, one list per segment group, somatic/axonal/basal/apical."""

    def __init__(self, h: Any, gid: int):
        self.gid = gid
        self.all = h.SectionList()
        self.group_lists: dict[str, Any] = {}

    def __str__(self) -> str:
        return f"NmlCell[{self.gid}]"

    def hname(self) -> str:
        return str(self)


def resolve_group(cell: NmlCell, name: str, seen: tuple[str, ...] = ()) -> set[int]:
    """Segment ids of a group, its includes followed; 'all' means every segment."""
    if name not in cell.groups:
        if name == "all":
            return {s.id for s in cell.segments}
        raise CircuitError(f"NeuroML segmentGroup '{name}' not found", file=cell.path)
    group = cell.groups[name]
    found = set(group.members)
    for included in group.includes:
        if included not in seen:
            found |= resolve_group(cell, included, (*seen, name))
    return found


def build_sections(h: Any, cell: NmlCell, gid: int) -> tuple[NmlCellObject, list[Any], dict]:
    """(owner, sections in section-id order, segment id -> section)."""
    owner = NmlCellObject(h, gid)
    segments: dict[int, Segment] = {s.id: s for s in cell.segments}
    cables = _cables(cell)
    section_of: dict[int, Any] = {}
    sections = []
    for cable in cables:
        sec = h.Section(name=section_name(cable.name), cell=owner)
        points: list[tuple[float, ...]] = []
        for seg_id in cable.segments:
            seg = segments[seg_id]
            start = seg.proximal
            if start is None:
                if seg.parent is None:
                    raise CircuitError(
                        f"root segment {seg_id} has no proximal point", file=cell.path
                    )
                start = segments[seg.parent].distal
            if not points or tuple(points[-1]) != tuple(start):
                points.append(start)
            points.append(seg.distal)
            section_of[seg_id] = sec
        if len(cable.segments) == 1 and _length(points[0], points[-1]) == 0:
            sec.L = sec.diam = points[-1][3]  # a sphere's area
        else:
            for x, y, z, d in points:
                h.pt3dadd(x, y, z, d, sec=sec)
        sec.nseg = cable.nseg
        sections.append(sec)
        owner.all.append(sec=sec)
    _connect(h, cell, cables, segments, section_of)
    _section_lists(h, cell, owner, section_of)
    return owner, sections, section_of


def _position(segments: dict[int, Segment], cable: Cable, seg_id: int, fraction: float) -> float:
    """Where along a cable (0..1) a point at `fraction` of segment `seg_id` sits."""
    lengths = []
    for sid in cable.segments:
        seg = segments[sid]
        start = seg.proximal or segments[seg.parent].distal
        lengths.append(_length(start, seg.distal))
    total = sum(lengths)
    if total <= 0:
        return fraction
    before = sum(lengths[: cable.segments.index(seg_id)])
    return (before + fraction * lengths[cable.segments.index(seg_id)]) / total


def segment_locator(cell: NmlCell) -> Callable[[int, float], tuple[int, float]]:
    """(section id, position 0..1) of a point at a fraction along a segment, in the layout
    `build_sections` gives (how a converted edge's post segment and fractionAlong become
    afferent_section_id / afferent_section_pos)."""
    segments: dict[int, Segment] = {s.id: s for s in cell.segments}
    cables = _cables(cell)
    index = {sid: k for k, cable in enumerate(cables) for sid in cable.segments}

    def locate(seg_id: int, fraction: float) -> tuple[int, float]:
        if seg_id not in index:
            raise CircuitError(f"cell {cell.id} has no segment {seg_id}", file=cell.path)
        k = index[seg_id]
        return k, _position(segments, cables[k], seg_id, fraction)

    return locate


def segment_at_centre(cell: NmlCell) -> Callable[[int, float], int | None]:
    """The segment whose centre sits at (section id, position) in `build_sections`' layout,
    None if no segment's does: the inverse of `segment_locator(cell)(segment, 0.5)`, how a
    compartment_set report goes back to NeuroML segment columns."""
    segments: dict[int, Segment] = {s.id: s for s in cell.segments}
    cables = _cables(cell)

    def find(section_id: int, position: float) -> int | None:
        if not 0 <= section_id < len(cables):
            return None
        cable = cables[section_id]
        for seg_id in cable.segments:
            if abs(_position(segments, cable, seg_id, 0.5) - position) < 1e-6:
                return seg_id
        return None

    return find


def _connect(h: Any, cell: NmlCell, cables: list[Cable], segments: dict, section_of: dict) -> None:
    cable_of = {sid: cable for cable in cables for sid in cable.segments}
    for cable in cables:
        first = segments[cable.segments[0]]
        if first.parent is None:
            continue
        parent_cable = cable_of[first.parent]
        x = _position(segments, parent_cable, first.parent, first.fraction_along)
        section_of[first.id].connect(section_of[first.parent](x), 0)


def _section_lists(h: Any, cell: NmlCell, owner: NmlCellObject, section_of: dict) -> None:
    for name in cell.groups:
        members = resolve_group(cell, name)
        listed = h.SectionList()
        seen = set()
        for seg_id in sorted(members):
            sec = section_of[seg_id]
            if sec.name() not in seen:
                seen.add(sec.name())
                listed.append(sec=sec)
        owner.group_lists[name] = listed
        if name.isidentifier() and not hasattr(owner, name):
            setattr(owner, name, listed)
    for list_name, (neurolex, names) in STANDARD_LISTS.items():
        match = [g for g in cell.groups.values() if g.neurolex == neurolex]
        match = match or [cell.groups[n] for n in names if n in cell.groups]
        setattr(owner, list_name, owner.group_lists[match[0].id] if match else h.SectionList())
