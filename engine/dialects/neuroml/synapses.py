"""NeuroML synapses (expOneSynapse, expTwoSynapse, alphaSynapse) on SONATA edges whose
model_template is `nml:<file>`, and gapJunction conductances for electrical edges.

Why: a converted NeuroML projection keeps its synapse component as a file, as `nml:` cells
do; the edge's `syn_weight` is NeuroML's connection weight (dimensionless, scaling each
event as jNeuroML does) and the synapse's gbase sits in the mechanism. Events add
linearly, so edges onto one segment with equal parameters share one point process.
The synapse model that builds them is engine.managers.synapses.neuroml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.dialects.neuroml import units
from engine.dialects.neuroml.documents import (
    SYNAPSE_LISTS,
    components,
    find_file,
    read_document,
    refused_elements,
)
from engine.errors import CircuitError

# element -> (mechanism, {libNeuroML attribute: (mod parameter, dimension)})
SYNAPSE_TYPES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "expOneSynapse": (
        "SonataNmlExpOne",
        {
            "gbase": ("gbase", "conductance"),
            "erev": ("erev", "voltage"),
            "tau_decay": ("tau_decay", "time"),
        },
    ),
    "expTwoSynapse": (
        "SonataNmlExpTwo",
        {
            "gbase": ("gbase", "conductance"),
            "erev": ("erev", "voltage"),
            "tau_rise": ("tau_rise", "time"),
            "tau_decay": ("tau_decay", "time"),
        },
    ),
    "alphaSynapse": (
        "SonataNmlAlpha",
        {"gbase": ("gbase", "conductance"), "erev": ("erev", "voltage"), "tau": ("tau", "time")},
    ),
    "gapJunction": ("", {"conductance": ("conductance", "conductance")}),
}


@dataclass
class NmlSynapse:
    """A parsed NeuroML synapse: element, id, mechanism and parameters in NEURON units."""

    element: str
    id: str
    mechanism: str
    parameters: dict[str, float]


def parse_synapse(element: str, item: Any, file: Path) -> NmlSynapse:
    mechanism, table = SYNAPSE_TYPES[element]
    parameters = {}
    for attribute, (name, dimension) in table.items():
        raw = getattr(item, attribute, None)
        if raw is None:
            raise CircuitError(f"<{element} id=\"{item.id}\">: no '{attribute}'", file=file)
        parameters[name] = units.parse(raw, dimension, where=f"{element} id={item.id} {attribute}")
    if element == "expTwoSynapse" and parameters["tau_rise"] == parameters["tau_decay"]:
        raise CircuitError(
            f'<expTwoSynapse id="{item.id}">: tauRise equals tauDecay (NeuroML\'s peak factor'
            " is undefined)",
            file=file,
        )
    return NmlSynapse(element, str(item.id), mechanism, parameters)


def load_synapse(path: Path, wanted: str | None = None) -> NmlSynapse:
    """The synapse a `nml:` file defines (`file#id` picks one of several)."""
    document = read_document(path)
    found = components(document, SYNAPSE_LISTS)
    if wanted is not None:
        if wanted in found:
            return parse_synapse(*found[wanted], path)
        refused = refused_elements(document)
        if wanted in refused:
            raise CircuitError(f'<{refused[wanted]} id="{wanted}"> is not supported', file=path)
        raise CircuitError(f"no synapse with id '{wanted}'", file=path)
    if len(found) == 1:
        return parse_synapse(*next(iter(found.values())), path)
    refused = refused_elements(document)
    if not found and refused:
        ident, element = sorted(refused.items())[0]
        raise CircuitError(f'<{element} id="{ident}"> is not a supported synapse', file=path)
    raise CircuitError(f"defines {len(found)} synapses; name one as nml:<file>#<id>", file=path)


def synapse_of_template(template: str, directories: tuple, edges_file: Path) -> NmlSynapse:
    name, _, wanted = template[4:].partition("#")
    path = find_file(name, directories, edges_file, "model_template")
    return load_synapse(path, wanted or None)
