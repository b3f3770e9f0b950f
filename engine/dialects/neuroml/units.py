"""NeuroML quantities ("-65mV", "10pF", "0.12 S_per_cm2") in the units NEURON models use.

Why: NeuroML values carry their unit in the string; a wrong factor is silently a wrong
model. The unit names and their scales are those of NeuroML2's NeuroMLCoreDimensions; every
value is converted through SI so any spelling the schema allows gives the same number, and
anything else is refused by name.
"""

from __future__ import annotations

import re

from engine.errors import CircuitError

# unit -> (dimension, factor to SI, offset to SI)
_UNITS: dict[str, tuple[str, float, float]] = {
    "V": ("voltage", 1.0, 0.0),
    "mV": ("voltage", 1e-3, 0.0),
    "uV": ("voltage", 1e-6, 0.0),
    "s": ("time", 1.0, 0.0),
    "ms": ("time", 1e-3, 0.0),
    "us": ("time", 1e-6, 0.0),
    "min": ("time", 60.0, 0.0),
    "hour": ("time", 3600.0, 0.0),
    "per_s": ("per_time", 1.0, 0.0),
    "per_ms": ("per_time", 1e3, 0.0),
    "Hz": ("per_time", 1.0, 0.0),
    "kHz": ("per_time", 1e3, 0.0),
    "F": ("capacitance", 1.0, 0.0),
    "uF": ("capacitance", 1e-6, 0.0),
    "nF": ("capacitance", 1e-9, 0.0),
    "pF": ("capacitance", 1e-12, 0.0),
    "S": ("conductance", 1.0, 0.0),
    "mS": ("conductance", 1e-3, 0.0),
    "uS": ("conductance", 1e-6, 0.0),
    "nS": ("conductance", 1e-9, 0.0),
    "pS": ("conductance", 1e-12, 0.0),
    "S_per_V": ("conductance_per_voltage", 1.0, 0.0),
    "nS_per_mV": ("conductance_per_voltage", 1e-6, 0.0),
    "S_per_m2": ("conductanceDensity", 1.0, 0.0),
    "mS_per_cm2": ("conductanceDensity", 10.0, 0.0),
    "S_per_cm2": ("conductanceDensity", 1e4, 0.0),
    "F_per_m2": ("specificCapacitance", 1.0, 0.0),
    "uF_per_cm2": ("specificCapacitance", 1e-2, 0.0),
    "ohm_m": ("resistivity", 1.0, 0.0),
    "kohm_cm": ("resistivity", 10.0, 0.0),
    "ohm_cm": ("resistivity", 1e-2, 0.0),
    "mol_per_m3": ("concentration", 1.0, 0.0),
    "mol_per_cm3": ("concentration", 1e6, 0.0),
    "M": ("concentration", 1e3, 0.0),
    "mM": ("concentration", 1.0, 0.0),
    "uM": ("concentration", 1e-3, 0.0),
    "m": ("length", 1.0, 0.0),
    "cm": ("length", 1e-2, 0.0),
    "um": ("length", 1e-6, 0.0),
    "angstrom": ("length", 1e-10, 0.0),
    "K": ("temperature", 1.0, 0.0),
    "degC": ("temperature", 1.0, 273.15),
    "m_per_s": ("permeability", 1.0, 0.0),
    "cm_per_s": ("permeability", 1e-2, 0.0),
    "um_per_ms": ("permeability", 1e-3, 0.0),
    "cm_per_ms": ("permeability", 10.0, 0.0),
    "mol_per_m_per_A_per_s": ("rho_factor", 1.0, 0.0),
    "mol_per_cm_per_uA_per_ms": ("rho_factor", 1e11, 0.0),
    "A": ("current", 1.0, 0.0),
    "mA": ("current", 1e-3, 0.0),
    "uA": ("current", 1e-6, 0.0),
    "nA": ("current", 1e-9, 0.0),
    "pA": ("current", 1e-12, 0.0),
}

# NEURON's unit per dimension (NMODL's, hoc's and SONATA configs' conventions) as
# (factor to SI, offset to SI); uS/mV for conductance per voltage has no NeuroML name.
_NEURON: dict[str, tuple[float, float]] = {
    "voltage": (1e-3, 0.0),  # mV
    "time": (1e-3, 0.0),  # ms
    "per_time": (1e3, 0.0),  # 1/ms
    "capacitance": (1e-9, 0.0),  # nF
    "conductance": (1e-6, 0.0),  # uS
    "conductance_per_voltage": (1e-3, 0.0),  # uS/mV
    "conductanceDensity": (1e4, 0.0),  # S/cm2
    "specificCapacitance": (1e-2, 0.0),  # uF/cm2
    "resistivity": (1e-2, 0.0),  # ohm cm
    "concentration": (1.0, 0.0),  # mM
    "length": (1e-6, 0.0),  # um
    "temperature": (1.0, 273.15),  # degC
    "permeability": (1e-2, 0.0),  # cm/s
    "rho_factor": (1.0, 0.0),  # mol/(m A s)
    "current": (1e-9, 0.0),  # nA
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_0-9]*)\s*$")


class UnitError(CircuitError, ValueError):
    """A value whose unit is unknown or of the wrong dimension."""


def parse(value: str | float, dimension: str, *, where: str = "") -> float:
    """The quantity in NEURON's unit for `dimension` (e.g. pF -> nF); a bare number for 'none'.

    `where` (element, id, attribute) prefixes the message of a refused value."""
    if isinstance(value, int | float):
        return float(value)
    prefix = f"{where}: " if where else ""
    match = _QUANTITY.match(str(value))
    if match is None:
        raise UnitError(f"{prefix}'{value}' is not a NeuroML quantity")
    number, unit = float(match.group(1)), match.group(2)
    if dimension == "none":
        if unit:
            raise UnitError(f"{prefix}'{value}' should be a plain number")
        return number
    if unit not in _UNITS:
        raise UnitError(f"{prefix}unit '{unit}' of '{value}' is not supported")
    found, factor, offset = _UNITS[unit]
    if found != dimension:
        raise UnitError(f"{prefix}'{value}' is a {found}, expected a {dimension}")
    target_factor, target_offset = _NEURON[dimension]
    return round((number * factor + offset - target_offset) / target_factor, 12)


def temperature_celsius(value: str) -> float:
    """A NeuroML temperature ("6.3 degC" or "279.45 K") in degrees Celsius."""
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in ("degC", "K"):
        raise UnitError(f"temperature '{value}' is neither in degC nor in K")
    number = float(match.group(1))
    return number if match.group(2) == "degC" else number - 273.15


def quantity(value: float, unit: str) -> str:
    """A NeuroML quantity string, shortest exact repr of the number ("0.5ms")."""
    return f"{float(value)!r}{unit}".replace("inf", "Infinity")
