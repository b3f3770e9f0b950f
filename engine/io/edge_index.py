"""Afferent/efferent edge selections, also for edge files whose index libsonata cannot read.

libsonata reads the SONATA index `indices/<direction>/node_id_to_ranges`. bmtk's builder
(1.x) writes the same table under the name `node_id_to_range`, so real bmtk circuits make
libsonata fail. Such files are read here with h5py, in bulk: the rows of the local node ids
in `node_id_to_range`, then their rows of `range_to_edge_id`. A file with no index at all
is scanned once through its `source_node_id` / `target_node_id` column.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import h5py
import libsonata
import numpy as np

from engine.errors import CircuitError

log = logging.getLogger("sonatasim")

BMTK_NODE_INDEX = "node_id_to_range"


def edge_selection(
    storage: Any, edges_file: Path, population: str, node_ids: Any, *, afferent: bool = True
) -> libsonata.Selection:
    """The edges ending on (afferent) or starting at (efferent) `node_ids`, in id order."""
    ids = np.asarray(node_ids, dtype=np.uint64)
    query = storage.afferent_edges if afferent else storage.efferent_edges
    try:
        return query(ids.tolist())
    except (libsonata.SonataError, RuntimeError) as exc:
        first_error = exc
    try:
        return _selection_with_h5py(Path(edges_file), population, ids, afferent)
    except (OSError, KeyError, ValueError) as exc:
        raise CircuitError(
            f"cannot read the edge index ({first_error}; {exc})",
            file=edges_file,
            key=population,
        ) from None


def _selection_with_h5py(
    path: Path, population: str, ids: np.ndarray, afferent: bool
) -> libsonata.Selection:
    direction = "target_to_source" if afferent else "source_to_target"
    with h5py.File(path, "r") as f:
        group = f[f"edges/{population}"]
        index = group.get(f"indices/{direction}")
        if index is not None and BMTK_NODE_INDEX in index:
            _note(path, f"bmtk's index name '{BMTK_NODE_INDEX}'")
            return _from_ranges(index, ids)
        column = group["target_node_id" if afferent else "source_node_id"][:]
        _note(path, "no edge index (scanning the node id column)")
        return libsonata.Selection(np.flatnonzero(np.isin(column, ids)).astype(np.int64))


def _from_ranges(index: Any, ids: np.ndarray) -> libsonata.Selection:
    node_ranges = index[BMTK_NODE_INDEX]
    ids = ids[ids < node_ranges.shape[0]]
    if ids.size == 0:
        return libsonata.Selection([])
    rows = node_ranges[np.unique(ids).astype(np.int64)]  # (begin, end) rows of range_to_edge_id
    range_table = index["range_to_edge_id"]
    spans = []
    for begin, end in rows.tolist():
        if end > begin:
            spans.append(range_table[int(begin) : int(end)])
    if not spans:
        return libsonata.Selection([])
    edges = np.concatenate(spans).astype(np.int64)
    edge_ids = np.unique(np.concatenate([np.arange(b, e) for b, e in edges.tolist()]))
    return libsonata.Selection(edge_ids)


def _note(path: Path, what: str) -> None:
    log.debug("edges file %s: %s; read with h5py", path, what)
