"""bmtk's "segments within a distance of the soma" rule, shared by synapse placement and IClamps.

bmtk (morphology.find_sections) takes a segment of the named section types when its span
[d - l/2, d + l/2] (d its centre's path distance from soma(0), l its length) overlaps the
distance range, weighted by l times the overlapped fraction. The draws among those
candidates are ours (numpy generators keyed by seeds and ids, never by rank or build order),
not bmtk's (whose stream depends on its gid order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.compat import population_hash_id

IC_CLAMP_SALT = 4243  # keeps the IClamp stream apart from the synapse placement stream


def segment_candidates(h: Any, cell: Any, kinds: frozenset[str], low: float, high: float):
    """(section ids, segment x, weights) of the segments of `kinds` within [low, high] um."""
    from engine.managers.cells.allen import section_type

    origin = cell.sections[0](0)
    ids, xs, weights = [], [], []
    for section_id, sec in enumerate(cell.sections):
        if sec is None or section_type(sec) not in kinds:
            continue
        length = sec.L / sec.nseg
        for seg in sec:
            distance = h.distance(origin, seg)
            overlap = min(distance + length / 2, high) - max(distance - length / 2, low)
            if overlap > 0:
                ids.append(section_id)
                xs.append(seg.x)
                weights.append(length * (overlap / length))
    return np.array(ids, dtype=np.int64), np.array(xs), np.array(weights)


def draw_iclamp_segment(
    h: Any,
    cell: Any,
    kinds: frozenset[str],
    low: float,
    high: float,
    seed: int,
    name: str,
    node_id: int,
) -> tuple[int, float] | None:
    """(section id, x) of one segment drawn as bmtk's ranged IClamp does, or None if none fits.

    The stream is keyed by (run.random_seed, the input's 12-bit name hash, node id), so a
    cell gets the same location on any number of ranks and on every rerun.
    """
    ids, xs, weights = segment_candidates(h, cell, kinds, low, high)
    if ids.size == 0:
        return None
    rng = np.random.default_rng([int(seed), IC_CLAMP_SALT, population_hash_id(name), node_id])
    k = int(rng.choice(ids.size, p=weights / weights.sum()))
    return int(ids[k]), float(xs[k])
