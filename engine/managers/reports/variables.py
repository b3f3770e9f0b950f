"""What a report's `variable_name` item reads at one segment, as neurodamus 4.2.9 resolves it.

neurodamus (report.py, and CoreNEURON's report_handler.cpp the same way) turns an item into
a (mechanism, variable) pair: `MECH.var` -> (MECH, var); a bare name -> (name, "i"), with
`i_membrane` -> `i_membrane_`. At a segment it then takes, in this order:

1. the point processes of the segment whose name starts with MECH: their `var` (nA for
   currents), one term each;
2. else the segment's own range variable named MECH (`v`, `ina`, `i_pas`, `i_membrane_`);
3. else the density mechanism MECH inserted there: its `var`, so `pas` is `i_pas`
   (mA/cm2) and `hh.m` is `m_hh`. `hh` alone has no `i` (it writes ina and ik), so it
   names nothing.

Summation reports weight every term: -1 for IClamp and SEClamp (electrode currents,
positive inwards); area/100 (um2 -> mA/cm2 to nA) for every other term, point processes
included, when `scaling` is area, except i_membrane (already nA); 1 with `scaling: none`.
A weight of 0 (a zero-area segment) drops the term. Compartment reports take values
unweighted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.managers.reports.spec import Variable

ELECTRODE_PROCESSES = frozenset({"IClamp", "SEClamp"})
# neurodamus' stimulus mechanisms and ours (same interface and sign): a report naming
# neurodamus' finds ours.
PROCESS_ALIASES = {
    "MembraneCurrentSource": "SonataCurrentSource",
    "ConductanceSource": "SonataConductanceSource",
}


@dataclass(frozen=True)
class Resolved:
    """The terms of one variable at one segment (refs empty: nothing there)."""

    refs: list[Any]
    point_process: bool
    weight: float = 1.0


def pair(variable: Variable) -> tuple[str, str]:
    """neurodamus' (mechanism, variable) of an item."""
    if variable.mechanism:
        return variable.mechanism, variable.name
    if variable.name == "i_membrane":
        return "i_membrane_", "i"
    return variable.name, "i"


def _process_name(process: Any) -> str:
    return process.hname().split("[", 1)[0]


def _matches(process: Any, mechanism: str) -> bool:
    name = _process_name(process)
    alias = PROCESS_ALIASES.get(mechanism)
    return name.startswith(mechanism) or (alias is not None and name == alias)


def _density(segment: Any, mechanism: str) -> Any:
    """The density mechanism `mechanism` inserted at `segment`, else None."""
    from neuron import nrn

    found = getattr(segment, mechanism, None) if mechanism.isidentifier() else None
    return found if isinstance(found, nrn.Mechanism) else None


def resolve(variable: Variable, segment: Any) -> Resolved:
    """The references `variable` reads at `segment` (rules 1-3 of the module docstring)."""
    mechanism, name = pair(variable)
    processes = [p for p in segment.point_processes() if _matches(p, mechanism)]
    if processes:
        refs = [getattr(p, f"_ref_{name}") for p in processes if hasattr(p, f"_ref_{name}")]
        return Resolved(refs, True)
    if not variable.mechanism or mechanism == "i_membrane_":
        ref = getattr(segment, f"_ref_{mechanism}", None)
        if ref is not None:
            return Resolved([ref], False)
    density = _density(segment, mechanism)
    ref = getattr(density, f"_ref_{name}", None) if density is not None else None
    return Resolved([ref] if ref is not None else [], False)


def summation_weight(variable: Variable, area: float, area_scaling: bool) -> float:
    """neurodamus' get_scaling_factor: -1 for electrodes, area/100 under area scaling."""
    mechanism, _ = pair(variable)
    if mechanism in ELECTRODE_PROCESSES:
        return -1.0
    if mechanism != "i_membrane_" and area_scaling:
        return area / 100.0
    return 1.0


def density_mechanisms(h: Any) -> set[str]:
    """Names of the density mechanisms NEURON knows (pas, hh, the circuit's channels)."""
    from engine.loaded_mechanisms import mechanism_names

    return set(mechanism_names(h, kinds=(0,)))


def unmatched_reason(h: Any, variable: Variable) -> str:
    """Why a summation item matched nothing on any cell, for the error message."""
    mechanism, name = pair(variable)
    if mechanism in density_mechanisms(h):
        if not variable.mechanism:
            return _no_current(mechanism)
        return f"mechanism {mechanism} has no variable '{name}' on the target cells"
    return f"{variable.text}: no such current or point process on the target cells"


def _no_current(mechanism: str) -> str:
    return (
        f"mechanism {mechanism} has no current 'i' (i_{mechanism}); name one of its"
        f" variables ({mechanism}.<name>) or an ion current such as ina or ik"
    )


def missing_reason(variable: Variable, segment: Any) -> str:
    """Why `variable` names nothing at `segment`, for the error message."""
    mechanism, name = pair(variable)
    density = _density(segment, mechanism)
    if density is not None and not variable.mechanism:
        return _no_current(mechanism)
    if density is not None:
        return f"mechanism {mechanism} has no variable '{name}'"
    return f"'{variable.text}' does not exist"
