"""neurodamus-compatible numerics, in one place.

These conventions (from ../shared/docs/neurodamus-compat.md) make our gids, random-stream
keys and delays equal to neurodamus' for OBI circuits. Each depends only on ids and config
values, never on the rank count or on creation order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import numpy as np

GID_BLOCK = 1000


def population_offsets(max_raw_ids: Mapping[str, int]) -> dict[str, int]:
    """gid offset of each population: sorted by name, each next offset rounded up to 1000s.

    `max_raw_ids` maps population name -> largest 0-based node id registered for it
    (virtual populations: size - 1; simulated populations: the largest simulated id).
    """
    offsets: dict[str, int] = {}
    previous: tuple[int, int] | None = None
    for name in sorted(max_raw_ids):
        if previous is None:
            offset = 0
        else:
            prev_offset, prev_max = previous
            offset = (math.floor((prev_offset + prev_max) / GID_BLOCK) + 1) * GID_BLOCK
        offsets[name] = offset
        previous = (offset, max(int(max_raw_ids[name]), 0))
    return offsets


def gid_limit(max_raw_ids: Mapping[str, int]) -> int:
    """The first gid block above every population's gids: more spike detectors of a cell
    (NeuroML connections leaving off the soma) get gid + k * gid_limit, k = 1, 2, ..."""
    offsets = population_offsets(max_raw_ids)
    if not offsets:
        return GID_BLOCK
    last = max(offsets, key=lambda name: offsets[name])
    top = offsets[last] + max(int(max_raw_ids[last]), 0)
    return (math.floor(top / GID_BLOCK) + 1) * GID_BLOCK


def population_hash_id(name: str) -> int:
    """12-bit population id used in random-stream keys (from the MD5 of the name)."""
    digest = hashlib.md5(name.encode("utf-8")).digest()
    return ((digest[1] & 0x0F) << 8) + digest[0]


def round_delays(delays: np.ndarray, dt: float) -> np.ndarray:
    """Synaptic delays truncated to whole time steps, as neurodamus' reader does."""
    delays = np.asarray(delays, dtype=np.float64)
    return np.trunc(delays / dt + 1e-5) * dt


def synapse_ids_per_target(target_ids: np.ndarray, edge_ids: np.ndarray) -> np.ndarray:
    """0-based position of each edge among the afferent edges of its target (edge-id order).

    This is neurodamus' synapse id: it keys the synapse random streams and is the element
    id of synapse reports, and it does not depend on which edges are later filtered out.
    """
    target_ids = np.asarray(target_ids)
    edge_ids = np.asarray(edge_ids)
    n = target_ids.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((edge_ids, target_ids))
    sorted_targets = target_ids[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_targets[1:] != sorted_targets[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    ranks = np.arange(n) - group_start
    result = np.empty(n, dtype=np.int64)
    result[order] = ranks
    return result
