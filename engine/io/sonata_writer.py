"""Our own SONATA writer: nodes, edges (with indices), node sets and the two JSON configs.

libsonata can read everything but cannot write nodes, and tests, benchmarks and the shipped
example circuits need to make circuits from numpy arrays. Layout follows the SONATA spec;
every file is written atomically (see `engine.io.atomic`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.errors import CircuitError
from engine.io.atomic import atomic_path

PathLike = str | os.PathLike[str]

_STR_DTYPE = h5py.string_dtype("utf-8")


def _column(values: Any, n: int, name: str, file: PathLike) -> np.ndarray:
    """One attribute column as an array of length `n`; strings become Python str objects."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr[()])
    if arr.shape != (n,):
        raise CircuitError(
            f"attribute has shape {arr.shape}, expected ({n},)", file=str(file), key=name
        )
    if arr.dtype.kind in "US" or arr.dtype == object:
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in arr], object)
    if arr.dtype.kind == "b":  # h5py would store an HDF5 enum that libsonata cannot read
        return arr.astype(np.uint8)
    if arr.dtype.kind not in "iuf":
        raise CircuitError(f"unsupported dtype {arr.dtype}", file=str(file), key=name)
    return arr


def _write_column(group: h5py.Group, name: str, arr: np.ndarray) -> None:
    if arr.dtype == object:
        group.create_dataset(name, data=arr, dtype=_STR_DTYPE)
    else:
        group.create_dataset(name, data=arr)


def _write_group_zero(
    pop: h5py.Group,
    n: int,
    attributes: Mapping[str, Any],
    dynamics: Mapping[str, Any] | None,
    file: PathLike,
    order: np.ndarray | None = None,
) -> None:
    """Write group `0` (all rows belong to it) with its attributes and dynamics_params."""
    group = pop.create_group("0")
    for name, values in attributes.items():
        arr = _column(values, n, name, file)
        _write_column(group, name, arr if order is None else arr[order])
    if dynamics:
        dyn = group.create_group("dynamics_params")
        for name, values in dynamics.items():
            arr = _column(values, n, f"dynamics_params/{name}", file)
            _write_column(dyn, name, arr if order is None else arr[order])


def _check_mode(mode: str, file: PathLike) -> None:
    if mode not in ("a", "w"):
        raise CircuitError(f"mode must be 'a' or 'w', not {mode!r}", file=str(file))


def write_nodes(
    path: PathLike,
    population: str,
    attributes: dict[str, np.ndarray],
    *,
    dynamics: dict[str, np.ndarray] | None = None,
    node_type_id: np.ndarray | int = -1,
    mode: str = "a",
) -> None:
    """Write one node population (single group `0`); mode "a" keeps other populations."""
    _check_mode(mode, path)
    columns = [*attributes.values(), *(dynamics or {}).values()]
    sizes = {np.asarray(v).shape[0] for v in columns if np.asarray(v).ndim == 1}
    if isinstance(node_type_id, np.ndarray):
        sizes.add(node_type_id.shape[0])
    if len(sizes) != 1:
        raise CircuitError(
            f"cannot tell the population size from attribute lengths {sorted(sizes)}",
            file=str(path),
            key=f"nodes/{population}",
        )
    n = sizes.pop()
    with atomic_path(path, copy_existing=(mode == "a")) as tmp, h5py.File(tmp, mode) as f:
        nodes = f.require_group("nodes")
        if population in nodes:
            del nodes[population]
        pop = nodes.create_group(population)
        pop.create_dataset(
            "node_type_id", data=_column(node_type_id, n, "node_type_id", path).astype(np.int64)
        )
        pop.create_dataset("node_group_id", data=np.zeros(n, np.uint32))
        pop.create_dataset("node_group_index", data=np.arange(n, dtype=np.uint64))
        pop.create_dataset("node_id", data=np.arange(n, dtype=np.uint64))  # bmtk reads it
        _write_group_zero(pop, n, attributes, dynamics, path)


def write_edges(
    path: PathLike,
    population: str,
    source_population: str,
    target_population: str,
    source_ids: np.ndarray,
    target_ids: np.ndarray,
    attributes: dict[str, np.ndarray],
    *,
    dynamics: dict[str, np.ndarray] | None = None,
    edge_type_id: np.ndarray | int = -1,
    n_source_nodes: int,
    n_target_nodes: int,
    mode: str = "a",
    sort_by_target: bool = True,
) -> None:
    """Write one edge population plus the SONATA indices libsonata needs for queries.

    With `sort_by_target` the edges are ordered by (target, source), which is what the
    engine's per-target loading expects; attributes are reordered with them.
    """
    _check_mode(mode, path)
    src = np.asarray(source_ids).astype(np.uint64, copy=False)
    tgt = np.asarray(target_ids).astype(np.uint64, copy=False)
    key = f"edges/{population}"
    if src.ndim != 1 or src.shape != tgt.shape:
        raise CircuitError(
            "source_ids and target_ids must be 1-D of equal length", file=str(path), key=key
        )
    n = src.shape[0]
    if n and (int(src.max()) >= n_source_nodes or int(tgt.max()) >= n_target_nodes):
        raise CircuitError(
            f"node id out of range (n_source_nodes={n_source_nodes}, "
            f"n_target_nodes={n_target_nodes})",
            file=str(path),
            key=key,
        )
    order = np.lexsort((src, tgt)) if sort_by_target else None
    if order is not None:
        src, tgt = src[order], tgt[order]
    type_ids = _column(edge_type_id, n, "edge_type_id", path).astype(np.int64)
    if order is not None:
        type_ids = type_ids[order]
    with atomic_path(path, copy_existing=(mode == "a")) as tmp:
        with h5py.File(tmp, mode) as f:
            edges = f.require_group("edges")
            if population in edges:
                del edges[population]
            pop = edges.create_group(population)
            for name, ids, node_pop in (
                ("source_node_id", src, source_population),
                ("target_node_id", tgt, target_population),
            ):
                dset = pop.create_dataset(name, data=ids)
                dset.attrs["node_population"] = node_pop
            pop.create_dataset("edge_type_id", data=type_ids)
            pop.create_dataset("edge_group_id", data=np.zeros(n, np.uint32))
            pop.create_dataset("edge_group_index", data=np.arange(n, dtype=np.uint64))
            _write_group_zero(pop, n, attributes, dynamics, path, order)
        write_edge_indices(tmp, population, n_source_nodes, n_target_nodes)


def write_edge_indices(path: PathLike, population: str, n_source: int, n_target: int) -> None:
    """(Re)write `indices/source_to_target` and `indices/target_to_source` via libsonata."""
    import libsonata

    try:
        libsonata.EdgePopulation.write_indices(str(path), population, n_source, n_target, True)
    except libsonata.SonataError as exc:
        raise CircuitError(f"cannot write edge indices: {exc}", file=str(path)) from exc


def write_json(path: PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_node_sets(path: PathLike, node_sets: dict) -> None:
    """Write a SONATA node sets file (a JSON object of named node sets)."""
    write_json(path, node_sets)


_PATH_KEYS = {"network", "output_dir", "log_file", "alternate_morphologies"}
_PATH_SUFFIXES = ("_file", "_dir", "_path")


def _is_path_key(key: str) -> bool:
    return key in _PATH_KEYS or key.endswith(_PATH_SUFFIXES)


def _relative(value: Any, base: Path) -> Any:
    """`value` relative to `base` when it is an absolute path under it; else unchanged."""
    if isinstance(value, Mapping):
        return {k: _relative(v, base) for k, v in value.items()}
    if not isinstance(value, str | os.PathLike):
        return value
    text = os.fspath(value)
    if not os.path.isabs(text):
        return text
    try:
        rel = Path(text).resolve().relative_to(base.resolve())
    except ValueError:
        return text
    return "." if rel == Path(".") else f"./{rel.as_posix()}"


def _relativize(obj: Any, base: Path) -> Any:
    """Make every path-valued key (`*_file`, `*_dir`, ...) relative to the config's folder."""
    if isinstance(obj, Mapping):
        return {
            k: _relative(v, base) if _is_path_key(k) else _relativize(v, base)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [_relativize(v, base) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def write_circuit_config(
    path: PathLike,
    *,
    nodes: list[dict],
    edges: list[dict],
    components: dict | None = None,
    node_sets_file: str | None = None,
    manifest: dict | None = None,
) -> None:
    """Write a SONATA circuit config; paths under its folder are stored relative to it."""
    path = Path(path)
    for kind, entries, file_key in (("nodes", nodes, "nodes_file"), ("edges", edges, "edges_file")):
        for i, entry in enumerate(entries):
            if file_key not in entry or not entry.get("populations"):
                raise CircuitError(
                    f"each {kind} entry needs '{file_key}' and 'populations'",
                    file=str(path),
                    key=f"networks.{kind}[{i}]",
                )
    config: dict[str, Any] = {"version": 2}
    if manifest:
        config["manifest"] = dict(manifest)
    if components:
        config["components"] = dict(components)
    if node_sets_file is not None:
        config["node_sets_file"] = node_sets_file
    config["networks"] = {"nodes": list(nodes), "edges": list(edges)}
    write_json(path, _relativize(config, path.parent))


def write_simulation_config(
    path: PathLike,
    *,
    network: str,
    run: dict,
    output: dict | None = None,
    conditions: dict | None = None,
    inputs: dict | None = None,
    reports: dict | None = None,
    node_sets_file: str | None = None,
    node_set: str | None = None,
    extra: dict | None = None,
) -> None:
    """Write a SONATA simulation config; `extra` keys are merged in at the top level."""
    path = Path(path)
    for key in ("tstop", "dt"):
        if key not in run:
            raise CircuitError(f"run needs '{key}'", file=str(path), key=f"run.{key}")
    config: dict[str, Any] = {"version": 2, "network": network, "run": dict(run)}
    optional = {
        "output": output,
        "conditions": conditions,
        "inputs": inputs,
        "reports": reports,
        "node_sets_file": node_sets_file,
        "node_set": node_set,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    if extra:
        config.update(extra)
    write_json(path, _relativize(config, path.parent))
