"""noise: Gaussian current steps every 0.5 ms, absolute (`mean`) or relative to each cell's
threshold current (`mean_percent`) (compat doc 4.4).

NEURON's `Random.normal(mean, variance)` takes the variance; for relative noise neurodamus
passes threshold x variance / 100 as that variance (not its square) - so do we. One
Random123 stream per cell, shared by its points. When the input is delayed, the numbers
a legacy run would have used before the delay are drawn and dropped first, so a delayed
noise continues the same stream.
"""

from __future__ import annotations

from typing import Any

from engine.stimuli.base import THRESHOLD, Stimulus
from engine.stimuli.random_streams import NOISE_KEYS, keyed_stream
from engine.stimuli.registry import register
from engine.stimuli.sources import SignalBuilder, attach_current, point_segments, time_grid

NOISE_DT = 0.5  # ms; libsonata's noise block has no dt


@register("noise")
class Noise(Stimulus):
    def build(self) -> None:
        block = self.block
        mean, percent = block.mean, block.mean_percent
        self.require(
            (mean is None) != (percent is None),
            "give exactly one of mean (nA) and mean_percent (% of threshold)",
            "mean",
        )
        self.relative = percent is not None
        self.mean = self.finite("mean_percent" if self.relative else "mean")
        self.variance = self.non_negative("variance")
        duration = self.non_negative("duration")
        delay = self.non_negative("delay")
        sim_dt = float(self.context.setup.run.dt)
        self.require(
            delay == 0 or duration >= sim_dt,
            f"a delayed noise input needs a duration of at least the time step ({sim_dt:g} ms)",
            "duration",
        )
        count = self.context.next_count("noise")
        points = self.target_points()
        threshold = self.cell_values(points, THRESHOLD, required=True) if self.relative else {}
        h, seed = self.h, int(self.context.setup.run.stimulus_seed)
        for point in points:
            segments = point_segments(point)
            if not segments:
                continue
            if self.relative:
                mean = threshold[point.gid] * self.mean / 100
                variance = threshold[point.gid] * self.variance / 100
                if variance < 0:
                    raise self.error(
                        f"cell gid {point.gid}: threshold_current x variance / 100 ="
                        f" {variance:g} is negative",
                        "variance",
                    )
            else:
                mean, variance = self.mean, self.variance
            rng = keyed_stream(h, NOISE_KEYS, count, seed, point.gid)
            if delay > 0:
                self._discard_used_numbers(rng, sim_dt)
            for segment, where in segments:
                builder = SignalBuilder(0.0, delay)
                times = time_grid(h, builder.t, builder.t + duration, NOISE_DT)
                rng.normal(mean, variance)
                values = h.Vector(times.size)
                values.setrand(rng)
                builder.bracketed(times, list(values), duration)
                self.injections.append(
                    attach_current(h, segment, builder.waveform(), self.physical, where)
                )

    def _discard_used_numbers(self, rng: Any, sim_dt: float) -> None:
        """Draw (with the stream's initial distribution) what t = 0..delay would have used."""
        h = self.h
        previous, step = 0.0, self.duration - sim_dt
        while previous < self.delay - sim_dt:
            following = min(previous + step, self.delay - sim_dt)
            count = len(h.Vector().indgen(previous, following, NOISE_DT))
            h.Vector(count).setrand(rng)
            previous = following + sim_dt
