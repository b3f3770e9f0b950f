"""Waveforms and the electrodes that play them (the compat doc, section 6).

A waveform is a list of (time, value) points played into the source with interpolation;
a step is two points at the same time. `SignalBuilder` composes them the way neurodamus
does (a leading (0, base) point when the input is delayed, every shape returning to the
base value), so the played traces match point for point.

Electrodes: current inputs use our SonataCurrentSource (a membrane current, seen by
i_membrane) unless the input represents a physical electrode, then NEURON's IClamp.
Conductance inputs use SonataConductanceSource or, for a physical electrode, SEClamp,
with the conductance g played into rs as 1/g.

Deliberate difference from neurodamus 4.2.9: there the bracketing "base" points of a
conductance waveform carry the reversal potential, which is then inverted like a
conductance (rs = 1/reversal for a positive reversal, i.e. a large spurious conductance
outside the stimulus). Here the base of a conductance waveform is 0 uS (rs = 1e9 MOhm).
Both agree for every reversal <= 1e-9 mV (the common 0 mV and -80 mV cases included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

CURRENT_SOURCE = "SonataCurrentSource"
CONDUCTANCE_SOURCE = "SonataConductanceSource"
# rs (MOhm) for a conductance outside (1e-9, 1e9) uS: the clamp is effectively open.
OPEN_RS = 1e9
G_MIN, G_MAX = 1e-9, 1e9


@dataclass
class Waveform:
    """(time ms, value) points, played with interpolation."""

    times: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        self.values = np.asarray(self.values, dtype=np.float64)


class SignalBuilder:
    """Appends shapes at a running time; every shape starts and ends at the base value."""

    def __init__(self, base: float = 0.0, delay: float = 0.0):
        self.base = float(base)
        self.t = 0.0
        self._times: list[Any] = []
        self._values: list[Any] = []
        if delay > 0.0:
            self.point(self.base)
            self.t = float(delay)

    def point(self, value: float) -> SignalBuilder:
        """One point at the current time (time does not advance)."""
        self._times.append(np.array([self.t]))
        self._values.append(np.array([float(value)]))
        return self

    def advance(self, duration: float) -> SignalBuilder:
        self.t += duration
        return self

    def segment(self, start: float, duration: float, end: float | None = None) -> SignalBuilder:
        self.point(start)
        self.advance(duration)
        return self.point(start if end is None else end)

    def ramp(self, start: float, end: float, duration: float) -> SignalBuilder:
        """Base, a linear ramp start -> end over `duration`, base again."""
        self.point(self.base)
        self.segment(start, duration, end)
        return self.point(self.base)

    def pulse(self, amplitude: float, duration: float) -> SignalBuilder:
        return self.ramp(amplitude, amplitude, duration)

    def train(self, amplitude: float, frequency: float, width: float, total: float) -> None:
        """Pulses of `width` ms at `frequency` Hz over `total` ms, the last one possibly cut."""
        period = 1000.0 / frequency
        gap = period - width
        count = int(total / period)
        for _ in range(count):
            self.pulse(amplitude, width)
            self.advance(gap)
        remainder = total - count * period
        if width <= remainder:
            self.pulse(amplitude, width)
            self.advance(min(gap, remainder - width))
        else:
            self.pulse(amplitude, remainder)
        self.point(self.base)

    def samples(self, times: Any, values: Any, duration: float) -> SignalBuilder:
        """Sampled values at `times` (starting at the current time), then advance."""
        self._times.append(np.asarray(times, dtype=np.float64))
        self._values.append(np.asarray(values, dtype=np.float64))
        return self.advance(duration)

    def bracketed(self, times: Any, values: Any, duration: float) -> SignalBuilder:
        """Sampled values delimited by base points at both ends (noise-like signals)."""
        self.point(self.base)
        self.samples(times, values, duration)
        return self.point(self.base)

    def waveform(self) -> Waveform:
        if not self._times:
            return Waveform(np.zeros(0), np.zeros(0))
        return Waveform(np.concatenate(self._times), np.concatenate(self._values))


def time_grid(h: Any, start: float, stop: float, step: float) -> np.ndarray:
    """NEURON's Vector.indgen(start, stop, step): the sample times neurodamus uses."""
    return np.array(h.Vector().indgen(start, stop, step))


@dataclass
class Injection:
    """One point process an input placed, with what the tests and reports need to know."""

    gid: int
    section_id: int
    x: float
    source: Any
    kind: str  # "current", "conductance" or "voltage_clamp"
    vectors: tuple[Any, ...] = field(default_factory=tuple, repr=False)


def attach_current(
    h: Any, segment: Any, wave: Waveform, physical: bool, where: tuple[int, int, float]
) -> Injection:
    """IClamp or SonataCurrentSource at `segment`, amp played from `wave` (dur = last time)."""
    source = h.IClamp(segment) if physical else getattr(h, CURRENT_SOURCE)(segment)
    setattr(source, "del", 0.0)
    source.dur = float(wave.times[-1]) if wave.times.size else 0.0
    tvec, avec = h.Vector(wave.times), h.Vector(wave.values)
    avec.play(source._ref_amp, tvec, 1)
    gid, section_id, x = where
    return Injection(gid, section_id, x, source, "current", (tvec, avec))


def conductance_to_rs(values: np.ndarray) -> np.ndarray:
    """rs = 1/g for G_MIN < g < G_MAX (uS -> MOhm), otherwise an open clamp."""
    values = np.asarray(values, dtype=np.float64)
    inside = (values > G_MIN) & (values < G_MAX)
    rs = np.full(values.shape, OPEN_RS)
    rs[inside] = 1.0 / values[inside]
    return rs


def attach_conductance(
    h: Any,
    segment: Any,
    wave: Waveform,
    reversal: float,
    physical: bool,
    where: tuple[int, int, float],
) -> Injection:
    """SEClamp or SonataConductanceSource driven by the conductance waveform `wave` (uS).

    A (0, 0 uS) point is prepended (the source is open until the waveform starts); dur1
    is the last time, amp1 the reversal potential.
    """
    source = h.SEClamp(segment) if physical else getattr(h, CONDUCTANCE_SOURCE)(segment)
    times = np.concatenate(([0.0], wave.times))
    rs = conductance_to_rs(np.concatenate(([0.0], wave.values)))
    source.dur1 = float(times[-1])
    source.amp1 = float(reversal)
    source.rs = OPEN_RS
    tvec, rvec = h.Vector(times), h.Vector(rs)
    rvec.play(source._ref_rs, tvec, 1)
    gid, section_id, x = where
    return Injection(gid, section_id, x, source, "conductance", (tvec, rvec))


def point_segments(point: Any) -> list[tuple[Any, tuple[int, int, float]]]:
    """(segment, (gid, section id, x)) for every location of a target point."""
    return [
        (point.section(s)(x), (point.gid, s, x))
        for s, x in zip(point.section_ids, point.xs, strict=True)
    ]
