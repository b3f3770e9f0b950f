"""bmtk IClamps away from the soma centre, as SONATA compartment sets.

bmtk puts an IClamp at `getattr(cell.hobj, section_name)[section_index](section_dist)`,
after model processing. For `ctdb:Biophys1` cells the engine knows which SONATA section id
that is without building anything (engine/managers/cells/allen.py): soma 0, then the
morphology's sections in file order, arrays by type (dend = basal and other types, apic,
axon), and, when model_processing replaced the axon, without the axon and with the two
stubs axon[0], axon[1] last. So the translator writes one compartment set per population
listing (node id, section id, section_dist) and the clamp targets it. Other templates
(bmtk `hoc:`) number their sections themselves: refused.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError

ARRAY_OF_TYPE = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}  # others land in dend
STUBS = 2


@cache
def _types(path: str) -> tuple[int, ...]:
    from engine.io.morphology import read_morphology

    return tuple(int(t) for t in read_morphology(Path(path)).section_types)


def morphology_path(morphologies_dir: Path, morphology: str) -> Path:
    from engine.io.morphology import resolve_morphology_path

    return resolve_morphology_path(morphologies_dir, morphology, "swc")


def section_id(types: tuple[int, ...], processed: bool, array: str, index: int) -> int | None:
    """SONATA section id of `array[index]` of a Biophys1 cell (None if it has none)."""
    if array == "soma":
        return 0 if index == 0 else None
    arrays = [ARRAY_OF_TYPE.get(t, "dend") for t in types]
    if processed:
        kept = [a for a in arrays if a != "axon"]
        if array == "axon":
            return 1 + len(kept) + index if index < STUBS else None
        arrays = kept
    positions = [k for k, a in enumerate(arrays) if a == array]
    return 1 + positions[index] if index < len(positions) else None


def compartment_sets_for(
    name: str,
    where: tuple[str, int, float],
    targets: dict[str, np.ndarray],
    readers: dict[str, Any],
    morphologies_dir: Path | None,
) -> dict[str, dict[str, Any]]:
    """{set name: SONATA compartment set} per population of the clamp's target cells."""
    array, index, x = where
    key = f"inputs.{name}.section_name"
    if not isinstance(index, int) or isinstance(index, bool):
        raise ConfigError(
            f"IClamp section_index {index!r}: only a section number is supported (not a"
            " distance range)",
            key=f"inputs.{name}.section_index",
        )
    sets = {}
    for population, ids in sorted(targets.items()):
        reader = readers[population]
        templates = reader.read("model_template", ids).astype(str)
        if not all(t.startswith("ctdb:Biophys1") for t in templates):
            raise ConfigError(
                f"IClamp at {array}[{index}]: only ctdb:Biophys1 cells (population"
                f" {population} uses {sorted(set(templates))[0]})",
                key=key,
            )
        if morphologies_dir is None:
            raise ConfigError("IClamp location needs components.morphologies_dir", key=key)
        morphologies = reader.read("morphology", ids).astype(str)
        processing = (
            reader.read("model_processing", ids).astype(str)
            if reader.has("model_processing")
            else np.full(ids.size, "")
        )
        entries = []
        for node, morphology, steps in zip(ids.tolist(), morphologies, processing, strict=True):
            path = morphology_path(morphologies_dir, morphology)
            processed = any(s.strip().startswith("aibs_") for s in str(steps).split(","))
            sid = section_id(_types(str(path)), processed, str(array), int(index))
            if sid is None:
                raise ConfigError(
                    f"IClamp at {array}[{index}]: node {node} ({morphology}) has no such section",
                    key=key,
                )
            entries.append([int(node), sid, float(x)])
        sets[f"{name}__{population}"] = {"population": population, "compartment_set": entries}
    return sets


def placer(
    node_sets: dict[str, Any], readers: dict[str, Any], morphologies: str | None, sink: dict
) -> Callable[[str, tuple, str], list[str]]:
    """For the translator: place(input name, location, node set) -> compartment set names,
    the sets themselves collected in `sink` (written to compartment_sets.json)."""
    from engine.dialects.allen.inputs import node_set_members

    def place(name: str, where: tuple, node_set: str) -> list[str]:
        members = node_set_members(node_set, node_sets, readers)
        found = compartment_sets_for(
            name, where, members, readers, Path(morphologies) if morphologies else None
        )
        sink.update(found)
        return sorted(found)

    return place
