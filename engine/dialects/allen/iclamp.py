"""bmtk IClamps away from the soma centre, as SONATA compartment sets.

bmtk puts an IClamp at `getattr(cell.hobj, section_name)[section_index](section_dist)`,
after model processing. For `ctdb:Biophys1` cells the engine knows which SONATA section id
that is without building anything (engine/managers/cells/allen.py): soma 0, then the
morphology's sections in file order, arrays by type (dend = basal and other types, apic,
axon), and, when model_processing replaced the axon, without the axon and with the two
stubs axon[0], axon[1] last. So the translator writes one compartment set per population
listing (node id, section id, section_dist) and the clamp targets it. Other templates
(bmtk `hoc:`) number their sections themselves: refused.

A distance-range `section_index` ([min, max] um; bmtk draws one segment of `section_name`
within that path distance of soma(0), weighted by overlapped length) can only be resolved on
the built cell: the set is written with one soma-centre placeholder per cell and recorded in
`AllenTranslation.ranged_sets`; the engine replaces each cell's entry by its own draw
(engine/managers/cells/placement.py), keyed by seed, input name and node id: the same on
any rank count, but not the segment bmtk's generator would pick.
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
    ranged: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """{set name: SONATA compartment set} per population of the clamp's target cells."""
    array, index, x = where
    key = f"inputs.{name}.section_name"
    if isinstance(index, list | tuple):
        return _ranged_sets(name, where, targets, ranged)
    if not isinstance(index, int) or isinstance(index, bool):
        raise ConfigError(
            f"IClamp section_index {index!r}: a section number or a [min, max] distance range",
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


SECTION_KINDS = {"soma": "soma", "somatic": "soma", "dend": "dend", "basal": "dend"}
SECTION_KINDS.update({"apic": "apic", "apical": "apic", "axon": "axon", "axonal": "axon"})


def _ranged_sets(
    name: str, where: tuple, targets: dict[str, np.ndarray], ranged: dict | None
) -> dict[str, dict[str, Any]]:
    """Placeholder sets for a distance-range IClamp, its rule recorded in `ranged`."""
    array, index, _ = where
    key = f"inputs.{name}.section_index"
    try:
        low, high = (float(v) for v in index)
    except (TypeError, ValueError):
        raise ConfigError(f"section_index {index!r} is not [min, max] um", key=key) from None
    if ranged is None:
        raise ConfigError("distance-range IClamps are not supported here", key=key)
    names = [array] if isinstance(array, str) else list(array)
    unknown = [n for n in names if n not in SECTION_KINDS]
    if unknown or not names:
        raise ConfigError(
            f"section_name {array!r}: use soma, dend, apic or axon (or a list of them)",
            key=f"inputs.{name}.section_name",
        )
    kinds = sorted({SECTION_KINDS[n] for n in names})
    sets = {}
    for population, ids in sorted(targets.items()):
        set_name = f"{name}__{population}"
        entries = [[int(node), 0, 0.5] for node in np.asarray(ids).tolist()]
        sets[set_name] = {"population": population, "compartment_set": entries}
        ranged[set_name] = {"input": name, "sections": kinds, "distance_range": [low, high]}
    return sets


def placer(
    node_sets: dict[str, Any],
    readers: dict[str, Any],
    morphologies: str | None,
    sink: dict,
    ranged: dict | None = None,
) -> Callable[[str, tuple, str], list[str]]:
    """For the translator: place(input name, location, node set) -> compartment set names,
    the sets themselves collected in `sink` (written to compartment_sets.json), the rules
    of distance-range sets in `ranged`."""
    from engine.dialects.allen.inputs import node_set_members

    def place(name: str, where: tuple, node_set: str) -> list[str]:
        members = node_set_members(node_set, node_sets, readers)
        found = compartment_sets_for(
            name, where, members, readers, Path(morphologies) if morphologies else None, ranged
        )
        sink.update(found)
        return sorted(found)

    return place
