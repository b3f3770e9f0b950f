"""NEURON cells: a thin owner of the hoc objects of one SONATA node.

A cell knows how to turn a SONATA location (section id, position) into a NEURON segment and
how to be a spike source for its gid; the node managers create them, nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import CircuitError

X_MIN, X_MAX = 1e-7, 0.9999999


def clamp_x(pos: float) -> float:
    """A section position strictly inside (0, 1), as neurodamus places synapses."""
    return min(max(float(pos), X_MIN), X_MAX)


@dataclass
class BiophysicalCell:
    """A cell built from a hoc template, with sections in SONATA section-id order.

    `sections[i]` is None where a section id has no section any more (an original axon
    section removed by the template's axon replacement): synapses there are skipped.
    """

    gid: int
    node_id: int
    hoc: Any
    sections: list[Any]
    threshold_current: float = 0.0
    holding_current: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    is_artificial = False

    @property
    def soma(self) -> Any:
        return self.sections[0]

    def section(self, section_id: int) -> Any | None:
        """The section with this SONATA id; None for a removed one; error if out of range."""
        if not 0 <= section_id < len(self.sections):
            raise CircuitError(
                f"node {self.node_id} has {len(self.sections)} sections, no section id"
                f" {section_id}",
                key="afferent_section_id",
            )
        return self.sections[section_id]

    def report_sections(self) -> list[Any]:
        """Section ids for reports and compartment sets (neurodamus' block rule).

        Equal to `sections` unless the template replaced the axon: then the replacement
        axon sections take the first ids of the original axon block (compat §2.2, §8).
        """
        if all(section is not None for section in self.sections):
            return self.sections
        from engine.managers.cells.templates import block_sections

        return block_sections(self.hoc)

    def segment(self, section_id: int, pos: float) -> Any | None:
        """The segment at a SONATA location, position clamped inside the section."""
        section = self.section(section_id)
        if section is None:
            return None
        return section(clamp_x(max(float(pos), 0.0)))

    def segment_at_offset(self, h: Any, section_id: int, point: int, offset: float) -> Any | None:
        """The segment from (segment id, offset) when an edge file has no section position.

        neurodamus' rule: the offset is measured from 3-d point `point` along the section;
        a section whose orientation is 1 counts points (and offsets) from its other end; a
        point past the last one means the middle of the section.
        """
        section = self.section(section_id)
        if section is None:
            return None
        n3d = int(h.n3d(sec=section))
        length = float(section.L)
        if point >= n3d or length <= 0:
            return section(0.5)
        flipped = int(h.section_orientation(sec=section)) == 1
        if flipped:
            point, offset = n3d - 1 - point, -offset
        x = (float(h.arc3d(point, sec=section)) + float(offset)) / length
        x = clamp_x(x)
        return section(1.0 - x if flipped else x)

    def spike_source(self, h: Any, spike_location: str, threshold: float) -> Any:
        """NetCon watching the membrane where spikes are detected (as neurodamus does)."""
        if spike_location == "AIS":
            axon = list(getattr(self.hoc, "axon", []))
            if len(axon) < 2:
                raise CircuitError(
                    f"node {self.node_id}: spike_location AIS needs axon[1]",
                    key="conditions.spike_location",
                )
            segment = axon[1](0.5)
        else:
            segment = self.soma(1)
        netcon = h.NetCon(segment._ref_v, None, sec=segment.sec)
        netcon.threshold = threshold
        return netcon


@dataclass
class ArtificialCell:
    """A NEURON artificial cell (IntFire1, IntFire2, ...): events go straight into it."""

    gid: int
    node_id: int
    hoc: Any

    is_artificial = True

    @property
    def event_target(self) -> Any:
        """What synaptic events (NetCons of edges and replay) are delivered to."""
        return self.hoc

    def spike_source(self, h: Any, spike_location: str, threshold: float) -> Any:
        return h.NetCon(self.event_target, None)


@dataclass
class HocPointCell(ArtificialCell):
    """A hoc template wrapping an artificial cell, exposed as its `pointcell` member
    (neurodamus' Allen-point route: events go to `pointcell`, spikes come from it)."""

    @property
    def event_target(self) -> Any:
        return self.hoc.pointcell
