"""Spike trains of NeuroML spike sources, drawn at conversion time and written to the
SONATA spike file: spikeArray, spikeGenerator (regular), and the renewal processes
spikeGeneratorPoisson (exponential intervals, mean 1/averageRate), spikeGeneratorRandom
(intervals uniform in [minISI, maxISI]) and spikeGeneratorRefPoisson (minimumISI plus an
exponential of mean averageIsi - minimumISI), as the NeuroML2 ComponentTypes define them;
poissonFiringSynapse inputs use the same Poisson trains.

Why drawn here: SONATA has no random spike source, but a replayed train is the same
process. Every train comes from its own numpy stream keyed by the LEMS seed, the population
(or input list) id and the node (or input) id - never the rank or the order sources are
drawn in - so a conversion is reproducible and a run gives the same spikes on any number
of ranks. The numbers differ from jNeuroML's draws (same process, other numbers). In
NeuroML the first interval starts at t = 0, as here.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.dialects.neuroml import units
from engine.errors import ConfigError

TRAIN_SEED = 1
Intervals = Callable[[np.random.Generator, int], np.ndarray]


def _stream(seed: int, name: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, TRAIN_SEED, zlib.crc32(name.encode()), index])


def renewal_train(
    intervals: Intervals, rate_per_ms: float, start: float, stop: float, stream
) -> np.ndarray:
    """Spike times (ms) in [start, stop) of a renewal process whose intervals `intervals`
    draws (mean 1 / rate_per_ms), the first interval counted from `start`."""
    if rate_per_ms <= 0 or stop <= start:
        return np.zeros(0)
    chunks, last = [], start
    while last < stop:
        chunk = last + np.cumsum(intervals(stream, int(rate_per_ms * (stop - start) * 1.2) + 20))
        chunks.append(chunk)
        last = float(chunk[-1])
    times = np.concatenate(chunks)
    return times[times < stop]


def poisson_train(
    rate_per_ms: float, start: float, stop: float, seed: int, name: str, index: int
) -> np.ndarray:
    """Poisson spike times (ms) in [start, stop), from the stream keyed by (seed, name,
    index)."""
    return renewal_train(
        lambda rng, k: rng.exponential(1.0 / rate_per_ms, k),
        rate_per_ms,
        start,
        stop,
        _stream(seed, name, index),
    )


def _random_intervals(item: Any, where: str, net_file: Path) -> tuple[Intervals, float]:
    """spikeGeneratorRandom: uniform intervals in [minISI, maxISI]."""
    low = units.parse(item.min_isi, "time", where=f"{where} minISI")
    high = units.parse(item.max_isi, "time", where=f"{where} maxISI")
    if not 0 <= low <= high or high <= 0:
        raise ConfigError(
            f"<{where}>: needs 0 <= minISI <= maxISI and maxISI > 0 (minISI {low:g} ms,"
            f" maxISI {high:g} ms)",
            file=net_file,
        )
    return (lambda rng, k: rng.uniform(low, high, k)), 2.0 / (low + high)


def _ref_poisson_intervals(item: Any, where: str, net_file: Path) -> tuple[Intervals, float]:
    """spikeGeneratorRefPoisson: minimumISI + exponential(averageIsi - minimumISI)."""
    rate = units.parse(item.average_rate, "per_time", where=f"{where} averageRate")
    refractory = units.parse(item.minimum_isi, "time", where=f"{where} minimumISI")
    if rate <= 0 or not 0 <= refractory <= 1.0 / rate:
        raise ConfigError(
            f"<{where}>: needs averageRate > 0 and 0 <= minimumISI <= 1/averageRate"
            f" (averageRate {rate * 1000:g} Hz, minimumISI {refractory:g} ms)",
            file=net_file,
        )
    return (lambda rng, k: refractory + rng.exponential(1.0 / rate - refractory, k)), rate


def _poisson_intervals(item: Any, where: str, net_file: Path) -> tuple[Intervals, float]:
    rate = units.parse(item.average_rate, "per_time", where=f"{where} averageRate")
    return (lambda rng, k: rng.exponential(1.0 / rate, k)), rate


RENEWAL = {
    "spikeGeneratorPoisson": _poisson_intervals,
    "spikeGeneratorRandom": _random_intervals,
    "spikeGeneratorRefPoisson": _ref_poisson_intervals,
}


def spike_sources(length_ms: float, seed: int, net_file: Path):
    """The `spike_sources(pop, element, item, n)` callback of `convert_network`: (node ids,
    times) of a population of spike sources. spikeArray/spikeGenerator nodes all fire
    alike (every node shares the component, as in NeuroML); the random kinds draw one
    train per node from its own stream."""

    def times_of(pop: Any, element: str, item: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        where = f"{element} id={item.id}"
        if element == "spikeArray":
            one = sorted(units.parse(s.time, "time", where=where) for s in item.spikes)
            per_node = [np.array(one)] * n
        elif element == "spikeGenerator":
            period = units.parse(item.period, "time", where=f"{where} period")
            per_node = [np.arange(period, length_ms + 1e-9, period)] * n
        else:
            intervals, rate = RENEWAL[element](item, f'{element} id="{item.id}"', net_file)
            per_node = [
                renewal_train(intervals, rate, 0.0, length_ms, _stream(seed, pop.id, i))
                for i in range(n)
            ]
        ids = np.concatenate([np.full(len(t), i, np.uint64) for i, t in enumerate(per_node)])
        times = np.concatenate(per_node) if per_node else np.zeros(0)
        return ids, times

    return times_of
