"""The LEMS `Simulation` of a NeuroML model: read it (to convert) and write it (so that
jNeuroML/pyNeuroML can run a network we export).

Why our own small reader: a LEMS simulation file is a handful of elements (Include,
Target, Simulation with OutputFile/EventOutputFile); reading them with ElementTree needs
no Java and no LEMS interpreter.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from engine.dialects.neuroml import units
from engine.errors import ConfigError

CORE_INCLUDES = ("Cells.xml", "Networks.xml", "Simulation.xml")


@dataclass
class OutputFile:
    id: str
    file_name: str
    columns: list[tuple[str, str]] = field(default_factory=list)  # (id, quantity)


@dataclass
class EventOutputFile:
    id: str
    file_name: str
    format: str = "TIME_ID"
    selections: list[tuple[str, str, str]] = field(default_factory=list)  # id, select, port


@dataclass
class LemsSimulation:
    """What a SONATA simulation config needs from a LEMS file (times in ms)."""

    id: str
    target: str
    length_ms: float
    step_ms: float
    seed: int | None = None
    includes: list[str] = field(default_factory=list)
    outputs: list[OutputFile] = field(default_factory=list)
    events: list[EventOutputFile] = field(default_factory=list)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_lems(path: Path) -> LemsSimulation:
    """The Simulation a LEMS file runs (its Target), with its includes and output files."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ConfigError(f"cannot read LEMS file: {exc}", file=path) from None
    elements = list(root)
    includes = [e.get("file", "") for e in elements if _local(e.tag) == "Include"]
    targets = [e.get("component") for e in elements if _local(e.tag) == "Target"]
    simulations = {e.get("id"): e for e in elements if _local(e.tag) == "Simulation"}
    if not simulations:
        raise ConfigError("no <Simulation> element", file=path, key="Simulation")
    sim_id = targets[0] if targets and targets[0] in simulations else next(iter(simulations))
    sim = simulations[sim_id]
    where = f"Simulation id={sim_id}"
    result = LemsSimulation(
        id=str(sim_id),
        target=str(sim.get("target", "")),
        length_ms=units.parse(sim.get("length", ""), "time", where=f"{where} length"),
        step_ms=units.parse(sim.get("step", ""), "time", where=f"{where} step"),
        seed=int(sim.get("seed")) if sim.get("seed") else None,
        includes=[i for i in includes if i not in CORE_INCLUDES],
    )
    for child in sim:
        tag = _local(child.tag)
        if tag == "OutputFile":
            columns = [
                (c.get("id", ""), c.get("quantity", ""))
                for c in child
                if _local(c.tag) == "OutputColumn"
            ]
            result.outputs.append(
                OutputFile(child.get("id", ""), child.get("fileName", ""), columns)
            )
        elif tag == "EventOutputFile":
            selections = [
                (s.get("id", ""), s.get("select", ""), s.get("eventPort", "spike"))
                for s in child
                if _local(s.tag) == "EventSelection"
            ]
            result.events.append(
                EventOutputFile(
                    child.get("id", ""),
                    child.get("fileName", ""),
                    child.get("format", "TIME_ID"),
                    selections,
                )
            )
    return result


_INSTANCE_PATH = re.compile(r"^([^/\[]+)(?:\[(\d+)\]|/(\d+)/[^/]+)(?:/(.+))?$")


def parse_cell_path(path: str) -> tuple[str, int, str]:
    """(population, cell index, rest) of "pop[3]/v" or "pop/3/comp/v" (rest may be "")."""
    match = _INSTANCE_PATH.match(path.strip())
    if not match:
        raise ConfigError(f"cannot read the cell path '{path}'")
    index = match.group(2) if match.group(2) is not None else match.group(3)
    return match.group(1), int(index), match.group(4) or ""


def write_lems(path: Path, simulation: LemsSimulation) -> None:
    """A LEMS file jNeuroML runs: core includes, the model files, the Simulation."""
    root = ET.Element("Lems")
    ET.SubElement(root, "Target", component=simulation.id)
    for include in (*CORE_INCLUDES, *simulation.includes):
        ET.SubElement(root, "Include", file=include)
    attributes = {
        "id": simulation.id,
        "length": units.quantity(simulation.length_ms, "ms"),
        "step": units.quantity(simulation.step_ms, "ms"),
        "target": simulation.target,
    }
    if simulation.seed is not None:
        attributes["seed"] = str(simulation.seed)
    sim = ET.SubElement(root, "Simulation", **attributes)
    for output in simulation.outputs:
        element = ET.SubElement(sim, "OutputFile", id=output.id, fileName=output.file_name)
        for column_id, quantity in output.columns:
            ET.SubElement(element, "OutputColumn", id=column_id, quantity=quantity)
    for events in simulation.events:
        element = ET.SubElement(
            sim, "EventOutputFile", id=events.id, fileName=events.file_name, format=events.format
        )
        for selection_id, select, port in events.selections:
            ET.SubElement(element, "EventSelection", id=selection_id, select=select, eventPort=port)
    ET.indent(root)
    from engine.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        ET.ElementTree(root).write(tmp, encoding="unicode", xml_declaration=False)
