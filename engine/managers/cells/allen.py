"""`ctdb:Biophys1` cells: Allen Cell Types models built from a morphology and a json file.

What a Biophys1 cell is (as bmtk builds it; feature-matrix.md rows 3 and 8):
* the morphology (our morphio loader) in a template that holds no biophysics;
* `model_processing` = `aibs_perisomatic`: the reconstructed axon is replaced by two
  30 um stub sections of 1 um diameter (axon[0] from soma(0.5), axon[1] after it); every
  section gets `pas`, `Ra` = passive.ra, `cm` per section type, `e_pas` = passive.e_pas;
  each `genome` entry inserts its mechanism in the sections of its type and sets its
  parameter; `conditions.erev` sets ena/ek per section type;
* `aibs_allactive`: axon stubs from soma(1) whose diameters are those of the original
  first and last axon sections (bmtk's fix_axon_allactive); `pas` everywhere, optional e_pas/ra, cm per type, genome
  entries may use section `all` or `glob` (a hoc global), erev only where the ion exists;
* `*_directed` variants: bmtk also points the stubs along the axon's principal direction
  (3-d points); our stubs have no 3-d points (L and diam only), so they are built like the
  non-directed ones (same electrical model, no stub geometry for the e-field);
* array placeholders the morphology leaves unused (e.g. `apic[0]` of a cell without
  apical dendrites) are deleted, as bmtk's template does;
* then nseg = 1 + 2*int(L / (2*dL)) for every section (bmtk BioCell.set_nseg), an odd
  count with segments no longer than about 2*dL;
* spikes are detected at soma(0.5) (bmtk's spike detector), not at soma(1).
`conditions.celsius` / `v_init` in the json are not applied: the simulation config's
conditions hold for the whole network (as in bmtk). Section ids (afferent_section_id):
soma 0, then the morphology's sections in file order without the axon, then the two stubs
(the order of bmtk's `hobj.all` after the axon replacement).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CircuitError
from engine.managers.cells.cell import BiophysicalCell

TEMPLATE = "SonatasimBiophys1"
TEMPLATE_TEXT = f"""
begintemplate {TEMPLATE}
public init, soma, dend, apic, axon, all, somatic, basal, apical, axonal, gid
external sonatasim_morphology
create soma[1], dend[1], apic[1], axon[1]
objref all, somatic, basal, apical, axonal, this
proc init() {{
    gid = $1
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    sonatasim_morphology.load(this, $s2, $s3)
}}
endtemplate {TEMPLATE}
"""
STUB_LENGTH = 30.0
STUB_DIAM = 1.0
DEFAULT_DL = 20.0


@dataclass(frozen=True)
class GenomeEntry:
    section: str
    name: str
    value: float
    mechanism: str = ""


@dataclass(frozen=True)
class AllenDynamics:
    """The parts of an Allen model json that build the cell."""

    path: Path
    ra: float | None = None
    cm: dict[str, float] = field(default_factory=dict)
    e_pas: float | None = None
    genome: tuple[GenomeEntry, ...] = ()
    erev: tuple[dict[str, Any], ...] = ()
    params: Any = None  # the json's "params": what bmtk passes to a hoc: template


def _first(value: Any) -> dict[str, Any]:
    """Allen files hold `passive` / `conditions` as one-element lists (or plain objects)."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value if isinstance(value, dict) else {}


@lru_cache(maxsize=128)
def _parse(path: Path, mtime: float) -> AllenDynamics:
    try:
        data = json.loads(path.read_text())
        passive, conditions = _first(data.get("passive")), _first(data.get("conditions"))
        genome = tuple(
            GenomeEntry(
                section=str(g["section"]),
                name=str(g["name"]),
                value=float(g["value"]),
                mechanism=str(g.get("mechanism", "") or ""),
            )
            for g in data.get("genome", [])
        )
        return AllenDynamics(
            path=path,
            ra=float(passive["ra"]) if "ra" in passive else None,
            cm={str(c["section"]): float(c["cm"]) for c in passive.get("cm", [])},
            e_pas=float(passive["e_pas"]) if "e_pas" in passive else None,
            genome=genome,
            erev=tuple(conditions.get("erev", [])),
            params=data.get("params"),
        )
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CircuitError(f"not an Allen cell model json: {exc!r}", file=path) from None


def read_dynamics(path: Path) -> AllenDynamics:
    path = Path(path)
    if not path.is_file():
        raise CircuitError("cell model json not found", file=path, key="dynamics_params")
    return _parse(path, path.stat().st_mtime)


def section_type(sec: Any) -> str:
    """'soma', 'dend', 'apic' or 'axon', from the section's array name (as bmtk does)."""
    return sec.name().split(".")[-1][:4]


def load_template(h: Any) -> None:
    if not hasattr(h, TEMPLATE):
        h(TEMPLATE_TEXT)


def nseg_for(length: float, dL: float) -> int:
    """bmtk's rule: 1 + 2*int(L/(2 dL)), odd, segments at most about 2*dL long."""
    return 1 + 2 * int(length / (2.0 * dL))


def _allactive_diameters(h: Any, soma: Any, axon: list[Any]) -> list[float]:
    """bmtk's allactive stubs: the diameters of the first and of the last axon section."""
    if not axon:
        return [STUB_DIAM, STUB_DIAM]
    return [axon[0].diam, axon[-1].diam]


def replace_axon(h: Any, cell: Any, sections: list[Any], allactive: bool) -> list[Any]:
    """Two 30 um axon stubs instead of the reconstructed axon; returns the new section list."""
    soma = sections[0]
    axon = [s for s in sections if section_type(s) == "axon"]
    kept = [s for s in sections if section_type(s) != "axon"]
    diams = _allactive_diameters(h, soma, axon) if allactive else [STUB_DIAM, STUB_DIAM]
    for sec in list(cell.axon):
        h.delete_section(sec=sec)
    if not h.execute1("create axon[2]", cell):
        raise CircuitError("could not create the axon stubs", key=cell.hname())
    stubs = list(cell.axon)
    attach = 1.0 if allactive else 0.5
    for sec, diam in zip(stubs, diams, strict=True):
        sec.L, sec.diam = STUB_LENGTH, diam  # no 3-d points, as bmtk: L and diam are exact
        cell.axonal.append(sec=sec)
        cell.all.append(sec=sec)
    stubs[0].connect(soma(attach), 0)
    stubs[1].connect(stubs[0](1), 0)
    return kept + stubs


def _by_type(sections: list[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for sec in sections:
        groups.setdefault(section_type(sec), []).append(sec)
    return groups


def _insert(sec: Any, mechanism: str, dyn: AllenDynamics) -> None:
    try:
        sec.insert(mechanism)
    except ValueError:
        raise CircuitError(
            f"mechanism '{mechanism}' is not available (compile the circuit's mechanisms_dir)",
            file=dyn.path,
            key="genome",
        ) from None


def _set(sec: Any, entry: GenomeEntry, dyn: AllenDynamics) -> None:
    if entry.mechanism:
        _insert(sec, entry.mechanism, dyn)
    try:
        setattr(sec, entry.name, entry.value)
    except (AttributeError, NameError, ValueError, LookupError):
        raise CircuitError(
            f"cannot set '{entry.name}' in section {sec.name()}", file=dyn.path, key="genome"
        ) from None


def _set_erev(h: Any, groups: dict[str, list[Any]], dyn: AllenDynamics) -> None:
    """ena/ek per section type, in sections that have the ion (bmtk's perisomatic code
    would fail on the others; its all-active code skips them, as we do for both)."""
    for erev in dyn.erev:
        for sec in groups.get(str(erev.get("section")), []):
            for ion, key in (("na", "ena"), ("k", "ek")):
                if key in erev and h.ismembrane(f"{ion}_ion", sec=sec):
                    setattr(sec, key, float(erev[key]))


def apply_perisomatic(h: Any, sections: list[Any], dyn: AllenDynamics) -> None:
    groups = _by_type(sections)
    for sec in sections:
        kind = section_type(sec)
        if kind not in dyn.cm:
            raise CircuitError(f"passive.cm has no entry for '{kind}'", file=dyn.path)
        if dyn.ra is not None:
            sec.Ra = dyn.ra
        sec.cm = dyn.cm[kind]
        sec.insert("pas")
        if dyn.e_pas is not None:
            sec.e_pas = dyn.e_pas
    for entry in dyn.genome:
        for sec in groups.get(entry.section, []):
            _set(sec, entry, dyn)
    _set_erev(h, groups, dyn)


def apply_allactive(h: Any, sections: list[Any], dyn: AllenDynamics) -> None:
    groups = _by_type(sections)
    for sec in sections:
        sec.insert("pas")
        if dyn.e_pas is not None:
            sec.e_pas = dyn.e_pas
        if dyn.ra is not None:
            sec.Ra = dyn.ra
    for kind, cm in dyn.cm.items():
        for sec in groups.get(kind, []):
            sec.cm = cm
    for entry in dyn.genome:
        if entry.section == "glob":
            h(f"{entry.name} = {entry.value!r}")
            continue
        for sec in sections if entry.section == "all" else groups.get(entry.section, []):
            _set(sec, entry, dyn)
    _set_erev(h, groups, dyn)


PROCESSING = {
    "aibs_perisomatic": False,
    "aibs_perisomatic_directed": False,
    "aibs_allactive": True,
    "aibs_allactive_directed": True,
}


def processing_steps(value: Any) -> list[str]:
    """model_processing as a list (bmtk accepts comma-separated names); unknown = error."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    steps = [s.strip() for s in str(value).split(",") if s.strip()]
    unknown = [s for s in steps if s not in PROCESSING]
    if unknown:
        raise CircuitError(
            f"model_processing {unknown[0]!r} is not supported (known: {', '.join(PROCESSING)})",
            key="model_processing",
        )
    return steps


def build_biophys1(
    h: Any,
    loader: Any,
    node_id: int,
    morph_dir: Path,
    morphology: str,
    dynamics: AllenDynamics | None,
    processing: list[str],
    dL: float = DEFAULT_DL,
) -> tuple[Any, list[Any]]:
    """One Biophys1 cell: (hoc object, sections in section-id order)."""
    hoc, sections = biophys1_morphology(h, loader, node_id, morph_dir, morphology)
    return hoc, process_and_segment(h, hoc, sections, dynamics, processing, dL)


def biophys1_morphology(
    h: Any, loader: Any, node_id: int, morph_dir: Path, morphology: str
) -> tuple[Any, list[Any]]:
    """The morphology in bmtk's Biophys1 template, unused placeholders deleted; no
    biophysics yet (bmtk's `nml:` cells start from this too)."""
    load_template(h)
    hoc = loader.new_cell(getattr(h, TEMPLATE), node_id, str(morph_dir), morphology)
    sections = list(loader.sections_of(hoc))
    _delete_placeholders(h, hoc, sections)
    return hoc, sections


def build_bmtk_hoc(
    h: Any,
    template: Any,
    morphology: Path | None,
    dynamics: AllenDynamics | None,
    processing: list[str],
    dL: float = DEFAULT_DL,
) -> tuple[Any, list[Any]]:
    """A bmtk `hoc:` cell: bmtk's calling convention, section ids = order of `hobj.all`.

    bmtk (loadHOC) calls the template with the dynamics json's "params" (a list: spread),
    else with the morphology file's path, else with nothing; then the model_processing
    steps and the dL segmentation, as for Biophys1.
    """
    if dynamics is not None and dynamics.params is not None:
        params = dynamics.params if isinstance(dynamics.params, list) else [dynamics.params]
        hoc = template(*params)
    elif morphology is not None:
        hoc = template(str(morphology))
    else:
        hoc = template()
    sections = list(getattr(hoc, "all", None) or [])
    if not sections:
        raise CircuitError(f"{hoc.hname()} has no 'all' SectionList", key="model_template")
    return hoc, process_and_segment(h, hoc, sections, dynamics, processing, dL)


def process_and_segment(
    h: Any,
    hoc: Any,
    sections: list[Any],
    dynamics: AllenDynamics | None,
    processing: list[str],
    dL: float,
) -> list[Any]:
    """bmtk's model_processing steps, then nseg by dL; returns the (new) section list."""
    for step in processing:
        if dynamics is None:
            raise CircuitError(
                f"model_processing {step} needs dynamics_params", key="dynamics_params"
            )
        allactive = PROCESSING[step]
        sections = replace_axon(h, hoc, sections, allactive)
        (apply_allactive if allactive else apply_perisomatic)(h, sections, dynamics)
    for sec in sections:
        sec.nseg = nseg_for(sec.L, dL)
    return sections


def _delete_placeholders(h: Any, hoc: Any, sections: list[Any]) -> None:
    """The unconnected one-section arrays the morphology did not use (bmtk deletes them)."""
    used = {sec.name() for sec in sections}
    for array in ("dend", "apic"):
        for sec in list(getattr(hoc, array, [])):
            if sec.name() not in used:
                h.delete_section(sec=sec)


@dataclass
class AllenCell(BiophysicalCell):
    """A Biophys1 cell: spikes detected at soma(0.5), as bmtk does."""

    def spike_source(self, h: Any, spike_location: str, threshold: float) -> Any:
        if spike_location != "soma":
            return super().spike_source(h, spike_location, threshold)
        netcon = h.NetCon(self.soma(0.5)._ref_v, None, sec=self.soma)
        netcon.threshold = threshold
        return netcon
