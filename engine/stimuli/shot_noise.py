"""shot_noise, relative_shot_noise, absolute_shot_noise (compat doc 4.5).

Poisson events with gamma-distributed amplitudes, filtered by a bi-exponential kernel
(rise tau_R, decay tau_D, normalised to a unit peak), sampled every `dt` ms; injected as
a current or, with input_type conductance, as a conductance to `reversal`. The relative
and absolute forms derive (rate, amp_mean, amp_var) from a target mean, sd and skewness
(Rice's generalisation of Campbell's theorem).

The random draws follow neurodamus call by call (NEURON Random + Vector), one new stream
per target point with the block's key, so the signals match it bit for bit. Where
neurodamus would stop on an assertion (too few intervals drawn, about 0.1 % of points),
more intervals are drawn from the same stream instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.stimuli.base import Stimulus
from engine.stimuli.random_streams import SHOT_NOISE_KEYS, keyed_stream
from engine.stimuli.registry import register
from engine.stimuli.sources import (
    SignalBuilder,
    attach_conductance,
    attach_current,
    point_segments,
    time_grid,
)


@dataclass(frozen=True)
class ShotParameters:
    rate: float  # Hz
    amp_mean: float  # nA or uS
    amp_var: float  # nA^2 or uS^2


def gamma_samples(h: Any, rng: Any, shape: float, scale: float, n: int) -> np.ndarray:
    """Marsaglia & Tsang (2000) with NEURON draws: normal(0,1) then uniform(0,1) per try."""
    if shape < 1:
        rng.uniform(0, 1)
        boost = h.Vector(n)
        boost.setrand(rng)
        boost.pow(1 / shape)
        return gamma_samples(h, rng, 1 + shape, scale, n) * np.array(boost)
    d = shape - 1 / 3
    c = 1 / 3 / math.sqrt(d)
    out = np.zeros(n)
    for i in range(n):
        while True:
            x = rng.normal(0, 1)
            v = 1 + c * x
            if v <= 0:
                continue
            v = v * v * v
            u = rng.uniform(0, 1)
            if u < 1 - 0.0331 * x * x * x * x or math.log(u) < 0.5 * x * x + d * (
                1 - v + math.log(v)
            ):
                out[i] = scale * d * v
                break
    return out


def event_times(h: Any, rng: Any, rate: float, duration: float) -> np.ndarray:
    """Poisson event times (ms) in [0, duration): exponential intervals, cumulated."""
    napprox = 1 + int(duration * (rate / 1000))
    napprox = int(napprox + 3 * math.sqrt(napprox))
    rng.negexp(1 / rate)
    intervals = h.Vector(napprox)
    intervals.setrand(rng)
    events = h.Vector().integral(intervals, 1).mul(1000)
    while events[len(events) - 1] < duration:  # rare: keep drawing from the same stream
        more = h.Vector(napprox)
        more.setrand(rng)
        intervals.append(more)
        events = h.Vector().integral(intervals, 1).mul(1000)
    times = np.array(events)
    return times[times < duration]


def shot_noise_signal(
    h: Any,
    rng: Any,
    tau_d: float,
    tau_r: float,
    params: ShotParameters,
    duration: float,
    dt: float,
    n_steps: int,
) -> np.ndarray:
    """Impulses on the dt grid, filtered by the unit-peak bi-exponential kernel."""
    steps = [round(x) for x in event_times(h, rng, params.rate, duration) / dt]
    steps = [s for s in steps if s < n_steps]
    amp_mean, sign = params.amp_mean, 1.0
    if amp_mean < 0:
        amp_mean, sign = -amp_mean, -1.0
    scale = params.amp_var / amp_mean
    amplitudes = gamma_samples(h, rng, amp_mean / scale, scale, len(steps))
    impulses = [0.0] * n_steps
    for step, amplitude in zip(steps, amplitudes, strict=True):
        impulses[int(step)] += sign * amplitude
    a, b = math.exp(-dt / tau_d), math.exp(-dt / tau_r)
    decay, rise = -math.log(a), -math.log(b)
    t_peak = math.log(rise / decay) / (rise - decay)
    norm = (a / b - 1) / (a**t_peak - b**t_peak)
    p, q = [0.0] * n_steps, [0.0] * n_steps
    for k in range(1, n_steps):
        p[k] = a * p[k - 1] + b * q[k - 1]
        q[k] = b * q[k - 1] + impulses[k - 1]
    return np.array(p) * norm


def parameters_from_moments(
    tau_d: float, tau_r: float, mean: float, sd: float, relative_skew: float
) -> tuple[ShotParameters, bool]:
    """(rate, amp_mean, amp_var) giving signal mean `mean`, sd `sd`; False if the skewness
    bound fails (e.g. a negative mean)."""
    t_peak = math.log(tau_d / tau_r) / (1 / tau_r - 1 / tau_d)
    f_peak = math.exp(-t_peak / tau_d) - math.exp(-t_peak / tau_r)
    xi = (tau_d - tau_r) / f_peak
    a = 1 / (tau_d + tau_r)
    b = 1 / ((tau_d + 2 * tau_r) * (2 * tau_d + tau_r))
    skew_min = (8 / 3) * (b / a**2) * (sd / mean)
    skew = (1 + relative_skew) * skew_min
    valid = skew_min <= skew <= 2 * skew_min
    theta1 = 2 / (a * xi) * (sd**2 / mean)
    theta2 = (3 * a) / (4 * b * xi) * (sd * skew)
    amp_mean = 2 * theta1 - theta2
    amp_var = amp_mean * (theta2 - theta1)
    rate = mean / (amp_mean * xi) * 1000
    return ShotParameters(rate, amp_mean, amp_var), valid


class ShotNoiseBase(Stimulus):
    """Shared checks, counting and injection; subclasses give the per-cell parameters."""

    def check_family(self) -> bool:
        """Module-specific checks; False = no-op."""
        raise NotImplementedError

    def parameters(self, gid: int) -> ShotParameters:
        raise NotImplementedError

    def prepare(self, points: list) -> None:
        """Per-cell values (relative forms)."""

    def build(self) -> None:
        self.conductance = self.input_type == "conductance"
        self.reversal = self.finite("reversal")
        self.dt = self.positive("dt")
        self.non_negative("delay")
        duration = self.non_negative("duration")
        if int(duration / self.dt) == 0:
            return  # no-op, and the block counter does not advance (as in neurodamus)
        self.tau_r = self.positive("rise_time")
        self.tau_d = self.positive("decay_time")
        self.require(
            self.tau_r < self.tau_d and not math.isclose(self.tau_r, self.tau_d),
            f"rise_time ({self.tau_r:g} ms) must be smaller than decay_time ({self.tau_d:g} ms)",
            "rise_time",
        )
        if not self.check_family():
            return
        count = self.context.next_count("shot_noise")
        seed = int(self.context.setup.run.stimulus_seed)
        random_seed = self.block.random_seed
        points = self.target_points()
        self.prepare(points)
        h = self.h
        times = time_grid(h, self.delay, self.delay + duration, self.dt)
        for point in points:
            segments = point_segments(point)
            if not segments:
                continue
            params = self.parameters(point.gid)
            for segment, where in segments:
                rng = keyed_stream(h, SHOT_NOISE_KEYS, count, seed, point.gid, random_seed)
                values = shot_noise_signal(
                    h, rng, self.tau_d, self.tau_r, params, duration, self.dt, times.size
                )
                builder = SignalBuilder(0.0, self.delay)
                wave = builder.bracketed(times, values, duration).waveform()
                if self.conductance:
                    injection = attach_conductance(
                        h, segment, wave, self.reversal, self.physical, where
                    )
                else:
                    injection = attach_current(h, segment, wave, self.physical, where)
                self.injections.append(injection)

    def relative_skew(self) -> float:
        skew = self.finite("relative_skew")
        self.require(
            0 <= skew <= 1, f"relative_skew must be in [0, 1], got {skew:g}", "relative_skew"
        )
        return skew

    def from_moments(self, mean: float, sd: float, key: str) -> ShotParameters:
        if mean == 0:
            raise self.error("the signal mean must not be zero", key)
        params, valid = parameters_from_moments(self.tau_d, self.tau_r, mean, sd, self.skew)
        if not valid:
            raise self.error(
                f"mean {mean:g} and sd {sd:g} give no valid skewness (the mean must be positive)",
                key,
            )
        return params


@register("shot_noise")
class ShotNoise(ShotNoiseBase):
    def check_family(self) -> bool:
        rate = self.non_negative("rate")
        amp_mean = self.finite("amp_mean")
        self.require(amp_mean != 0, "amp_mean must not be zero", "amp_mean")
        amp_var = self.positive("amp_var")
        self.params = ShotParameters(rate, amp_mean, amp_var)
        return rate > 0

    def parameters(self, gid: int) -> ShotParameters:
        return self.params


@register("relative_shot_noise")
class RelativeShotNoise(ShotNoiseBase):
    def check_family(self) -> bool:
        self.mean_percent = self.finite("mean_percent")
        self.sd_percent = self.positive("sd_percent")
        self.skew = self.relative_skew()
        if self.sd_percent < 1:
            self.warn_once("sd_percent below 1 gives a very high event rate")
        return self.mean_percent != 0

    def prepare(self, points: list) -> None:
        self.base = self.relative_base(points, self.conductance)

    def parameters(self, gid: int) -> ShotParameters:
        base = self.base[gid]
        mean = (self.mean_percent / 100) * base
        sd = (self.sd_percent / 100) * base
        return self.from_moments(mean, sd, "mean_percent")


@register("absolute_shot_noise")
class AbsoluteShotNoise(ShotNoiseBase):
    def check_family(self) -> bool:
        self.mean = self.finite("mean")
        self.sigma = self.positive("sigma")
        self.skew = self.relative_skew()
        self.params = self.from_moments(self.mean, self.sigma, "mean")
        return True

    def parameters(self, gid: int) -> ShotParameters:
        return self.params
