"""replay: inject recorded current traces, one per cell, read from a file (`path`).

libsonata 0.2.2 gives this module only `path` and `interpolate`; the file format is ours
to define, and we take the SONATA report layout, so that a soma or summation report of
an earlier run can be replayed as is:

  /report/<population>/data                 [n_times x n_elements] float, attr units
  /report/<population>/mapping/node_ids     0-based node ids
  /report/<population>/mapping/index_pointers   element range of each node
  /report/<population>/mapping/time         (start, end, dt) in ms, end exclusive

Each targeted node needs exactly one element (its trace). Units: nA (also when the
`units` attribute is absent), pA or uA. Sample i is at start + i dt (absolute simulation
time). With interpolate the trace is piecewise linear between samples, otherwise each
sample holds until the next (the last for one dt). The trace is injected only inside
[delay, delay + duration] and is 0 outside, like every other current input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.stimuli.base import Stimulus
from engine.stimuli.registry import register
from engine.stimuli.sources import SignalBuilder, Waveform, attach_current, point_segments

UNIT_SCALE = {"": 1.0, "nA": 1.0, "pA": 1e-3, "uA": 1e3, "µA": 1e3}


def trace_waveform(
    start: float, dt: float, samples: np.ndarray, window: tuple[float, float], interpolate: bool
) -> Waveform | None:
    """The waveform of one trace restricted to `window`; None if they do not overlap."""
    n = samples.size
    last = start + (n - 1) * dt if interpolate else start + n * dt
    lo, hi = max(window[0], start), min(window[1], last)
    if n == 0 or hi <= lo:
        return None
    times = start + np.arange(n) * dt

    def value(t: float, side: str = "right") -> float:
        """The trace at t; side "left": the step value just before t (the window's end)."""
        if interpolate:
            return float(np.interp(t, times, samples))
        return float(samples[max(0, min(int(np.searchsorted(times, t, side=side)) - 1, n - 1))])

    builder = SignalBuilder(0.0, lo)
    builder.point(0.0).point(value(lo))
    inside = np.flatnonzero((times > lo) & (times < hi))
    if interpolate:
        builder.samples(times[inside], samples[inside], 0.0)
    else:
        for i in inside:  # a step at every sample time
            builder.samples([times[i], times[i]], [samples[i - 1], samples[i]], 0.0)
    builder.advance(hi - lo)
    builder.point(value(hi, "left"))  # a window ending on a sample time: no ramp into it
    return builder.point(0.0).waveform()


@register("replay")
class CurrentReplay(Stimulus):
    def build(self) -> None:
        path = Path(self.block.path)
        self.non_negative("delay")
        duration = self.non_negative("duration")
        if not path.is_file():
            raise self.error(f"current trace file {path} does not exist", "path")
        window = (self.delay, self.delay + duration)
        points = self.target_points()
        try:
            with h5py.File(path, "r") as f:
                traces = self._read(f, path, points)
        except OSError as exc:
            raise self.error(f"cannot read {path} as HDF5: {exc}", "path") from None
        h = self.h
        for point in points:
            segments = point_segments(point)
            if not segments:
                continue
            start, dt, samples = traces[point.gid]
            wave = trace_waveform(start, dt, samples, window, bool(self.block.interpolate))
            if wave is None:
                continue
            for segment, where in segments:
                self.injections.append(attach_current(h, segment, wave, False, where))

    def _read(self, f: Any, path: Path, points: list) -> dict[int, tuple]:
        """gid -> (start, dt, samples in nA) for every local target point."""
        report = f.get("report")
        have = sorted(report.keys()) if report is not None else []
        for population in self.target_populations():
            if population not in have:
                raise self.error(
                    f"{path} has no current traces for population '{population}' (expected"
                    f" /report/{population}; the file has: {', '.join(have) or 'none'})",
                    "path",
                )
        traces = {}
        for population in sorted({p.population for p in points}):
            group = report[population]
            try:
                node_ids = np.asarray(group["mapping/node_ids"][:], dtype=np.int64)
                pointers = np.asarray(group["mapping/index_pointers"][:], dtype=np.int64)
                start, end, dt = (float(x) for x in group["mapping/time"][:3])
                data = group["data"]
                units = data.attrs.get("units", "")
            except KeyError as exc:
                raise self.error(f"{path}: /report/{population} lacks {exc}", "path") from None
            units = units.decode() if isinstance(units, bytes) else str(units)
            if units not in UNIT_SCALE:
                raise self.error(f"{path}: unsupported current unit '{units}'", "path")
            row = {int(n): i for i, n in enumerate(node_ids)}
            for point in (p for p in points if p.population == population):
                index = row.get(point.node_id)
                if index is None:
                    raise self.error(
                        f"{path} has no trace for node {point.node_id} of '{population}'",
                        "path",
                    )
                first, stop = pointers[index], pointers[index + 1]
                if stop - first != 1:
                    raise self.error(
                        f"{path}: node {point.node_id} of '{population}' has {stop - first}"
                        " elements; a current replay needs exactly one trace per node",
                        "path",
                    )
                samples = np.asarray(data[:, first], dtype=np.float64) * UNIT_SCALE[units]
                traces[point.gid] = (start, dt, samples)
        return traces
