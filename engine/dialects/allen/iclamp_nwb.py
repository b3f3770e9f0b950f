"""bmtk IClamps playing a recorded sweep (`input_type: nwb` or `allen`), as SONATA `replay` inputs.

bmtk (core/modules/iclamp.py NWBReader, bionet NWBReaderNRN) reads an Allen Cell Types NWB
file: `/epochs/Sweep_<sweep_id>/stimulus/timeseries/data` (A) sampled at the `rate` (Hz)
attribute of its `starting_time`; optional `downsample` (ms: every n-th sample) and
`sweep_window` ([start, stop] ms of the sweep). It plays the samples (nA) into an IClamp
with Vector.play(amp, dt) from t = 0 (sample k holds from k dt, the last one to the end),
the clamp switched on at `delay` and left on to the end of the run. Here the same trace goes, per target
population, into a file in the `replay` module's layout (one element per node, sample k
at k dt, held, not interpolated), injected from `delay` to tstop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.errors import ConfigError

A_TO_NA = 1.0e9


def read_sweep(block: dict[str, Any], key: str) -> tuple[float, np.ndarray]:
    """(dt ms, samples nA) of the sweep, downsampled and windowed as bmtk does."""
    path = Path(str(block.get("file") or block.get("input_file") or ""))
    if not path.is_file():
        raise ConfigError("IClamp sweep file not found", file=path, key=f"{key}.file")
    sweep = block.get("sweep_id")
    try:
        sweep = f"Sweep_{int(sweep)}"
    except (TypeError, ValueError):
        sweep = str(sweep)
    with h5py.File(path, "r") as f:
        group = f.get(f"epochs/{sweep}/stimulus/timeseries")
        if group is None:
            raise ConfigError(
                f"no sweep {sweep} (epochs/{sweep})", file=path, key=f"{key}.sweep_id"
            )
        dt = 1000.0 / float(group["starting_time"].attrs["rate"])
        samples = np.asarray(group["data"][()], dtype=np.float64) * A_TO_NA
    times = np.arange(samples.size) * dt
    downsample = block.get("downsample")
    if downsample is not None and downsample > dt:
        stride = int(np.round(downsample / dt))
        samples, times, dt = samples[::stride], times[::stride], float(downsample)
    window = block.get("sweep_window")
    if window is not None:
        if len(window) != 2 or not 0 <= window[0] < window[1]:
            raise ConfigError("sweep_window must be [start, stop], 0 <= start < stop", key=key)
        keep = (times >= window[0]) & (times <= window[1])
        samples = samples[np.flatnonzero(keep)[0] : np.flatnonzero(keep)[-1] + 1]
    return dt, samples


def sweep_input(
    name: str, block: dict, members: dict[str, np.ndarray], folder: Path, tstop: float
) -> dict[str, Any]:
    """One `replay` input per population, its trace file written under `folder`."""
    dt, samples = read_sweep(block, f"inputs.{name}")
    delay = float(block.get("delay", 0.0))
    return waveform_input(name, block, (dt, samples), members, folder, tstop, (delay, None))


def waveform_input(
    name: str, block: dict, trace: tuple[float, np.ndarray], members: dict[str, np.ndarray],
    folder: Path, tstop: float, window: tuple[float, float | None],
) -> dict[str, Any]:  # fmt: skip
    """`trace` (dt, samples from t = 0) as a `replay` input, the clamp on over `window`
    (delay, duration; None: to tstop), as Vector.play(amp, dt) into an IClamp."""
    dt, samples = trace
    needed = int(np.ceil(float(tstop) / dt)) + 1  # Vector.play holds the last sample
    if samples.size and samples.size < needed:
        samples = np.concatenate([samples, np.full(needed - samples.size, samples[-1])])
    path = folder / f"{name}_sweep.h5"
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for population, ids in sorted(members.items()):
            ids = np.sort(np.asarray(ids, dtype=np.uint64))
            group = f.create_group(f"report/{population}")
            data = group.create_dataset("data", data=np.repeat(samples[:, None], ids.size, 1))
            data.attrs["units"] = "nA"
            group["mapping/node_ids"] = ids
            group["mapping/index_pointers"] = np.arange(ids.size + 1, dtype=np.uint64)
            group["mapping/time"] = np.array([0.0, samples.size * dt, dt])
    delay, duration = window
    if duration is None:
        duration = max(0.0, float(tstop) - delay)
    return {
        "module": "replay",
        "input_type": "current_clamp",
        "path": str(path),
        "delay": delay,
        "duration": duration,
        "node_set": block.get("node_set"),
        "interpolate": False,
    }
