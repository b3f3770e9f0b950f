"""What a NeuroML cell says, in NEURON units, independent of libNeuroML's classes.

The loader (`document`) fills these from the file; the NMODL generator and the cell
builder read only these, so each can be checked on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

RATE_TYPES = ("HHExpRate", "HHSigmoidRate", "HHExpLinearRate")
VARIABLE_TYPES = ("HHExpVariable", "HHSigmoidVariable", "HHExpLinearVariable")
TIME_TYPES = ("fixedTimeCourse",)
# gate element/type -> the children it needs
GATE_KINDS = {
    "gateHHrates": ("forward", "reverse"),
    "gateHHtauInf": ("time_course", "steady_state"),
    "gateHHratesTau": ("forward", "reverse", "time_course"),
    "gateHHratesInf": ("forward", "reverse", "steady_state"),
    "gateHHratesTauInf": ("forward", "reverse", "time_course", "steady_state"),
    "gateHHInstantaneous": ("steady_state",),
}


@dataclass(frozen=True)
class Form:
    """One standard rate/variable/time-course expression (mV, ms, 1/ms)."""

    kind: str
    rate: float = 0.0
    midpoint: float = 0.0
    scale: float = 1.0
    tau: float = 0.0


@dataclass(frozen=True)
class Q10:
    """q10Fixed (factor) or q10ExpTemp / q10ConductanceScaling (factor, temperature in degC)."""

    factor: float
    experimental_temp: float | None = None


@dataclass(frozen=True)
class Gate:
    id: str
    kind: str
    instances: int
    forward: Form | None = None
    reverse: Form | None = None
    time_course: Form | None = None
    steady_state: Form | None = None
    q10: tuple[Q10, ...] = ()


@dataclass(frozen=True)
class Channel:
    """An ionChannelHH / ionChannel / ionChannelPassive (no gates)."""

    id: str
    gates: tuple[Gate, ...] = ()
    conductance_scaling: tuple[Q10, ...] = ()


@dataclass(frozen=True)
class Density:
    """channelDensity / channelDensityNernst / channelDensityGHK on a segment group."""

    kind: str  # "ohmic", "nernst" or "ghk"
    id: str
    channel: str
    ion: str
    group: str
    value: float  # S/cm2 (ohmic, nernst) or cm/s (ghk)
    erev: float | None = None  # mV, ohmic only


@dataclass(frozen=True)
class ConcentrationModel:
    """decayingPoolConcentrationModel / fixedFactorConcentrationModel, or (biophysics-only
    Allen cells) a circuit .mod named by `type` with its own parameters."""

    id: str
    kind: str  # "decaying", "fixedFactor" or "mod"
    ion: str
    resting: float = 0.0  # mM
    decay: float = 1.0  # ms
    shell: float = 0.0  # um
    rho: float = 0.0  # mol / (m A s)
    parameters: tuple[tuple[str, float], ...] = ()  # "mod": (name, value)


@dataclass(frozen=True)
class Species:
    id: str
    ion: str
    model: str
    group: str
    initial: float  # mM
    initial_ext: float  # mM


@dataclass(frozen=True)
class Segment:
    id: int
    parent: int | None
    fraction_along: float
    proximal: tuple[float, float, float, float] | None  # x, y, z, diameter (um)
    distal: tuple[float, float, float, float]
    name: str = ""


@dataclass(frozen=True)
class SegmentGroup:
    id: str
    members: tuple[int, ...]
    includes: tuple[str, ...] = ()
    neurolex: str = ""
    divisions: int | None = None  # numberInternalDivisions


@dataclass
class NmlCell:
    """One NeuroML <cell>: morphology (may be absent) and biophysical properties."""

    path: Path
    id: str
    segments: list[Segment] = field(default_factory=list)
    groups: dict[str, SegmentGroup] = field(default_factory=dict)
    densities: list[Density] = field(default_factory=list)
    capacitance: list[tuple[str, float]] = field(default_factory=list)  # (group, uF/cm2)
    resistivity: list[tuple[str, float]] = field(default_factory=list)  # (group, ohm cm)
    species: list[Species] = field(default_factory=list)
    init_v: float | None = None  # mV
    threshold: float | None = None  # mV
    channels: dict[str, Channel] = field(default_factory=dict)
    concentration_models: dict[str, ConcentrationModel] = field(default_factory=dict)

    @property
    def has_morphology(self) -> bool:
        return bool(self.segments)
