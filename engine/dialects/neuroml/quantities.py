"""NeuroML quantities ("10pF", "-65 mV", "0.5per_ms") to the units our mechanisms take.

Why: NeuroML values carry their unit in the string; a wrong factor is silently a wrong
model. The table lists the units NeuroMLCoreDimensions.xml defines for the dimensions
point cells and synapses use, as SI scale factors; anything else is refused by name.
"""

from __future__ import annotations

import re

from engine.errors import CircuitError

# unit -> (dimension, factor to SI)
UNITS: dict[str, tuple[str, float]] = {
    "V": ("voltage", 1.0),
    "mV": ("voltage", 1e-3),
    "uV": ("voltage", 1e-6),
    "s": ("time", 1.0),
    "ms": ("time", 1e-3),
    "us": ("time", 1e-6),
    "min": ("time", 60.0),
    "hour": ("time", 3600.0),
    "F": ("capacitance", 1.0),
    "uF": ("capacitance", 1e-6),
    "nF": ("capacitance", 1e-9),
    "pF": ("capacitance", 1e-12),
    "S": ("conductance", 1.0),
    "mS": ("conductance", 1e-3),
    "uS": ("conductance", 1e-6),
    "nS": ("conductance", 1e-9),
    "pS": ("conductance", 1e-12),
    "A": ("current", 1.0),
    "mA": ("current", 1e-3),
    "uA": ("current", 1e-6),
    "nA": ("current", 1e-9),
    "pA": ("current", 1e-12),
    "per_s": ("per_time", 1.0),
    "per_ms": ("per_time", 1e3),
    "Hz": ("per_time", 1.0),
    "kHz": ("per_time", 1e3),
    "S_per_V": ("conductance_per_voltage", 1.0),
    "nS_per_mV": ("conductance_per_voltage", 1e-6),
    "K": ("temperature", 1.0),
    "degC": ("temperature", 1.0),  # offset handled by temperature_celsius
    "um": ("length", 1e-6),
    "m": ("length", 1.0),
    "cm": ("length", 1e-2),
}

# NEURON's unit per dimension (what our NMODL and SONATA configs take), as SI factors.
NEURON_UNITS = {
    "voltage": 1e-3,  # mV
    "time": 1e-3,  # ms
    "capacitance": 1e-9,  # nF
    "conductance": 1e-6,  # uS
    "current": 1e-9,  # nA
    "per_time": 1e3,  # 1/ms
    "conductance_per_voltage": 1e-3,  # uS/mV
    "length": 1e-6,  # um
    "none": 1.0,
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_]*)\s*$")


def parse(value: str | float, dimension: str, *, where: str = "") -> float:
    """The value of a NeuroML quantity in NEURON units of `dimension` (e.g. pF -> nF)."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise CircuitError(f"{where}: '{value}' is not a NeuroML quantity")
    number, unit = float(match.group(1)), match.group(2)
    if dimension == "none":
        if unit:
            raise CircuitError(f"{where}: '{value}' should be dimensionless")
        return number
    if unit not in UNITS:
        raise CircuitError(f"{where}: unit '{unit}' of '{value}' is not supported")
    unit_dimension, factor = UNITS[unit]
    if unit_dimension != dimension:
        raise CircuitError(f"{where}: '{value}' is a {unit_dimension}, expected a {dimension}")
    return number * factor / NEURON_UNITS[dimension]


def temperature_celsius(value: str) -> float:
    """A NeuroML temperature ("6.3 degC" or "279.45 K") in degrees Celsius."""
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in ("degC", "K"):
        raise CircuitError(f"temperature '{value}' is neither in degC nor in K")
    number = float(match.group(1))
    return number if match.group(2) == "degC" else number - 273.15


def quantity(value: float, unit: str) -> str:
    """A NeuroML quantity string, shortest exact repr of the number ("0.5ms")."""
    return f"{float(value)!r}{unit}".replace("inf", "Infinity")
