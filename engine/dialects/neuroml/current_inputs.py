"""NeuroML current generators as SONATA current_clamp inputs, with the same waveform as the
NeuroML2 ComponentTypes define (times in [delay, delay + duration), amplitudes x the
input's weight):

- pulseGenerator(DL): `linear` with amp_start = amp_end = amplitude;
- sineGenerator(DL) without phase: `sinusoidal` (amp_start, frequency = 1/period), sampled
  at the run's step;
- sineGenerator(DL) with a phase: SONATA's sinusoidal starts at phase 0 and no shift of its
  delay can stay silent before the generator's delay (delay 0 is common), so the waveform
  amplitude sin(phase + 2 pi (t - delay) / period) is written as a current trace,
  sampled at the run's step from the delay and replayed with interpolation (`replay`,
  file `currents/<input>.h5` in the SONATA report layout the engine reads);
- rampGenerator(DL): `linear` ramp (startAmplitude - baseline) -> (finishAmplitude -
  baseline) over the window plus, when baselineAmplitude is not 0, a constant `linear`
  input `<input>__baseline` of the baseline over the whole run: the sum is the baseline
  outside the window and the ramp inside, as in NeuroML.

Why one module: the input-list plumbing (`to_sonata_simulation`) only needs "which
blocks does this generator give"; anything else is refused there by name.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.dialects.neuroml import units

GENERATOR_LISTS = {
    "pulse_generators": "pulseGenerator",
    "pulse_generator_dls": "pulseGeneratorDL",
    "sine_generators": "sineGenerator",
    "sine_generator_dls": "sineGeneratorDL",
    "ramp_generators": "rampGenerator",
    "ramp_generator_dls": "rampGeneratorDL",
}
SUPPORTED = ", ".join(GENERATOR_LISTS.values())


@dataclass
class Target:
    """Where a generator's blocks go: node set name, the nodes, the run it lives in."""

    name: str
    population: str
    node_ids: list[int]
    weight: float
    out: Path
    length: float
    step: float
    compartment_set: bool = False  # `name` is a compartment set (segments), not a node set


def generators(document: Any) -> dict[str, tuple[str, Any]]:
    """component id -> (element, generator) of every current generator of the document."""
    found = {}
    for attribute, element in GENERATOR_LISTS.items():
        for gen in getattr(document, attribute, None) or []:
            found[str(gen.id)] = (element, gen)
    return found


def input_blocks(element: str, gen: Any, target: Target) -> dict[str, dict]:
    """The SONATA input blocks (name -> block) reproducing one generator on `target`."""
    where = f"{element} id={gen.id}"
    dimension = "none" if element.endswith("DL") else "current"

    def amplitude(attribute: str) -> float:
        return units.parse(getattr(gen, attribute), dimension, where=where) * target.weight

    delay = units.parse(gen.delay, "time", where=f"{where} delay")
    duration = units.parse(gen.duration, "time", where=f"{where} duration")
    block = {
        "input_type": "current_clamp",
        "delay": delay,
        "duration": duration,
        "compartment_set" if target.compartment_set else "node_set": target.name,
    }
    if element.startswith("pulse"):
        amp = amplitude("amplitude")
        return {target.name: {**block, "module": "linear", "amp_start": amp, "amp_end": amp}}
    if element.startswith("ramp"):
        base = amplitude("baseline_amplitude")
        blocks = {
            target.name: {
                **block,
                "module": "linear",
                "amp_start": amplitude("start_amplitude") - base,
                "amp_end": amplitude("finish_amplitude") - base,
            }
        }
        if base != 0.0:
            blocks[f"{target.name}__baseline"] = {
                **block,
                "delay": 0.0,
                "duration": target.length,
                "module": "linear",
                "amp_start": base,
                "amp_end": base,
            }
        return blocks
    amp = amplitude("amplitude")
    period = units.parse(gen.period, "time", where=f"{where} period")
    phase = units.parse(gen.phase, "none", where=f"{where} phase")
    if phase == 0.0:
        sine = {"module": "sinusoidal", "amp_start": amp, "frequency": 1000.0 / period}
        return {target.name: {**block, **sine, "dt": target.step}}
    stop = min(delay + duration, target.length)
    count = max(int(math.ceil((stop - delay) / target.step - 1e-9)) + 1, 2)
    times = delay + target.step * np.arange(count)
    trace = amp * np.sin(phase + 2.0 * np.pi * (times - delay) / period)
    path = Path("currents") / f"{target.name}.h5"
    _write_trace(target.out / path, target.population, target.node_ids, delay, target.step, trace)
    return {target.name: {**block, "module": "replay", "path": str(path), "interpolate": True}}


def _write_trace(
    path: Path, population: str, node_ids: list[int], start: float, dt: float, trace: np.ndarray
) -> None:
    """One trace (nA) per node, the SONATA report layout the `replay` input reads; written
    under a temporary name and renamed when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    ids = np.asarray(sorted(node_ids), dtype=np.uint64)
    with h5py.File(partial, "w") as f:
        group = f.create_group(f"report/{population}")
        data = group.create_dataset("data", data=np.repeat(trace[:, None], ids.size, axis=1))
        data.attrs["units"] = "nA"
        group["mapping/node_ids"] = ids
        group["mapping/index_pointers"] = np.arange(ids.size + 1, dtype=np.uint64)
        group["mapping/element_ids"] = np.zeros(ids.size, dtype=np.uint32)
        group["mapping/time"] = np.array([start, start + trace.size * dt, dt])
    os.replace(partial, path)
