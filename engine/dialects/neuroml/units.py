"""NeuroML quantities ("-65mV", "0.12 S_per_cm2") in the units NEURON models use.

The unit names and their scales are those of NeuroML2's NeuroMLCoreDimensions; every value
is converted through SI so any spelling the schema allows gives the same number.
"""

from __future__ import annotations

import re

# unit -> (dimension, factor to SI, offset to SI)
_UNITS: dict[str, tuple[str, float, float]] = {
    "V": ("voltage", 1.0, 0.0),
    "mV": ("voltage", 1e-3, 0.0),
    "s": ("time", 1.0, 0.0),
    "ms": ("time", 1e-3, 0.0),
    "us": ("time", 1e-6, 0.0),
    "per_s": ("per_time", 1.0, 0.0),
    "per_ms": ("per_time", 1e3, 0.0),
    "Hz": ("per_time", 1.0, 0.0),
    "kHz": ("per_time", 1e3, 0.0),
    "S": ("conductance", 1.0, 0.0),
    "mS": ("conductance", 1e-3, 0.0),
    "uS": ("conductance", 1e-6, 0.0),
    "nS": ("conductance", 1e-9, 0.0),
    "pS": ("conductance", 1e-12, 0.0),
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
    "uA": ("current", 1e-6, 0.0),
    "nA": ("current", 1e-9, 0.0),
    "pA": ("current", 1e-12, 0.0),
}

# The unit each dimension is given to NEURON in (NMODL's and hoc's conventions).
NEURON_UNIT = {
    "voltage": "mV",
    "time": "ms",
    "per_time": "per_ms",
    "conductance": "uS",
    "conductanceDensity": "S_per_cm2",
    "specificCapacitance": "uF_per_cm2",
    "resistivity": "ohm_cm",
    "concentration": "mM",
    "length": "um",
    "temperature": "degC",
    "permeability": "cm_per_s",
    "rho_factor": "mol_per_m_per_A_per_s",
    "current": "nA",
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_0-9]*)\s*$")


class UnitError(ValueError):
    """A value whose unit is unknown or of the wrong dimension."""


def parse(text: str | float, dimension: str) -> float:
    """The quantity in NEURON's unit for `dimension`; a bare number for 'none'."""
    if isinstance(text, int | float):
        return float(text)
    match = _QUANTITY.match(str(text))
    if match is None:
        raise UnitError(f"'{text}' is not a NeuroML quantity")
    number, unit = float(match.group(1)), match.group(2)
    if dimension == "none":
        if unit:
            raise UnitError(f"'{text}' should be a plain number")
        return number
    if unit not in _UNITS:
        raise UnitError(f"'{text}': unknown unit '{unit}'")
    found, factor, offset = _UNITS[unit]
    if found != dimension:
        raise UnitError(f"'{text}' is a {found}, expected a {dimension}")
    _, target_factor, target_offset = _UNITS[NEURON_UNIT[dimension]]
    return round((number * factor + offset - target_offset) / target_factor, 12)
