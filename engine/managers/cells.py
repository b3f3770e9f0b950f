"""NEURON cells: a thin owner of the hoc objects of one SONATA node.

A cell knows how to turn a SONATA location (section id, position) into a NEURON segment and
how to be a spike source for its gid; the node managers create them, nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import CircuitError

X_MIN, X_MAX = 1e-7, 0.9999999


@dataclass
class BiophysicalCell:
    """A cell built from a hoc template, with sections in SONATA section-id order."""

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

    def section(self, section_id: int) -> Any:
        if not 0 <= section_id < len(self.sections):
            raise CircuitError(
                f"node {self.node_id} has {len(self.sections)} sections, no section id"
                f" {section_id}",
                key="afferent_section_id",
            )
        return self.sections[section_id]

    def segment(self, section_id: int, pos: float) -> Any:
        """The segment at a SONATA location, position clamped inside the section."""
        x = min(max(float(pos), X_MIN), X_MAX)
        return self.section(section_id)(x)

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

    def spike_source(self, h: Any, spike_location: str, threshold: float) -> Any:
        return h.NetCon(self.hoc, None)
