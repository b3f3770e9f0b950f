"""conditions.modifications: TTX and section_configure snippets, in file order.

Applied after the inputs and before the reports exist (neurodamus' order), on this rank's
cells. Snippets are parsed by engine.statements before any cell is built; nothing is
evaluated. What each type does:

* `ttx` (node_set): inserts SonataTTX (mod/sonatasim_ttx.mod: ttxo = 1 mM and the sentinel
  ttxi = 1/64 mM, which BBP sodium channels read as "blocked", as with neurodamus'
  TTXDynamicsSwitch) in every section of the cells, and zeroes the sodium conductances of
  the mechanisms there that do not read ttx themselves (e.g. NEURON's hh). Rule for
  "sodium conductance": a density mechanism whose NMODL NEURON block has
  `USEION na ... WRITE ina`; of its PARAMETERs, those named g...bar, gbar..., gmax... or
  g...max; when the mechanism also writes other currents (hh writes ik and il), only those
  whose name contains "na" (gnabar_hh, not gkbar_hh).
* `configure_all_sections` (node_set): `%s.<name> op v` on every section of the cells.
* `section_list` (node_set): `<list>.<name> op v`, list = somatic, axonal, basal, apical,
  all or myelinated (the template's SectionList; by section name if it has none).
* `section` (node_set): `<array>[<i>].<name> op v`, e.g. apic[10] (skipped on cells that
  have no such section).
* `compartment_set` (compartment_set): `<name> op v` on each listed segment (once per
  segment, however many entries fall in it).

A section (or compartment) receives the statements of one target (all sections, a list, a
named section) only if it has every variable they name; range variables are changed per
segment (so `*=` keeps non-uniform profiles), `Ra` per section; `nseg` and `L` are
refused (everything is already placed on the segments). A block that changes nothing on
any rank is reported with a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from engine.errors import ConfigError
from engine.statements import Statement, apply_statement, numeric_attribute, parse_statements

log = logging.getLogger("sonatasim")

TTX_MECHANISM = "SonataTTX"
TTX_OUTSIDE_MM, TTX_SENTINEL_MM = 1.0, 1.0 / 64  # mod/sonatasim_ttx.mod's level, sentinel
FORM_OF_TYPE = {
    "configure_all_sections": "all_sections",
    "section_list": "section_list",
    "section": "section",
    "compartment_set": "compartment",
}
SECTION_ATTRIBUTES = ("Ra",)  # section-level variables a statement may change
FIXED_GEOMETRY = {"nseg", "L"}  # would move what is already placed on the segments
NAME_PREFIX = {"somatic": "soma", "axonal": "axon", "basal": "dend", "apical": "apic"}
NAME_PREFIX["myelinated"] = "myelin"
_CONDUCTANCE = re.compile(r"^(g\w*bar|gbar\w*|gmax\w*|g\w*max)$", re.IGNORECASE)


@dataclass(frozen=True)
class Modification:
    """One conditions.modifications entry, its statements parsed."""

    name: str
    type: str
    node_set: str | None
    compartment_set: str | None
    statements: tuple[Statement, ...] = ()

    @property
    def label(self) -> str:
        return f"modification '{self.name}' ({self.type})"


def read_modifications(setup: Any) -> list[Modification]:
    """The config's modifications in file order, snippets parsed (ConfigError if unsafe)."""
    config = getattr(setup, "libsonata_config", None)
    if config is None:
        return []
    found = []
    for raw in config.conditions.modifications():
        kind = str(getattr(raw.type, "name", raw.type))
        label = f"modification '{raw.name}' ({kind})"
        statements: tuple[Statement, ...] = ()
        if kind in FORM_OF_TYPE:
            where = f"{label} section_configure"
            parsed = parse_statements(
                raw.section_configure,
                FORM_OF_TYPE[kind],
                where,
                file=setup.config_path,
                key=f"conditions.modifications[{raw.name}].section_configure",
            )
            statements = tuple(parsed)
            fixed = sorted({st.name for st in statements} & FIXED_GEOMETRY)
            if fixed:
                raise ConfigError(
                    f"{label} section_configure: {', '.join(fixed)} cannot be changed (synapses,"
                    " stimuli and reports are already placed on the segments)",
                    file=setup.config_path,
                    key=f"conditions.modifications[{raw.name}].section_configure",
                )
        elif kind != "ttx":
            raise ConfigError(f"{label}: type not supported yet", file=setup.config_path)
        found.append(
            Modification(
                name=raw.name,
                type=kind,
                node_set=getattr(raw, "node_set", None) if kind != "compartment_set" else None,
                compartment_set=getattr(raw, "compartment_set", None),
                statements=statements,
            )
        )
    return found


class ModificationManager:
    """Applies the modifications to the local cells; counts what changed per block."""

    def __init__(self, setup: Any):
        self.setup = setup
        self.modifications = read_modifications(setup)
        self.changed: list[int] = []

    def apply(self, sim: Any, circuit: Any) -> None:
        for modification in self.modifications:
            if modification.type == "compartment_set":
                count = self._on_compartments(circuit, modification)
            else:
                count = sum(
                    self._on_cell(sim.h, cell, modification)
                    for cell in _local_cells(circuit, modification)
                )
            self.changed.append(count)
        if not self.modifications:
            return
        totals = [sum(column) for column in zip(*sim.allgather(self.changed), strict=True)]
        if sim.is_root:
            for modification, total in zip(self.modifications, totals, strict=True):
                if total == 0:
                    log.warning("%s changed nothing on any cell", modification.label)
                else:
                    unit = "segment" if modification.type == "compartment_set" else "section"
                    log.info("%s: %d %s(s) changed", modification.label, total, unit)

    def _on_cell(self, h: Any, cell: Any, modification: Modification) -> int:
        if modification.type == "ttx":
            return block_sodium(all_sections(h, cell))
        groups: dict[tuple, list[Statement]] = {}
        for statement in modification.statements:
            groups.setdefault((statement.where, statement.index), []).append(statement)
        changed = 0
        for (where, index), statements in groups.items():
            if modification.type == "section_list":
                sections = section_list(h, cell, str(where))
            elif modification.type == "section":
                sections = named_section(cell, str(where), int(index or 0))
            else:
                sections = all_sections(h, cell)
            changed += sum(configure_section(sec, statements) for sec in sections)
        return changed

    def _on_compartments(self, circuit: Any, modification: Modification) -> int:
        from engine.managers.cells.points import local_compartment_set_points

        key = f"conditions.modifications[{modification.name}].compartment_set"
        if modification.compartment_set is None:
            raise ConfigError(f"{modification.label}: no compartment_set", key=key)
        changed = 0
        for point in local_compartment_set_points(circuit, modification.compartment_set):
            seen: set[tuple[str, int]] = set()
            for section_id, x in zip(point.section_ids, point.xs, strict=True):
                section = point.section(section_id)
                if section is None:
                    continue  # a section the template removed
                segment = section(x)
                where = (section.name(), min(int(x * section.nseg), section.nseg - 1))
                if where in seen:
                    continue  # two entries in one segment: the segment changes once
                seen.add(where)
                if all(numeric_attribute(segment, s.name) for s in modification.statements):
                    for statement in modification.statements:
                        apply_statement(segment, statement)
                    changed += 1
        return changed


def _local_cells(circuit: Any, modification: Modification) -> list[Any]:
    """This rank's cells (with sections) of the block's node set, ascending gid."""
    key = f"conditions.modifications[{modification.name}].node_set"
    if not modification.node_set:
        raise ConfigError(f"{modification.label}: no node_set", key=key)
    target = circuit.targets.target(modification.node_set, key=key)
    cells = []
    for population in target.populations:
        manager = circuit.node_managers[population]
        wanted = set(map(int, target.get(population))) & set(manager.cells)
        cells += [manager.cells[i] for i in wanted]
    cells = [c for c in cells if not getattr(c, "is_artificial", False)]
    return sorted(cells, key=lambda c: c.gid)


def all_sections(h: Any, cell: Any) -> list[Any]:
    """Every section connected to the soma (including sections a template added later)."""
    sections = h.SectionList()
    sections.wholetree(sec=cell.soma)
    return list(sections)


def section_list(h: Any, cell: Any, name: str) -> list[Any]:
    """The template's SectionList `name`, else the sections whose names say so."""
    found = getattr(cell.hoc, name, None)
    if found is not None and hasattr(found, "wholetree"):
        return list(found)
    every = all_sections(h, cell)
    if name == "all":
        return every
    prefix = NAME_PREFIX[name]
    return [s for s in every if s.name().split(".")[-1].startswith(prefix)]


def named_section(cell: Any, array: str, index: int) -> list[Any]:
    """[section `array`[index]] of the cell's template, or [] when it has none."""
    found = getattr(cell.hoc, array, None)
    if found is None:
        return []
    if hasattr(found, "nseg"):  # a single section, not an array
        return [found] if index == 0 else []
    try:
        return [found[index]]
    except (IndexError, TypeError, RuntimeError):
        return []


def configure_section(section: Any, statements: list[Statement]) -> int:
    """Apply statements to a section that has all their variables; 1 if it did, else 0."""
    probe = section(0.5)
    for statement in statements:
        if statement.name in SECTION_ATTRIBUTES:
            continue
        if statement.name == "nseg" or not numeric_attribute(probe, statement.name):
            return 0
    for statement in statements:
        if statement.name in SECTION_ATTRIBUTES:
            apply_statement(section, statement)
        else:
            for segment in section:
                apply_statement(segment, statement)
    return 1


def block_sodium(sections: list[Any]) -> int:
    """TTX on these sections: insert SonataTTX, zero sodium conductances; count sections."""
    for section in sections:
        section.insert(TTX_MECHANISM)
        for segment in section:  # what SonataTTX's INITIAL sets, visible before any run
            segment.ttxo, segment.ttxi = TTX_OUTSIDE_MM, TTX_SENTINEL_MM
        for mechanism in {m.name() for m in section(0.5)}:
            for parameter in sodium_conductances(mechanism):
                for segment in section:
                    setattr(segment, parameter, 0.0)
    return len(sections)


def _h() -> Any:
    from engine import simulator

    return simulator.current().h


def mechanism_source(name: str) -> str:
    """The NMODL text NEURON keeps for density mechanism `name` ("" if unknown)."""
    types = _h().MechanismType(0)
    types.select(name)
    try:
        return str(types.code() or "")
    except RuntimeError:
        return ""


@cache
def sodium_conductances(mechanism: str) -> tuple[str, ...]:
    """The sodium-conductance PARAMETERs of a density mechanism (rule in the docstring)."""
    if mechanism == TTX_MECHANISM:
        return ()
    h = _h()
    source = mechanism_source(mechanism)
    if reads_ttx(source):
        return ()  # a BBP-style channel: it blocks itself on SonataTTX's ttxo/ttxi
    writes = written_currents(source)
    if "ina" not in writes:
        return ()
    standard = h.MechanismStandard(mechanism, 1)
    name = h.ref("")
    found = []
    suffix = f"_{mechanism}"
    for k in range(int(standard.count())):
        standard.name(name, k)
        full = str(name[0])
        base = full[: -len(suffix)] if full.endswith(suffix) else full
        if is_sodium_conductance(base, writes):
            found.append(full)
    return tuple(found)


def is_sodium_conductance(name: str, writes: set[str]) -> bool:
    """`name` (no suffix) of a PARAMETER of a mechanism writing `writes` (rule above)."""
    if "ina" not in writes or not _CONDUCTANCE.match(name):
        return False
    return writes == {"ina"} or "na" in name.lower()


def reads_ttx(source: str) -> bool:
    """Whether an NMODL NEURON block declares `USEION ttx` (reads the TTX switch)."""
    text = re.sub(r"COMMENT.*?ENDCOMMENT", "", source, flags=re.DOTALL)
    text = re.sub(r":[^\n]*", "", text)
    block = re.search(r"\bNEURON\s*\{(.*?)\}", text, flags=re.DOTALL)
    return block is not None and re.search(r"\bUSEION\s+ttx\b", block.group(1)) is not None


def written_currents(source: str) -> set[str]:
    """Currents an NMODL NEURON block writes (`i<ion>` names; `nonspecific` for those)."""
    text = re.sub(r"COMMENT.*?ENDCOMMENT", "", source, flags=re.DOTALL)
    text = re.sub(r":[^\n]*", "", text)
    block = re.search(r"\bNEURON\s*\{(.*?)\}", text, flags=re.DOTALL)
    if block is None:
        return set()
    body = block.group(1)
    currents = set()
    for line in re.finditer(r"USEION\s+(\w+)([^\n]*)", body):
        write = re.search(r"\bWRITE\s+(.*?)(?:\bREAD\b|\bVALENCE\b|\bREPRESENTS\b|$)", line[2])
        if write:
            currents |= {w for w in re.split(r"[\s,]+", write[1]) if w == f"i{line[1]}"}
    if re.search(r"\bNONSPECIFIC_CURRENT\b", body):
        currents.add("nonspecific")
    return currents
