"""seclamp: NEURON's SEClamp holding the target points at `voltage` for `duration` ms.

As in neurodamus, the clamp starts at t = 0 (`delay` is ignored, with a warning; libsonata
requires it to be 0 anyway), rs = series_resistance (MOhm), dur1 = duration, amp1 =
voltage. Optional levels: level i holds voltage_levels[i] for duration_levels[i] ms, the
levels following each other from t = 0; after the last level the clamp returns to
`voltage` until `duration`. They are played into amp1 without interpolation (steps).
"""

from __future__ import annotations

from itertools import accumulate

from engine.stimuli.base import Stimulus
from engine.stimuli.registry import register
from engine.stimuli.sources import Injection, point_segments


@register("seclamp")
class SEClampInput(Stimulus):
    def build(self) -> None:
        voltage = self.finite("voltage")
        rs = self.positive("series_resistance")
        duration = self.non_negative("duration")
        durations = [float(d) for d in self.block.duration_levels]
        voltages = [float(v) for v in self.block.voltage_levels]
        self.require(
            len(durations) == len(voltages),
            f"duration_levels ({len(durations)}) and voltage_levels ({len(voltages)}) must"
            " have the same length",
            "voltage_levels",
        )
        self.require(
            all(d >= 0 for d in durations),
            "duration_levels must not be negative",
            "duration_levels",
        )
        self.require(
            sum(durations) <= duration + 1e-9,
            f"duration_levels add up to {sum(durations):g} ms, more than the duration"
            f" {duration:g} ms",
            "duration_levels",
        )
        if self.delay > 0:
            self.warn_once("seclamp ignores delay (%g ms); the clamp starts at t = 0", self.delay)
        starts = [0.0, *accumulate(durations)]
        level_times = starts  # level i from starts[i]; `voltage` again from the sum
        level_values = [*voltages, voltage]
        h = self.h
        for point in self.target_points():
            for segment, (gid, section_id, x) in point_segments(point):
                clamp = h.SEClamp(segment)
                clamp.rs = rs
                clamp.dur1 = duration
                clamp.amp1 = voltage
                vectors: tuple = ()
                if durations:
                    tvec, vvec = h.Vector(level_times), h.Vector(level_values)
                    vvec.play(clamp._ref_amp1, tvec)
                    vectors = (tvec, vvec)
                self.injections.append(
                    Injection(gid, section_id, x, clamp, "voltage_clamp", vectors)
                )
