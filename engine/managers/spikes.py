"""Spike recording on every rank and one SONATA spike file written by rank 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.io.spike_file import write_spike_file


class SpikeRecorder:
    """Records every spike of this rank's cells; gathers and writes them at the end.
    Gids from `gid_limit` up are a cell's more detectors (not its spikes): left out."""

    def __init__(self, sim: Any, gid_limit: int | None = None):
        self.sim = sim
        self.gid_limit = gid_limit
        self.times = sim.h.Vector()
        self.gids = sim.h.Vector()
        sim.pc.spike_record(-1, self.times, self.gids)

    def local_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        gids = np.array(self.gids, dtype=np.int64)
        times = np.array(self.times, dtype=np.float64)
        if self.gid_limit is not None:
            keep = gids < self.gid_limit
            gids, times = gids[keep], times[keep]
        return gids, times

    def gather(self) -> tuple[np.ndarray, np.ndarray] | None:
        """All ranks' (gids, times) on rank 0; None elsewhere."""
        parts = self.sim.gather(self.local_spikes(), 0)
        if parts is None:
            return None
        gids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        times = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        return gids, times

    def write(
        self,
        path: Path,
        offsets: dict[str, int],
        populations: list[str],
        sort_order: str,
    ) -> int:
        """Write the SONATA spike file on rank 0; returns the total spike count (rank 0)."""
        gathered = self.gather()
        if gathered is None:
            return 0
        gids, times = gathered
        by_population = split_by_population(gids, times, offsets, populations)
        write_spike_file(path, by_population, sort_order)
        return int(gids.size)


def split_by_population(
    gids: np.ndarray, times: np.ndarray, offsets: dict[str, int], populations: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """gids -> (population, 0-based node id) using the population offsets."""
    names = sorted(offsets, key=lambda n: offsets[n])
    starts = np.array([offsets[n] for n in names], dtype=np.int64)
    owner = np.searchsorted(starts, gids, side="right") - 1
    result = {}
    for name in populations:
        index = names.index(name)
        mask = owner == index
        result[name] = ((gids[mask] - starts[index]).astype(np.uint64), times[mask])
    return result
