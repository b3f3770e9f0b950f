"""Allen/bmtk node sets, inputs and reports, rewritten as their SONATA (libsonata) equivalents.

* Node sets: bmtk filters by equality on any attribute, including those only in the node
  types CSV, which libsonata cannot see; such sets are resolved here into explicit
  `{"population", "node_id"}` sets. A JSON list of ids means `node_id`. Every population
  name is also a node set (bmtk accepts a population name where a node set is expected).
* `module: IClamp` (amp, delay, duration; scalars or lists for pulse trains) -> one
  `linear` input per pulse, `represents_physical_electrode: true` (an IClamp is one).
* Spike inputs `module: sonata | h5 | csv` drive the virtual population named by their
  `node_set`. SONATA replays spikes onto the synapses of *target* cells, so the spikes are
  rewritten as a SONATA spike file in the translation folder and replayed with
  `synapse_replay` onto all simulated cells. csv: columns `timestamps`, `node_ids`
  (or `gids`), optional `population`, separated by spaces or commas.
* `module: membrane_report` -> one `compartment` report per variable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.dialects.allen.spike_sources import function_spikes, read_nwb_spikes
from engine.errors import ConfigError
from engine.stimuli.registry import supported as sonata_modules

ALL_CELLS = "sonatasim_all_cells"
SECTIONS = {"soma": "soma", "somatic": "soma", "all": "all", "axon": "axon", "axonal": "axon"}
SECTIONS.update({"dend": "dend", "basal": "dend", "apic": "apic", "apical": "apic"})
_SPECIAL = {"population", "node_id", "node_ids"}


def _load_sets(path: str | None, notes: list[str]) -> dict[str, Any]:
    if not path:
        return {}
    file = Path(path)
    if not file.is_file():
        raise ConfigError("node sets file not found", file=file, key="node_sets_file")
    try:
        return dict(json.loads(file.read_text()))
    except (json.JSONDecodeError, ValueError) as exc:
        raise ConfigError(f"invalid node sets file: {exc}", file=file) from None


def resolve_query(query: dict[str, Any], readers: dict[str, Any]) -> dict[str, np.ndarray]:
    """bmtk node-set semantics: keys ANDed, a list value means any of its values."""
    wanted = query.get("population")
    pops = [wanted] if isinstance(wanted, str) else wanted or sorted(readers)
    result = {}
    for pop in pops:
        reader = readers.get(pop)
        if reader is None:
            continue
        ids = np.arange(reader.storage.size, dtype=np.uint64)
        mask = np.ones(ids.size, dtype=bool)
        for key, value in query.items():
            values = value if isinstance(value, list) else [value]
            if key in ("node_id", "node_ids"):
                mask &= np.isin(ids, np.asarray(values, dtype=np.uint64))
            elif key != "population":
                if not reader.has(key):
                    mask[:] = False
                    break
                column = reader.read(key, ids)
                if column.dtype.kind in "OUS":
                    mask &= np.isin(column.astype(str), [str(v) for v in values])
                else:
                    mask &= np.isin(column, values)
        if mask.any():
            result[pop] = ids[mask]
    return result


def translate_node_sets(
    sim: dict[str, Any],
    circuit: dict[str, Any],
    readers: dict[str, Any],
    translation: Any,
    notes: list[str],
) -> dict[str, Any]:
    raw = _load_sets(circuit.get("node_sets_file"), notes)
    raw.update(_load_sets(sim.get("node_sets_file"), notes))
    raw.update(sim.get("node_sets") or {})
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, list) and all(isinstance(v, int) for v in value):
            out[name] = {"node_id": value}
        elif isinstance(value, dict) and not any(isinstance(v, dict) for v in value.values()):
            if set(value) <= {"population"}:
                out[name] = value
                continue
            resolved = resolve_query(value, readers)
            parts = []
            for pop, ids in sorted(resolved.items()):
                parts.append(f"{name}__{pop}" if len(resolved) > 1 else name)
                out[parts[-1]] = {"population": pop, "node_id": ids.tolist()}
            if len(resolved) > 1:
                out[name] = parts
            elif not resolved:
                out[name] = {"node_id": []}
        else:
            out[name] = value
    for pop in translation.population_types:
        out.setdefault(pop, {"population": pop})
    real = [p for p, t in translation.population_types.items() if t != "virtual"]
    out[ALL_CELLS] = {"population": real}
    return out


def _source_population(node_set: str | None, node_sets: dict[str, Any], types: dict[str, str]):
    """The (virtual) population a bmtk spike input drives, and the node ids it keeps."""
    value = node_sets.get(node_set) if node_set else None
    if isinstance(value, dict) and isinstance(value.get("population"), str):
        ids = value.get("node_id")
        return value["population"], None if ids is None else np.asarray(ids, dtype=np.uint64)
    if node_set in types:
        return node_set, None
    virtual = [p for p, t in types.items() if t == "virtual"]
    return (virtual[0], None) if len(virtual) == 1 else (None, None)


def read_csv_spikes(path: Path, population: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    lines = [ln.replace(",", " ").split() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        return {}
    header = [h.lower() for h in lines[0]]
    names = {"timestamps": ("timestamps", "timestamp", "time", "times")}
    names["node_ids"] = ("node_ids", "node_id", "gids", "gid")
    column = {}
    for key, options in names.items():
        found = [header.index(o) for o in options if o in header]
        if not found:
            raise ConfigError(f"csv spike file needs a '{key}' column", file=path)
        column[key] = found[0]
    rows = lines[1:]
    times = np.array([float(r[column["timestamps"]]) for r in rows], dtype=np.float64)
    ids = np.array([int(r[column["node_ids"]]) for r in rows], dtype=np.uint64)
    if "population" in header:
        pops = np.array([r[header.index("population")] for r in rows], dtype=object)
        return {str(p): (ids[pops == p], times[pops == p]) for p in sorted(set(pops))}
    if population is None:
        raise ConfigError("cannot tell which population the csv spikes belong to", file=path)
    return {population: (ids, times)}


def read_h5_spikes(path: Path, population: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    def ms(dataset: Any) -> np.ndarray:
        values = np.asarray(dataset[...], dtype=np.float64).reshape(-1)
        units = dataset.attrs.get("units", "ms")
        units = units.decode() if isinstance(units, bytes) else str(units)
        return values * 1000.0 if units == "s" else values

    try:
        with h5py.File(path, "r") as f:
            spikes = f.get("spikes")
            if spikes is None:
                raise ConfigError("no /spikes group in the spike file", file=path)
            if isinstance(spikes.get("timestamps"), h5py.Dataset):  # legacy single population
                key = "gids" if "gids" in spikes else "node_ids"
                if population is None:
                    raise ConfigError("cannot tell which population the spikes are of", file=path)
                ids = np.asarray(spikes[key][...], dtype=np.uint64).reshape(-1)
                return {population: (ids, ms(spikes["timestamps"]))}
            out = {}
            for name, group in spikes.items():
                key = "node_ids" if "node_ids" in group else "gids"
                out[name] = (np.asarray(group[key][...], dtype=np.uint64), ms(group["timestamps"]))
            return out
    except OSError as exc:
        raise ConfigError(f"cannot read the spike file: {exc}", file=path) from None


def _spike_input(
    name, block, translation, node_sets, folder_out, tstop, notes, readers=None, run=None
) -> dict[str, Any]:
    types = translation.population_types
    population, keep = _source_population(block.get("node_set"), node_sets, types)
    if block.get("module") == "function":
        folder = Path(translation.source).parent
        trains = function_spikes(
            block, population, keep, readers or {}, folder, run or {}, f"inputs.{name}"
        )
        return _replay(name, trains, types, folder_out, tstop, notes)
    file = block.get("input_file") or block.get("spike_file")
    if not file:
        raise ConfigError("spike input without input_file", key=f"inputs.{name}.input_file")
    path = Path(file)
    if not path.is_file():
        raise ConfigError("spike file not found", file=path, key=f"inputs.{name}.input_file")
    if block.get("module") == "csv" or path.suffix == ".csv":
        trains = read_csv_spikes(path, population)
    elif block.get("module") == "nwb":
        trains = read_nwb_spikes(path, population, block.get("trial"), f"inputs.{name}")
    else:
        trains = read_h5_spikes(path, population)
    if population and population not in trains and len(trains) == 1:
        (old,) = trains
        notes.append(f"inputs.{name}: spikes of population {old!r} used for {population!r}")
        trains = {population: trains[old]}
    if population in trains and keep is not None:
        ids, times = trains[population]
        trains[population] = (ids[np.isin(ids, keep)], times[np.isin(ids, keep)])
    return _replay(name, trains, types, folder_out, tstop, notes)


def _replay(name: str, trains: dict, types: dict, folder: Path, tstop: float, notes) -> dict:
    """The trains written as a SONATA spike file, replayed onto every simulated cell."""
    from engine.io.spike_file import write_spike_file

    unknown = sorted(set(trains) - set(types))
    if unknown:
        notes.append(f"inputs.{name}: spikes of unknown population(s) {unknown} not replayed")
    trains = {p: v for p, v in trains.items() if p in types}
    converted = folder / f"{name}_spikes.h5"
    write_spike_file(converted, trains, "by_time")
    return {
        "module": "synapse_replay",
        "input_type": "spikes",
        "delay": 0.0,
        "duration": float(tstop),
        "node_set": ALL_CELLS,
        "spike_file": str(converted),
    }


def _iclamp(name: str, block: dict[str, Any], notes: list[str], place: Any = None) -> dict:
    """Pulses of a bmtk IClamp; `place(where, node_set)` gives compartment sets for a
    location other than the soma centre ({set name: population} of the sets it wrote)."""
    if "input_file" in block:
        raise ConfigError(
            "IClamp input_file needs input_type csv (or nwb)", key=f"inputs.{name}.input_file"
        )
    pulses = [
        np.atleast_1d(np.asarray(block.get(k), dtype=float)) for k in ("amp", "delay", "duration")
    ]
    n = max(p.size for p in pulses)
    if any(p.size not in (1, n) for p in pulses):
        raise ConfigError("amp, delay and duration lists differ in length", key=f"inputs.{name}")
    location = ("section_name", "section_index", "section_dist")  # bmtk's keys
    where = tuple(block.get(k, d) for k, d in zip(location, ("soma", 0, 0.5), strict=True))
    node_set = block.get("node_set", ALL_CELLS)
    targets: list[dict[str, str]] = [{"node_set": node_set}]
    if where != ("soma", 0, 0.5):
        if place is None:
            raise ConfigError(
                f"IClamp at {where[0]}[{where[1]}]({where[2]}) is not supported here",
                key=f"inputs.{name}.section_name",
            )
        targets = [{"compartment_set": set_name} for set_name in place(name, where, node_set)]
    for key in sorted(
        set(block) - {"module", "input_type", "node_set", "amp", "delay", "duration"}
    ):
        if key not in location:
            notes.append(f"inputs.{name}.{key} ignored")
    out = {}
    for k in range(n):
        amp, delay, duration = (float(p[k if p.size > 1 else 0]) for p in pulses)
        for j, target in enumerate(targets):
            label = name if k == 0 else f"{name}_{k}"
            out[label if j == 0 else f"{label}__{j}"] = {
                "module": "linear",
                "input_type": "current_clamp",
                "amp_start": amp,
                "delay": delay,
                "duration": duration,
                **target,
                "represents_physical_electrode": True,
            }
    return out


def translate_inputs(
    inputs, translation, node_sets, folder: Path, tstop: float, notes, place: Any = None,
    readers: dict | None = None, run: dict | None = None,
) -> dict:  # fmt: skip
    """SONATA inputs for bmtk's; `place` locates IClamps away from the soma (see _iclamp)."""
    path = translation.source
    out: dict[str, Any] = {}
    for name, block in inputs.items():
        module, kind = block.get("module"), block.get("input_type")
        if module in sonata_modules():
            out[name] = block
        elif module == "IClamp" and kind in ("nwb", "allen"):
            from engine.dialects.allen.iclamp_nwb import sweep_input

            members = node_set_members(block.get("node_set", ALL_CELLS), node_sets, readers or {})
            out[name] = sweep_input(name, block, members, folder, tstop)
        elif module == "IClamp" and kind in ("csv", "file"):
            from engine.dialects.allen.iclamp_csv import csv_input

            members = node_set_members(block.get("node_set", ALL_CELLS), node_sets, readers or {})
            out[name] = csv_input(name, block, members, folder, tstop)
        elif module == "IClamp":
            out.update(_iclamp(name, block, notes, place))
        elif kind == "spikes" and module in ("sonata", "h5", "csv", "nwb", "function"):
            out[name] = _spike_input(
                name, block, translation, node_sets, folder, tstop, notes, readers, run
            )
        else:
            raise ConfigError(
                f"input module {module!r} (input_type {kind!r}) is not supported yet",
                file=path,
                key=f"inputs.{name}.module",
            )
    return out


def _ecp_report(name: str, block: dict, sim: dict, out_dir: Path, translation: Any) -> dict:
    """A bmtk `extracellular` report, run by the engine's ecp recorder (not libsonata)."""
    positions = block.get("electrode_positions")
    if not positions:
        raise ConfigError("ecp report without electrode_positions", key=f"reports.{name}")
    base = Path(translation.source).parent
    contributions = block.get("contributions_dir")
    spec = {
        "name": name,
        "electrodes_file": str((base / positions).resolve()),
        "path": str(out_dir / block.get("file_name", f"{name}.h5")),
        "cells": block.get("cells") or sim.get("node_set") or ALL_CELLS,
        "minimum_distance": block.get("minimum_distance"),
        "contributions_dir": str(out_dir / contributions) if contributions else None,
    }
    if block.get("enabled", True):
        translation.ecp_reports.append(spec)
    known = {"module", "electrode_positions", "file_name", "cells", "minimum_distance"}
    return {k: v for k, v in block.items() if k not in known | {"contributions_dir", "enabled"}}


def translate_reports(
    reports: dict, translation: Any, sim: dict[str, Any], notes, out_dir: Path | None = None
) -> dict:
    run = sim.get("run") or {}
    out: dict[str, Any] = {}
    for name, block in reports.items():
        module = block.get("module")
        if "type" in block:
            out[name] = block
            continue
        if module == "extracellular":
            rest = _ecp_report(name, block, sim, Path(out_dir or "."), translation)
            for key in sorted(rest):
                notes.append(f"reports.{name}.{key} ignored")
            continue
        if module != "membrane_report":
            why = (
                "spikes always go to output.spikes_file"
                if "spike" in str(module)
                else "unsupported"
            )
            notes.append(f"reports.{name} (module {module!r}) ignored: {why}")
            continue
        variables = block.get("variable_name", "v")
        variables = [variables] if isinstance(variables, str) else list(variables)
        sections = SECTIONS.get(str(block.get("sections", "soma")))
        if sections is None:
            raise ConfigError(
                f"sections {block.get('sections')!r} not supported", key=f"reports.{name}"
            )
        known = {"module", "variable_name", "sections", "cells", "file_name", "enabled"}
        for key in sorted(set(block) - known - {"dt", "start_time", "end_time"}):
            notes.append(f"reports.{name}.{key} ignored")
        file_stem = Path(block.get("file_name", f"{name}.h5")).stem
        for variable in variables:
            suffix = "" if len(variables) == 1 else f"_{variable}"
            out[f"{name}{suffix}"] = {
                "type": "compartment",
                "cells": block.get("cells") or sim.get("node_set") or ALL_CELLS,
                "sections": sections,
                "compartments": "center" if sections == "soma" else "all",
                "variable_name": variable,
                "dt": float(block.get("dt", run.get("dt"))),
                "start_time": float(block.get("start_time", 0.0)),
                "end_time": float(block.get("end_time", run.get("tstop"))),
                "file_name": f"{file_stem}{suffix}.h5",
                "enabled": bool(block.get("enabled", True)),
            }
    return out


def node_set_members(name: str, node_sets: dict[str, Any], readers: dict[str, Any]) -> dict:
    """{population: node ids} of a translated node set (compound ones merged)."""
    value = node_sets.get(name)
    if value is None:
        raise ConfigError(f"node set '{name}' is not defined", key="node_set")
    if isinstance(value, list):
        merged: dict[str, np.ndarray] = {}
        for part in value:
            for pop, ids in node_set_members(part, node_sets, readers).items():
                merged[pop] = np.union1d(merged.get(pop, np.zeros(0, np.uint64)), ids)
        return merged
    return resolve_query(value, readers)
