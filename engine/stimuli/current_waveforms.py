"""Deterministic current waveforms: linear, relative_linear, pulse, sinusoidal,
subthreshold and hyperpolarizing (compat doc, section 6).

Each block becomes one current source per target point, amp played with interpolation
from a waveform built exactly as neurodamus builds it, so the traces agree point for point.
"""

from __future__ import annotations

from engine.stimuli.base import HOLDING, THRESHOLD, Stimulus
from engine.stimuli.registry import register
from engine.stimuli.sources import (
    SignalBuilder,
    Waveform,
    attach_current,
    point_segments,
    time_grid,
)


class CurrentWaveform(Stimulus):
    """One waveform per cell (`waveform_for`), injected at every point of the cell."""

    def check(self) -> bool:
        """Validate parameters; False makes the block a no-op (as in neurodamus)."""
        return True

    def prepare(self, points: list) -> None:
        """Read per-cell values before building (bulk reads)."""

    def waveform_for(self, gid: int) -> Waveform:
        raise NotImplementedError

    def build(self) -> None:
        self.non_negative("duration")
        self.non_negative("delay")
        if not self.check():
            return
        points = self.target_points()
        self.prepare(points)
        h = self.h
        for point in points:
            segments = point_segments(point)
            if not segments:
                continue
            wave = self.waveform_for(point.gid)
            for segment, where in segments:
                self.injections.append(attach_current(h, segment, wave, self.physical, where))

    def ramp(self, start: float, end: float) -> Waveform:
        builder = SignalBuilder(0.0, self.delay)
        return builder.ramp(start, end, self.duration).waveform()


@register("linear")
class Linear(CurrentWaveform):
    """Ramp amp_start -> amp_end (nA) over [delay, delay + duration]."""

    def check(self) -> bool:
        self.start = self.finite("amp_start")
        self.end = self.finite("amp_end")
        return self.start != 0 or self.end != 0

    def waveform_for(self, gid: int) -> Waveform:
        return self.ramp(self.start, self.end)


@register("relative_linear")
class RelativeLinear(CurrentWaveform):
    """Ramp between percentages of each cell's threshold current."""

    def check(self) -> bool:
        self.percent_start = self.finite("percent_start")
        self.percent_end = self.finite("percent_end")
        return self.percent_start != 0 or self.percent_end != 0

    def prepare(self, points: list) -> None:
        self.threshold = self.cell_values(points, THRESHOLD, required=True)

    def waveform_for(self, gid: int) -> Waveform:
        threshold = self.threshold[gid]
        return self.ramp(
            threshold * (self.percent_start / 100), threshold * (self.percent_end / 100)
        )


@register("subthreshold")
class SubThreshold(CurrentWaveform):
    """Constant threshold x (100 - percent_less) / 100."""

    def check(self) -> bool:
        self.percent_less = self.finite("percent_less")
        return True

    def prepare(self, points: list) -> None:
        self.threshold = self.cell_values(points, THRESHOLD, required=True)

    def waveform_for(self, gid: int) -> Waveform:
        amp = self.threshold[gid] * (100 - self.percent_less) / 100
        return self.ramp(amp, amp)


@register("hyperpolarizing")
class Hyperpolarizing(CurrentWaveform):
    """Constant holding current of each cell (0 with a warning when the nodes lack it)."""

    def prepare(self, points: list) -> None:
        self.holding = self.cell_values(points, HOLDING, required=False, default=0.0)

    def waveform_for(self, gid: int) -> Waveform:
        amp = self.holding[gid]
        return self.ramp(amp, amp)


@register("pulse")
class Pulse(CurrentWaveform):
    """A train of amp_start pulses, `width` ms long, at `frequency` Hz."""

    def check(self) -> bool:
        self.amp = self.finite("amp_start")
        self.frequency = self.non_negative("frequency")
        self.width = self.non_negative("width")
        if self.frequency == 0 or self.width == 0:
            return False
        period = 1000.0 / self.frequency
        self.require(
            self.width <= period,
            f"width {self.width:g} ms is longer than the pulse period {period:g} ms"
            f" ({self.frequency:g} Hz)",
            "width",
        )
        return True

    def waveform_for(self, gid: int) -> Waveform:
        if not hasattr(self, "_wave"):
            builder = SignalBuilder(0.0, self.delay)
            builder.train(self.amp, self.frequency, self.width, self.duration)
            self._wave = builder.waveform()
        return self._wave


@register("sinusoidal")
class Sinusoidal(CurrentWaveform):
    """amp_start x sin(2 pi f t) sampled every `dt` ms from the delay, then back to 0."""

    def check(self) -> bool:
        self.amp = self.finite("amp_start")
        self.frequency = self.non_negative("frequency")
        self.step = self.positive("dt")
        return self.frequency > 0

    def waveform_for(self, gid: int) -> Waveform:
        if not hasattr(self, "_wave"):
            h = self.h
            builder = SignalBuilder(0.0, self.delay)
            times = time_grid(h, builder.t, builder.t + self.duration, self.step)
            values = h.Vector(times.size).sin(self.frequency, 0.0, self.step).mul(self.amp)
            builder.samples(times, list(values), self.duration).point(0.0)
            self._wave = builder.waveform()
        return self._wave
