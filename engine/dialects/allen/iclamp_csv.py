"""bmtk IClamps playing a waveform from a csv file (`input_type: csv` or `file`).

bmtk 1.2.0 (core/modules/iclamp.py CSVAmpReader, bionet/modules/iclamp.py CSVAmpReaderNRN):
the csv (`file`; `separator` default " "; columns `timestamps_column` default "timestamps"
(ms) and `amplitudes_column` default "amps" (nA)) has two or more rows. The step is the
smallest timestamp difference; the amplitudes go into Vector.play(amp, step) from t = 0
(value k holds from k step, not interpolated), so an onset later than 0 is padded: one 0
when it is one step, else a grid of gcd(int(step), int(onset)) with each amplitude
repeated. The clamp is on from 0 (the padded onset) for the last timestamp's time (plus
one step when the last amplitude is not 0). Here the same trace becomes a `replay`
input (iclamp_nwb.waveform_input), the clamp window the same.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from engine.dialects.allen.iclamp_nwb import waveform_input
from engine.errors import ConfigError

log = logging.getLogger("sonatasim")


def read_waveform(block: dict[str, Any], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps ms, amplitudes nA) from the csv, columns named as bmtk's options."""
    path = Path(str(block.get("file") or block.get("input_file") or ""))
    if not path.is_file():
        raise ConfigError("IClamp waveform csv not found", file=path, key=f"{key}.file")
    separator = str(block.get("separator", " "))
    columns = (block.get("timestamps_column", "timestamps"),
               block.get("amplitudes_column", "amps"))  # fmt: skip
    rows = [r for r in csv.reader(path.read_text().splitlines(), delimiter=separator) if r]
    header = rows[0] if rows else []
    for option, column in zip(("timestamps_column", "amplitudes_column"), columns, strict=True):
        if column not in header:
            raise ConfigError(f"csv has no column {column!r} (set {option})", file=path,
                              key=f"{key}.{option}")  # fmt: skip
    if len(rows) < 3:
        raise ConfigError("the waveform csv needs two or more rows", file=path, key=key)
    index = [header.index(c) for c in columns]
    try:
        values = np.array([[float(r[i]) for i in index] for r in rows[1:]], dtype=np.float64)
    except (ValueError, IndexError):
        raise ConfigError("waveform csv: not numbers", file=path, key=key) from None
    return values[:, 0], values[:, 1]


def bmtk_trace(times: np.ndarray, amps: np.ndarray, key: str) -> tuple[float, np.ndarray, float]:
    """(step, amplitudes from t = 0, clamp duration) as CSVAmpReaderNRN forms them."""
    steps = np.unique(np.diff(times))
    if steps.size > 1:
        log.warning("%s: csv timestamps are not evenly spaced; played at step %g", key, steps[0])
    step, onset = float(steps[0]), float(times[0])
    if not step > 0:
        raise ConfigError("waveform csv timestamps must increase", key=key)
    if onset < 0:
        raise ConfigError(f"waveform onset {onset} ms is negative", key=key)
    if onset > 0 and onset == step:
        amps = np.concatenate([[0.0], amps])
    elif onset > 0:
        if step != int(step) or onset != int(onset):
            raise ConfigError(f"waveform onset {onset} ms is not on the {step} ms grid "
                              "(bmtk pads with integer steps only)", key=key)  # fmt: skip
        grid = math.gcd(int(step), int(onset))
        amps = np.concatenate([np.zeros(int(onset) // grid), np.repeat(amps, int(step) // grid)])
        step = float(grid)
    stop = float(times[-1]) + (step if amps[-1] != 0 else 0.0)
    return step, np.asarray(amps, dtype=np.float64), stop


def csv_input(
    name: str, block: dict, members: dict[str, np.ndarray], folder: Path, tstop: float
) -> dict[str, Any]:
    """The csv waveform as a `replay` input per population (file under `folder`)."""
    key = f"inputs.{name}"
    step, amps, stop = bmtk_trace(*read_waveform(block, key), key)
    return waveform_input(name, block, (step, amps), members, folder, tstop, (0.0, stop))
