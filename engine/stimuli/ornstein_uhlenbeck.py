"""ornstein_uhlenbeck and relative_ornstein_uhlenbeck (compat doc 4.6).

An Ornstein-Uhlenbeck process with relaxation time tau, stationary sd sigma and mean,
sampled every `dt` ms with the exact update (Gillespie 1996):
s[0] = 0, s[k] = mu s[k-1] + sigma sqrt(1 - mu^2) n[k], mu = exp(-dt/tau), plus the mean;
tau = 0 gives white noise sigma n[k] + mean. Injected as a current or as a conductance
to `reversal`. One new stream per target point with the block's key (NEURON draws).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.stimuli.base import Stimulus
from engine.stimuli.random_streams import OU_KEYS, keyed_stream
from engine.stimuli.registry import register
from engine.stimuli.sources import (
    SignalBuilder,
    attach_conductance,
    attach_current,
    point_segments,
    time_grid,
)

WHITE_NOISE_TAU = 1e-9  # ms


def ou_signal(
    h: Any, rng: Any, tau: float, sigma: float, mean: float, dt: float, n: int
) -> np.ndarray:
    noise = h.Vector(n)
    rng.normal(0.0, 1.0)
    noise.setrand(rng)
    if tau < WHITE_NOISE_TAU:
        signal = np.array(noise.mul(sigma))
    else:
        mu = math.exp(-dt / tau)
        noise.mul(sigma * math.sqrt(1 - mu * mu))
        kicks = noise.to_python()
        values = [0.0] * n
        for k in range(1, n):
            values[k] = values[k - 1] * mu + kicks[k]
        signal = np.array(values)
    return signal + mean


class OrnsteinUhlenbeckBase(Stimulus):
    def moments(self, gid: int) -> tuple[float, float]:
        """(mean, sigma) of one cell."""
        raise NotImplementedError

    def check_family(self) -> None:
        raise NotImplementedError

    def prepare(self, points: list) -> None:
        """Per-cell values (relative form)."""

    def build(self) -> None:
        self.conductance = self.input_type == "conductance"
        self.reversal = self.finite("reversal")
        self.dt = self.positive("dt")
        self.tau = self.non_negative("tau")
        self.non_negative("delay")
        duration = self.non_negative("duration")
        self.check_family()
        count = self.context.next_count("ornstein_uhlenbeck")
        seed = int(self.context.setup.run.stimulus_seed)
        points = self.target_points()
        self.prepare(points)
        h = self.h
        times = time_grid(h, self.delay, self.delay + duration, self.dt)
        for point in points:
            segments = point_segments(point)
            if not segments:
                continue
            mean, sigma = self.moments(point.gid)
            if mean < 0 and abs(mean) > 2 * sigma and self.conductance:
                self.warn_once("a negative mean conductance makes the signal mostly zero")
            for segment, where in segments:
                rng = keyed_stream(h, OU_KEYS, count, seed, point.gid, self.block.random_seed)
                values = ou_signal(h, rng, self.tau, sigma, mean, self.dt, times.size)
                builder = SignalBuilder(0.0, self.delay)
                wave = builder.bracketed(times, values, duration).waveform()
                if self.conductance:
                    injection = attach_conductance(
                        h, segment, wave, self.reversal, self.physical, where
                    )
                else:
                    injection = attach_current(h, segment, wave, self.physical, where)
                self.injections.append(injection)


@register("ornstein_uhlenbeck")
class OrnsteinUhlenbeck(OrnsteinUhlenbeckBase):
    def check_family(self) -> None:
        self.mean = self.finite("mean")
        self.sigma = self.positive("sigma")

    def moments(self, gid: int) -> tuple[float, float]:
        return self.mean, self.sigma


@register("relative_ornstein_uhlenbeck")
class RelativeOrnsteinUhlenbeck(OrnsteinUhlenbeckBase):
    def check_family(self) -> None:
        self.mean_percent = self.finite("mean_percent")
        self.sd_percent = self.positive("sd_percent")

    def prepare(self, points: list) -> None:
        self.base = self.relative_base(points, self.conductance)

    def moments(self, gid: int) -> tuple[float, float]:
        base = self.base[gid]
        sigma = (self.sd_percent / 100) * base
        if sigma <= 0:
            raise self.error(
                f"cell gid {gid}: sd_percent gives a non-positive sigma ({sigma:g})",
                "sd_percent",
            )
        return (self.mean_percent / 100) * base, sigma
