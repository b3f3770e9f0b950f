"""Allen/bmtk circuit configs rewritten with explicit `populations`, so libsonata sees them.

An Allen `networks.nodes[]` entry names only `nodes_file` and `node_types_file`; libsonata
then exposes no population at all. We list the populations of each h5 file and take each
population's type from its `model_type` (h5 group first, else the node types CSV); edge
populations become `chemical` (their `is_gap_junction` edge types run as gap junctions,
engine/managers/synapses/gap_junctions.py). The types CSV file names stay in the entries, so
`load_setup` can register them for the attribute merge (libsonata exposes them as
`types_path`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.errors import ConfigError

MODEL_TYPES = {
    "biophysical": "biophysical",
    "virtual": "virtual",
    "point_process": "point_process",
    "point_neuron": "point_neuron",
    "single_compartment": "single_compartment",
}


def h5_populations(path: Path, group: str, key: str) -> list[str]:
    """Population names in `/nodes` or `/edges` of an h5 file."""
    if not Path(path).is_file():
        raise ConfigError(f"{group} file not found", file=path, key=key)
    try:
        with h5py.File(path, "r") as f:
            root = f.get(group)
            if root is None:
                raise ConfigError(f"no '/{group}' group in the file", file=path, key=key)
            return sorted(root.keys())
    except OSError as exc:
        raise ConfigError(f"not a readable HDF5 file ({exc})", file=path, key=key) from None


def open_reader(path: Path, population: str, types_file: str | None, edges: bool = False) -> Any:
    """An AttributeReader over one population with its types CSV merged."""
    import libsonata

    from engine.io.attributes import AttributeReader, TypesSource

    storage_class = libsonata.EdgeStorage if edges else libsonata.NodeStorage
    try:
        storage = storage_class(str(path)).open_population(population)
    except libsonata.SonataError as exc:
        raise ConfigError(f"cannot open population {population}: {exc}", file=path) from None
    source = TypesSource(types_file=Path(types_file) if types_file else None)
    return AttributeReader(storage, path, source)


def population_type(reader: Any, population: str, path: Path, notes: list[str]) -> str:
    """The SONATA population type implied by the nodes' model_type values."""
    if not reader.has("model_type"):
        notes.append(f"population {population}: no model_type; assuming biophysical")
        return "biophysical"
    ids = np.arange(reader.storage.size, dtype=np.uint64)
    kinds = sorted({str(v) for v in reader.read("model_type", ids).tolist() if v is not None})
    if len(kinds) > 1:
        # each node is built by its own model_type (engine.managers.cells.mixed)
        notes.append(f"population {population} mixes model types {', '.join(kinds)}")
        detailed = [k for k in kinds if k in ("biophysical", "single_compartment")]
        return detailed[0] if detailed else MODEL_TYPES.get(kinds[0], kinds[0])
    if not kinds:
        return "biophysical"
    return MODEL_TYPES.get(kinds[0], kinds[0])


def modfiles_dir(directory: str) -> str:
    """bmtk keeps .mod files in `<mechanisms_dir>/modfiles`; use that folder when so."""
    path = Path(directory)
    if not any(path.glob("*.mod")) and any((path / "modfiles").glob("*.mod")):
        return str(path / "modfiles")
    return directory


def translate_circuit(
    circuit: dict[str, Any], path: Path, notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(BBP-dialect circuit config, {node population: AttributeReader})."""
    components = dict(circuit.get("components") or {})
    if "mechanisms_dir" in components:
        components["mechanisms_dir"] = modfiles_dir(components["mechanisms_dir"])
    networks = circuit.get("networks") or {}
    if not isinstance(networks, dict):
        raise ConfigError("networks must be a JSON object", file=path, key="networks")
    readers: dict[str, Any] = {}
    nodes = []
    for index, entry in enumerate(networks.get("nodes") or []):
        key = f"networks.nodes[{index}]"
        if "nodes_file" not in entry:
            raise ConfigError("entry without nodes_file", file=path, key=key)
        populations = {k: dict(v or {}) for k, v in (entry.get("populations") or {}).items()}
        if not populations:
            populations = {p: {} for p in h5_populations(Path(entry["nodes_file"]), "nodes", key)}
        for name, props in populations.items():
            reader = open_reader(Path(entry["nodes_file"]), name, entry.get("node_types_file"))
            readers[name] = reader
            if "type" not in props:
                props["type"] = population_type(reader, name, Path(entry["nodes_file"]), notes)
            if "mechanisms_dir" in props:
                props["mechanisms_dir"] = modfiles_dir(props["mechanisms_dir"])
        nodes.append({**entry, "populations": populations})
    if "edges" not in networks:
        notes.append("circuit config has no networks.edges: no synapses")
    edges = []
    for index, entry in enumerate(networks.get("edges") or []):
        key = f"networks.edges[{index}]"
        if "edges_file" not in entry:
            raise ConfigError("entry without edges_file", file=path, key=key)
        populations = {k: dict(v or {}) for k, v in (entry.get("populations") or {}).items()}
        if not populations:
            populations = {p: {} for p in h5_populations(Path(entry["edges_file"]), "edges", key)}
        for props in populations.values():
            props.setdefault("type", "chemical")
        edges.append({**entry, "populations": populations})
    for index, entry in enumerate(networks.get("gap_juncs") or []):
        notes.append(
            f"networks.gap_juncs[{index}] ({Path(str(entry.get('gap_juncs_file', ''))).name}):"
            " not needed, gap junctions are the edges of is_gap_junction edge types"
        )
    if circuit.get("target_simulator") not in (None, "NEURON", "CORENEURON"):
        notes.append(f"circuit target_simulator {circuit['target_simulator']!r} ignored")
    bbp: dict[str, Any] = {"components": components, "networks": {"nodes": nodes, "edges": edges}}
    return bbp, readers
