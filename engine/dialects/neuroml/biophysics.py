"""A NeuroML cell's biophysicalProperties applied to its NEURON sections.

Two kinds of cells (issue 14, item 1):
* full NeuroML cells: morphology from the file, channels defined in NeuroML (our generated
  NMODL): `gmax` / `permeability` of the generated mechanism per segment group;
* biophysics-only cells (bmtk's `nml:` files, no <morphology>): the node's morphology
  with the axon replaced by two stubs before any mechanism (bmtk's NMLLoad), groups
  soma/axon/dend/apic/all by section name, channels naming the circuit's .mod files: the
  density's id is the range variable (`gbar_NaTs`), `pas` gets g_pas/e_pas, erev sets
  e<ion>; a concentrationModel naming a .mod sets `<attribute>_<type>` (decay, gamma...).
Both: specificCapacitance -> cm, resistivity -> Ra, species -> initial inner/outer
concentrations, Nernst densities -> reversal from the concentrations (ion_style),
initMembPotential -> v at initialisation, spikeThresh -> the spike detector's threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from engine.dialects.neuroml.document import refuse
from engine.dialects.neuroml.generated import Generated, _mode
from engine.dialects.neuroml.model import Density, NmlCell
from engine.dialects.neuroml.nmodl import ION_SPECIES
from engine.errors import CircuitError

log = logging.getLogger("sonatasim")

# bmtk's names for the four section types (nml_reader.NMLTree)
BMTK_GROUPS = {
    "soma": "soma",
    "somatic": "soma",
    "axon": "axon",
    "axonal": "axon",
    "dend": "dend",
    "basal": "dend",
    "dendritic": "dend",
    "apic": "apic",
    "apical": "apic",
}

Groups = Callable[[str], list[Any]]


def section_type(sec: Any) -> str:
    """'soma', 'dend', 'apic' or 'axon' from the section's array name (bmtk's rule)."""
    return sec.name().split(".")[-1][:4]


def bmtk_groups(sections: list[Any], cell: NmlCell) -> Groups:
    """Section lookup of biophysics-only cells: by the section array's name."""

    def lookup(group: str) -> list[Any]:
        if group.lower() == "all":
            return list(sections)
        kind = BMTK_GROUPS.get(group.lower())
        if kind is None:
            raise CircuitError(
                f"segmentGroup '{group}' is not soma/axon/dend/apic/all (cell without morphology)",
                file=cell.path,
            )
        return [s for s in sections if section_type(s) == kind]

    return lookup


def _set(sec: Any, name: str, value: float, cell: NmlCell, element: str, ident: str) -> None:
    try:
        setattr(sec, name, value)
    except (AttributeError, NameError, ValueError, LookupError):
        raise refuse(
            cell.path, element, ident, f"sets '{name}', which {sec.name()} lacks"
        ) from None


def _insert(sec: Any, mechanism: str, cell: NmlCell, element: str, ident: str) -> None:
    try:
        sec.insert(mechanism)
    except ValueError:
        raise refuse(
            cell.path, element, ident, f"needs mechanism '{mechanism}', which is not compiled"
        ) from None


def _element(density: Density) -> str:
    return {"ohmic": "channelDensity", "nernst": "channelDensityNernst"}.get(
        density.kind, "channelDensityGHK"
    )


def _circuit_density(h: Any, sec: Any, d: Density, cell: NmlCell) -> None:
    """bmtk's rules for a channel the circuit ships as .mod."""
    element = _element(d)
    if d.channel == "pas":
        sec.insert("pas")
        sec.g_pas = d.value
        if d.erev is not None:
            sec.e_pas = d.erev
        return
    _insert(sec, d.channel, cell, element, d.id)
    name = d.id if hasattr(sec(0.5), d.id) else f"gbar_{d.channel}"
    _set(sec, name, d.value, cell, element, d.id)
    if d.erev is None:
        return
    if h.ismembrane(f"{d.ion}_ion", sec=sec):
        setattr(sec, f"e{d.ion}", d.erev)
    elif hasattr(sec(0.5), f"e{d.ion}_{d.channel}"):
        setattr(sec, f"e{d.ion}_{d.channel}", d.erev)


def _generated_density(sec: Any, d: Density, cell: NmlCell, mech: str) -> None:
    element = _element(d)
    _insert(sec, mech, cell, element, d.id)
    _set(
        sec, f"{'permeability' if d.kind == 'ghk' else 'gmax'}_{mech}", d.value, cell, element, d.id
    )
    if d.kind == "ohmic" and d.erev is not None:
        name = f"e{d.ion}" if d.ion in ION_SPECIES else f"e_{mech}"
        _set(sec, name, d.erev, cell, element, d.id)


def apply(h: Any, cell: NmlCell, sections: list[Any], groups: Groups, generated: Generated) -> None:
    """Passive properties, channels, species; in the file's order within each kind."""
    for group, value in cell.resistivity:
        for sec in groups(group):
            sec.Ra = value
    for group, value in cell.capacitance:
        for sec in groups(group):
            sec.cm = value
    computed: dict[str, set[str]] = {}  # ion -> names of sections with Nernst/GHK densities
    for d in cell.densities:
        mech = generated.channels.get((d.channel, d.ion, _mode(d.kind)))
        for sec in groups(d.group):
            if mech is None:
                _circuit_density(h, sec, d, cell)
            else:
                _generated_density(sec, d, cell, mech)
            if d.kind != "ohmic" and mech is not None:  # circuit .mod: NEURON's default, as bmtk
                computed.setdefault(d.ion, set()).add(sec.name())
    written: dict[str, set[str]] = {}  # ion -> sections whose concentration a pool writes
    for s in cell.species:
        model = cell.concentration_models[s.model]
        for sec in groups(s.group):
            if model.kind == "mod":
                _insert(sec, model.id, cell, "concentrationModel", s.model)
                for name, value in model.parameters:
                    if hasattr(sec(0.5), name):
                        setattr(sec, name, value)
                    else:
                        log.warning(
                            "%s: %s has no '%s'; bmtk sets it only when present",
                            cell.path,
                            model.id,
                            name,
                        )
                continue
            mech = generated.pools[s.model]
            _insert(sec, mech, cell, "species", s.id)
            setattr(sec, f"initialConcentration_{mech}", s.initial)
            setattr(sec, f"{s.ion}o", s.initial_ext)
            setattr(sec, f"{s.ion}i", s.initial)
            written.setdefault(s.ion, set()).add(sec.name())
    for ion in sorted(set(computed) | set(written)):
        for sec in sections:
            if not h.ismembrane(f"{ion}_ion", sec=sec):
                continue
            pool = sec.name() in written.get(ion, set())
            nernst = sec.name() in computed.get(ion, set())
            # c_style 3 (a pool's state) or 1 (parameters), e_style 2 when computed; our
            # pools initialise the concentrations themselves (cinit 0)
            h.ion_style(
                f"{ion}_ion",
                3 if pool else 1,
                2 if nernst else 1,
                1 if nernst else 0,
                1 if nernst else 0,
                0,
                sec=sec,
            )


def initial_voltage(h: Any, sections: list[Any], value: float | None) -> Any:
    """initMembPotential: v of this cell's segments, set after v_init and before INITIAL
    (an FInitializeHandler of type 0; the caller keeps it alive with the cell)."""
    if value is None:
        return None

    def set_v() -> None:
        for sec in sections:
            for seg in sec:
                seg.v = value

    return h.FInitializeHandler(0, set_v)
