"""Read a NeuroML <cell> with libNeuroML, validate it, refuse what we do not build.

Every refusal is one line naming the file, the element and its id, raised before anything
is built: a model is never approximated silently. Supported: see the README's NeuroML
section (ionChannelHH / ionChannel / ionChannelPassive with the standard HH gates, rates,
variables, time courses and q10 settings; channelDensity, channelDensityNernst,
channelDensityGHK; decayingPool and fixedFactor concentration models; specificCapacitance,
resistivity, initMembPotential, spikeThresh; morphology segments and groups).
"""

from __future__ import annotations

import contextlib
import io
import logging
import xml.etree.ElementTree as ElementTree
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.dialects.neuroml import units
from engine.dialects.neuroml.channels import read_channel
from engine.dialects.neuroml.model import (
    ConcentrationModel,
    Density,
    NmlCell,
    Segment,
    SegmentGroup,
    Species,
)
from engine.dialects.neuroml.refusals import NeuroMLRefused, refuse
from engine.dialects.neuroml.refusals import value as _value
from engine.errors import CircuitError

__all__ = ["NeuroMLRefused", "find_cell_file", "load_cell", "refuse"]

log = logging.getLogger("sonatasim")

_NS = "{http://www.neuroml.org/schema/neuroml2}"
# membrane / intracellular / document elements we refuse, by libNeuroML attribute
_REFUSED_MEMBRANE = {
    "channel_populations": "channelPopulation",
    "channel_density_v_shifts": "channelDensityVShift",
    "channel_density_ghk2s": "channelDensityGHK2",
    "channel_density_non_uniforms": "channelDensityNonUniform",
    "channel_density_non_uniform_nernsts": "channelDensityNonUniformNernst",
    "channel_density_non_uniform_ghks": "channelDensityNonUniformGHK",
}


def _segments(path: Path, morphology: Any) -> tuple[list[Segment], dict[str, SegmentGroup]]:
    segments = []
    for seg in morphology.segments:
        parent = seg.parent
        point = seg.proximal
        segments.append(
            Segment(
                id=int(seg.id),
                parent=None if parent is None else int(parent.segments),
                fraction_along=1.0 if parent is None else float(parent.fraction_along),
                proximal=None if point is None else (point.x, point.y, point.z, point.diameter),
                distal=(seg.distal.x, seg.distal.y, seg.distal.z, seg.distal.diameter),
                name=str(seg.name or ""),
            )
        )
    groups = {}
    for group in morphology.segment_groups:
        for attribute, element in (
            ("paths", "path"),
            ("sub_trees", "subTree"),
            ("inhomogeneous_parameters", "inhomogeneousParameter"),
        ):
            if getattr(group, attribute):
                raise refuse(path, element, group.id, "(in a segmentGroup) is not supported")
        divisions = None
        for prop in group.properties or []:
            if prop.tag == "numberInternalDivisions":
                divisions = int(float(prop.value))
        groups[str(group.id)] = SegmentGroup(
            id=str(group.id),
            members=tuple(int(m.segments) for m in group.members),
            includes=tuple(str(i.segment_groups) for i in group.includes),
            neurolex=str(group.neuro_lex_id or ""),
            divisions=divisions,
        )
    return segments, groups


def _one_group(path: Path, element: str, obj: Any) -> str:
    if getattr(obj, "segments", None):
        raise refuse(path, element, obj.id, "names a segment (only segmentGroup is supported)")
    return str(getattr(obj, "segment_groups", None) or "all")


def _densities(path: Path, membrane: Any) -> list[Density]:
    out = []
    for kind, attribute in (
        ("ohmic", "channel_densities"),
        ("nernst", "channel_density_nernsts"),
        ("ghk", "channel_density_ghks"),
    ):
        element = {"ohmic": "channelDensity", "nernst": "channelDensityNernst"}.get(
            kind, "channelDensityGHK"
        )
        for d in getattr(membrane, attribute):
            if getattr(d, "variable_parameters", None):
                raise refuse(path, element, d.id, "has variableParameter (inhomogeneous)")
            value = (
                _value(path, element, d.id, d.permeability, "permeability")
                if kind == "ghk"
                else _value(path, element, d.id, d.cond_density, "conductanceDensity")
            )
            erev = getattr(d, "erev", None)
            out.append(
                Density(
                    kind=kind,
                    id=str(d.id),
                    channel=str(d.ion_channel),
                    ion=str(d.ion),
                    group=_one_group(path, element, d),
                    value=value,
                    erev=None if erev is None else _value(path, element, d.id, erev, "voltage"),
                )
            )
    return out


def _bmtk_concentration_models(path: Path) -> dict[str, ConcentrationModel]:
    """Allen/bmtk files: <concentrationModel type="CaDynamics" decay=... gamma=...> names a
    circuit .mod (`type`) whose range variables are `<attribute>_<type>`."""
    models = {}
    for element in ElementTree.parse(path).getroot().iter(f"{_NS}concentrationModel"):
        attributes = dict(element.attrib)
        ident, kind = attributes.pop("id", "?"), attributes.pop("type", "")
        ion = attributes.pop("ion", "ca")
        attributes.pop("segmentGroup", None)
        params = []
        for name, text in sorted(attributes.items()):
            number = text.split()[0] if text.split() else text
            try:
                params.append((f"{name}_{kind}", float(units.parse(number, "none"))))
            except units.UnitError:
                raise refuse(path, "concentrationModel", ident, f"has a bad {name}") from None
        models[ident] = ConcentrationModel(id=kind, kind="mod", ion=ion, parameters=tuple(params))
    return models


def _concentration_models(path: Path, doc: Any) -> dict[str, ConcentrationModel]:
    models = _bmtk_concentration_models(path)
    for kind, attribute, element, extra in (
        (
            "decaying",
            "decaying_pool_concentration_models",
            "decayingPoolConcentrationModel",
            ("shell", "shell_thickness", "length"),
        ),
        (
            "fixedFactor",
            "fixed_factor_concentration_models",
            "fixedFactorConcentrationModel",
            ("rho", "rho", "rho_factor"),
        ),
    ):
        for m in getattr(doc, attribute):
            field, name, dimension = extra
            models[str(m.id)] = ConcentrationModel(
                id=str(m.id),
                kind=kind,
                ion=str(m.ion),
                resting=_value(path, element, m.id, m.resting_conc, "concentration"),
                decay=_value(path, element, m.id, m.decay_constant, "time"),
                **{field: _value(path, element, m.id, getattr(m, name), dimension)},
            )
    return models


def _check_document(path: Path, doc: Any) -> None:
    for attribute, element in (
        ("ion_channel_kses", "ionChannelKS"),
        ("ion_channel_v_shifts", "ionChannelVShift"),
        ("cell2_ca_poolses", "cell2CaPools"),
    ):
        for obj in getattr(doc, attribute):
            raise refuse(path, element, obj.id)


def _read(path: Path) -> Any:
    from neuroml.loaders import read_neuroml2_file

    quiet = io.StringIO()  # libNeuroML prints parser warnings; validation reports them
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            doc = read_neuroml2_file(str(path), include_includes=True, verbose=False)
    except Exception as exc:  # libNeuroML raises many kinds on bad XML
        raise CircuitError(f"not a readable NeuroML file: {exc}", file=path) from None
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            doc.validate(recursive=True)
    except ValueError as exc:
        lines = [ln.strip(" -") for ln in str(exc).splitlines() if ln.strip(" -")]
        details = [ln for ln in lines if not ln.lower().startswith("validation failed")]
        first = (details or lines or ["invalid"])[0]
        if doc.cells and doc.cells[0].morphology is not None:
            raise CircuitError(f"NeuroML validation failed: {first}", file=path) from None
        # bmtk-style biophysics-only files carry attributes outside the schema
        log.warning("%s does not validate (%s); read as a bmtk biophysics file", path, first)
    return doc


@lru_cache(maxsize=64)
def _load(path: Path, mtime: float) -> NmlCell:
    doc = _read(path)
    _check_document(path, doc)
    if not doc.cells:
        raise CircuitError("NeuroML file has no <cell>", file=path, key="model_template")
    cell_obj = doc.cells[0]
    cell = NmlCell(path=path, id=str(cell_obj.id))
    if cell_obj.morphology is not None and cell_obj.morphology.segments:
        cell.segments, cell.groups = _segments(path, cell_obj.morphology)
    bio = cell_obj.biophysical_properties
    if bio is None:
        raise refuse(path, "cell", cell.id, "has no biophysicalProperties")
    if bio.extracellular_properties is not None:
        raise refuse(path, "extracellularProperties", cell.id)
    membrane = bio.membrane_properties
    if membrane is not None:
        for attribute, element in _REFUSED_MEMBRANE.items():
            for obj in getattr(membrane, attribute):
                raise refuse(path, element, getattr(obj, "id", "?"))
        cell.densities = _densities(path, membrane)
        for c in membrane.specific_capacitances:
            value = _value(path, "specificCapacitance", cell.id, c.value, "specificCapacitance")
            cell.capacitance.append((str(c.segment_groups or "all"), value))
        for v in membrane.init_memb_potentials:
            cell.init_v = _value(path, "initMembPotential", cell.id, v.value, "voltage")
        for v in membrane.spike_threshes:
            cell.threshold = _value(path, "spikeThresh", cell.id, v.value, "voltage")
    intra = bio.intracellular_properties
    if intra is not None:
        for r in intra.resistivities:
            value = _value(path, "resistivity", cell.id, r.value, "resistivity")
            cell.resistivity.append((str(r.segment_groups or "all"), value))
        for s in intra.species:
            cell.species.append(
                Species(
                    id=str(s.id),
                    ion=str(s.ion),
                    model=str(s.concentration_model),
                    group=str(s.segment_groups or "all"),
                    initial=_value(path, "species", s.id, s.initial_concentration, "concentration"),
                    initial_ext=_value(
                        path, "species", s.id, s.initial_ext_concentration, "concentration"
                    ),
                )
            )
    for obj in list(doc.ion_channel) + list(doc.ion_channel_hhs):
        cell.channels[str(obj.id)] = read_channel(path, obj)
    cell.concentration_models = _concentration_models(path, doc)
    for s in cell.species:
        if s.model not in cell.concentration_models:
            raise refuse(path, "species", s.id, f"names unknown concentrationModel '{s.model}'")
    return cell


def load_cell(path: Path) -> NmlCell:
    """The parsed cell of a NeuroML file (cached per file and modification time)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise CircuitError("NeuroML cell file not found", file=path, key="model_template")
    return _load(path, path.stat().st_mtime)


def find_cell_file(name: str, dirs: tuple[Path, ...], nodes_file: Path) -> Path:
    """`nml:<file>` resolved as bmtk does: in biophysical_neuron_models_dir, else beside
    the population's nodes file."""
    for folder in dirs:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise CircuitError(
        f"NeuroML cell file '{name}' not found in {', '.join(str(d) for d in dirs) or '-'}",
        file=nodes_file,
        key="model_template",
    )
