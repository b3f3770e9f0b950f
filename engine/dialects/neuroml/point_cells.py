"""NeuroML point cells (iafCell, iafRefCell, izhikevichCell, izhikevich2007Cell,
adExIaFCell) as SONATA nodes whose model_template is `nml:<file>`: the files parsed into
mechanism parameters in NEURON units (engine/managers/cells/neuroml_points.py builds them).

Why one section per cell: NeuroML's point cells integrate C dv/dt = I_cell + iSyn, where
iSyn is every attached synapse and input. A section whose capacitance (cm * area) is C, with
our point process supplying I_cell, lets the engine's synapses, current inputs, gap
junctions and voltage reports act on it unchanged. Spikes are detected on v at the cell's
threshold in the step it crosses (NEURON checks NetCon thresholds before the WATCH event
resets v), as jNeuroML's NEURON export detects them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.dialects.neuroml import units
from engine.dialects.neuroml.documents import (
    POINT_CELL_LISTS,
    components,
    find_file,
    read_document,
    refused_elements,
)
from engine.errors import CircuitError

if TYPE_CHECKING:  # annotations only: the dialect never imports the core at run time
    from engine.config import NodePopulationInfo

FIXED_CAPACITANCE_NF = 1.0  # izhikevichCell has no C: 1 nF makes a DL input I equal I nA


@dataclass(frozen=True)
class PointCellType:
    """How one NeuroML element maps onto our mechanism: (libNeuroML attribute -> mod
    parameter, NeuroML dimension), which attribute is C and which gives the initial v."""

    mechanism: str
    parameters: dict[str, tuple[str, str]]
    capacitance: str | None
    initial_v: str


_IAF = {
    "C": ("C", "capacitance"),
    "leak_conductance": ("g_leak", "conductance"),
    "leak_reversal": ("e_leak", "voltage"),
    "thresh": ("thresh", "voltage"),
    "reset": ("reset", "voltage"),
}
POINT_CELL_TYPES = {
    "iafCell": PointCellType("SonataNmlIaf", _IAF, "C", "leak_reversal"),
    "iafRefCell": PointCellType(
        "SonataNmlIaf", {**_IAF, "refract": ("refract", "time")}, "C", "leak_reversal"
    ),
    "izhikevichCell": PointCellType(
        "SonataNmlIzh",
        {
            "a": ("a", "none"),
            "b": ("b", "none"),
            "c": ("c", "none"),
            "d": ("d", "none"),
            "thresh": ("thresh", "voltage"),
            "v0": ("", "voltage"),
        },
        None,
        "v0",
    ),
    "izhikevich2007Cell": PointCellType(
        "SonataNmlIzh2007",
        {
            "C": ("", "capacitance"),
            "v0": ("", "voltage"),
            "k": ("k", "conductance_per_voltage"),
            "vr": ("vr", "voltage"),
            "vt": ("vt", "voltage"),
            "vpeak": ("vpeak", "voltage"),
            "a": ("a", "per_time"),
            "b": ("b", "conductance"),
            "c": ("c", "voltage"),
            "d": ("d", "current"),
        },
        "C",
        "v0",
    ),
    "adExIaFCell": PointCellType(
        "SonataNmlAdex",
        {
            "C": ("C", "capacitance"),
            "g_l": ("gL", "conductance"),
            "EL": ("EL", "voltage"),
            "VT": ("VT", "voltage"),
            "del_t": ("delT", "voltage"),
            "thresh": ("thresh", "voltage"),
            "reset": ("reset", "voltage"),
            "refract": ("refract", "time"),
            "tauw": ("tauw", "time"),
            "a": ("a", "conductance"),
            "b": ("b", "current"),
        },
        "C",
        "EL",
    ),
}


@dataclass
class PointCellModel:
    """A parsed point cell: mechanism, parameters in NEURON units, C (nF), initial v."""

    element: str
    id: str
    mechanism: str
    parameters: dict[str, float]
    capacitance_nf: float
    v_init: float
    values: dict[str, float] = field(default_factory=dict)  # every attribute, NEURON units

    @property
    def spike_threshold(self) -> float:
        """Where spikes are detected on v: the cell's `thresh`, else 0 mV (izhikevich2007Cell,
        as jNeuroML's NEURON export detects them; the LEMS event comes at vpeak)."""
        return self.values.get("thresh", 0.0)


def parse_point_cell(element: str, cell: Any, file: Path) -> PointCellModel:
    """Our model of one NeuroML point cell element, units converted as NeuroML defines them."""
    kind = POINT_CELL_TYPES[element]
    values = {}
    for attribute, (_, dimension) in kind.parameters.items():
        raw = getattr(cell, attribute, None)
        if raw is None:
            raise CircuitError(f"{element} id={cell.id}: no '{attribute}'", file=file)
        values[attribute] = units.parse(raw, dimension, where=f"{element} id={cell.id} {attribute}")
    parameters = {mod: values[a] for a, (mod, _) in kind.parameters.items() if mod}
    capacitance = values[kind.capacitance] if kind.capacitance else FIXED_CAPACITANCE_NF
    if capacitance <= 0:
        raise CircuitError(f"{element} id={cell.id}: C must be positive", file=file)
    return PointCellModel(
        element,
        str(cell.id),
        kind.mechanism,
        parameters,
        capacitance,
        values[kind.initial_v],
        values,
    )


def load_point_cell(path: Path) -> PointCellModel:
    """The one point cell a `nml:` file defines; anything else is refused by element and id."""
    document = read_document(path)
    found = components(document, POINT_CELL_LISTS)
    if len(found) == 1:
        ((element, cell),) = found.values()
        return parse_point_cell(element, cell, path)
    if len(found) > 1:
        raise CircuitError(
            f"defines {len(found)} point cells ({', '.join(sorted(found))}); a nml: template names one",
            file=path,
        )
    refused = refused_elements(document)
    if refused:
        ident, element = sorted(refused.items())[0]
        raise CircuitError(f'<{element} id="{ident}"> is not a supported point cell', file=path)
    raise CircuitError("defines no cell", file=path)


def cell_file(info: NodePopulationInfo, template: str) -> Path:
    """The file of a `nml:<file>` template: biophysical_neuron_models_dir (as bmtk), the
    point-neuron models dir, then the nodes file's directory."""
    dirs = (
        info.biophysical_neuron_models_dir,
        info.point_neuron_models_dir,
        info.nodes_file.parent,
    )
    return find_file(template[4:], dirs, info.nodes_file, "model_template")


def is_point_cell_file(path: Path) -> bool:
    return bool(components(read_document(path), POINT_CELL_LISTS))


def check_template(info: NodePopulationInfo, template: str) -> list[str] | None:
    """Problems with one `nml:` point-cell template, for `sonatasim validate`; None when
    the template does not name a NeuroML point cell (other checks apply)."""
    try:
        path = cell_file(info, template)
        if not is_point_cell_file(path):
            return None
        load_point_cell(path)
    except CircuitError as exc:
        return [exc.describe()]
    return []
