"""Which NMODL mechanisms a NeuroML cell needs, and where they are written for compiling.

The mechanisms are generated before the compile step (engine.mechanisms compiles them with
ours and the circuit's, one cached library per content), from every `nml:` template of the
circuit's biophysical populations.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.dialects.neuroml.document import find_cell_file, load_cell, refuse
from engine.dialects.neuroml.model import NmlCell
from engine.dialects.neuroml.nmodl import ION_SPECIES, channel_nmodl, concentration_nmodl

PREFIX = "nml:"


@dataclass
class Generated:
    channels: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ch, ion, mode)
    pools: dict[str, str] = field(default_factory=dict)  # concentration model id -> name
    texts: dict[str, str] = field(default_factory=dict)  # mechanism name -> NMODL


def _mode(kind: str) -> str:
    return "ghk" if kind == "ghk" else "ohmic"


def cell_mechanisms(cell: NmlCell) -> Generated:
    """The generated mechanisms of one cell (same names on every rank and every run)."""
    out = Generated()
    source = cell.path.name
    for density in cell.densities:
        channel = cell.channels.get(density.channel)
        if channel is None:
            if density.kind == "ghk":
                raise refuse(
                    cell.path, "channelDensityGHK", density.id, "names a channel not in NeuroML"
                )
            continue  # a circuit mechanism (bmtk's biophysics-only files)
        if density.kind == "nernst" and density.ion not in ION_SPECIES:
            raise refuse(cell.path, "channelDensityNernst", density.id, f"has ion '{density.ion}'")
        key = (density.channel, density.ion, _mode(density.kind))
        if key not in out.channels:
            name, text = channel_nmodl(channel, density.ion, key[2], source)
            out.channels[key] = name
            out.texts[name] = text
    for species in cell.species:
        model = cell.concentration_models[species.model]
        if model.kind != "mod" and species.model not in out.pools:
            name, text = concentration_nmodl(model, source)
            out.pools[species.model] = name
            out.texts[name] = text
    return out


def template_files(info: Any, storage: Any) -> list[Path]:
    """The NeuroML files a biophysical population's `nml:` templates name."""
    from engine.io.attributes import AttributeReader

    reader = AttributeReader(storage, info.nodes_file)
    if not reader.has("model_template"):
        return []
    ids = np.arange(storage.size, dtype=np.uint64)
    names = sorted({str(t) for t in reader.read("model_template", ids).tolist()})
    dirs = model_dirs(info)
    return [
        find_cell_file(n[len(PREFIX) :], dirs, info.nodes_file)
        for n in names
        if n.startswith(PREFIX)
    ]


def model_dirs(info: Any) -> tuple[Path, ...]:
    """bmtk's search: biophysical_neuron_models_dir, then the nodes file's folder."""
    dirs = [info.biophysical_neuron_models_dir, Path(info.nodes_file).parent]
    return tuple(Path(d) for d in dirs if d is not None)


def write_mod_dir(files: list[Path], root: Path) -> Path | None:
    """All generated mechanisms of these files in one folder (named by their content)."""
    texts: dict[str, str] = {}
    from engine.dialects.neuroml.point_cells import is_point_cell_file

    for path in files:
        if is_point_cell_file(path):
            continue  # point cells run our own mod/sonatasim_nml_*.mod
        texts.update(cell_mechanisms(load_cell(path)).texts)
    if not texts:
        return None
    digest = hashlib.sha256("".join(f"{k}\0{texts[k]}" for k in sorted(texts)).encode())
    folder = root / "neuroml" / digest.hexdigest()[:24]
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        target = folder / f"{name}.mod"
        if target.is_file() and target.read_text() == text:
            continue
        temporary = folder / f".{name}.mod.tmp-{os.getpid()}"
        temporary.write_text(text)
        os.replace(temporary, target)
    return folder


def circuit_mod_dir(setup: Any, cache: Path) -> Path | None:
    """The folder (under `cache`) of generated mechanisms for every `nml:` cell of the
    circuit, or None."""
    import libsonata

    files: list[Path] = []
    for info in setup.node_populations.values():
        if info.type not in ("biophysical", "single_compartment"):
            continue
        storage = libsonata.NodeStorage(str(info.nodes_file)).open_population(info.name)
        files += template_files(info, storage)
    return write_mod_dir(sorted(set(files)), cache) if files else None


def with_generated(setup: Any, dirs: list[Path], cache: Path) -> list[Path]:
    """`dirs` plus the folder of the circuit's generated NeuroML mechanisms, if any."""
    folder = circuit_mod_dir(setup, cache)
    return [*dirs, folder] if folder is not None else list(dirs)
