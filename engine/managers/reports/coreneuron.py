"""Reports of a CoreNEURON run: `Vector.record` every step, frames picked between chunks.

Why this route: CoreNEURON runs compiled kernels on its own copy of the model, so neither
our compiled sampler (raw pointers into NEURON's memory) nor Python events can run during
a psolve. What CoreNEURON does fill, in direct mode, is NEURON's `Vector.record` of any
range variable (v, currents, i_membrane_, point-process variables), one value per time
step (a record with Dt or a time vector records nothing there). So each report pointer
records every step; after each psolve chunk the report's frames (steps first_step +
i * stride) are taken from the vectors, reduced with the report's terms exactly as the
NEURON samplers do (np.bincount in term order), written as float32 rows to the same part
file, and the vectors are emptied. The chunk length bounds the memory: 8 bytes per pointer
per step (`max_chunk_steps`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.io.report_writer import ReportPartWriter
from engine.managers.reports.recorder import ReportRecorder

KIND = "coreneuron"


class CoreNeuronRecorder(ReportRecorder):
    """One report on this rank, fed by CoreNEURON through NEURON's record vectors."""

    def __init__(self, spec: Any, probes: list[Any], h: Any):
        super().__init__(spec, probes, h, kind=KIND)
        self._vectors: list[Any] = []
        self._first_step = 0  # global step index of the vectors' first sample

    @property
    def n_pointers(self) -> int:
        return len(self.refs)

    def open(self, path: Path, capacity_rows: int) -> None:
        """Create the part file and one every-step record vector per pointer."""
        self.writer = ReportPartWriter(path, self.layouts, self.axis, self.spec.unit)
        h = self.h
        self._vectors = []
        for ref in self.refs:
            vector = h.Vector()
            vector.record(ref)
            self._vectors.append(vector)

    @property
    def buffered_bytes(self) -> int:
        return 0  # collect() runs after every chunk; nothing waits for flush()

    def on_init(self) -> None:
        """finitialize restarted the record vectors: their sample 0 is step round(t/dt)."""
        self.frame = 0
        self._first_step = round(self.h.t / self.spec.sim_dt)

    def on_restore(self) -> None:
        """After a checkpoint restore: sample 0 is still finitialize's (t = 0) value; the
        checkpoint time's value replaces it, as a run that went through that time holds."""
        for vector, ref in zip(self._vectors, self.refs, strict=True):
            vector.resize(0)
            vector.append(ref[0])

    def collect(self) -> None:
        """After a psolve chunk: write the frames the vectors now hold, empty them."""
        if not self._vectors or self.writer is None:
            return
        samples = int(self._vectors[0].size())
        if samples == 0:
            return
        spec = self.spec
        last_step = self._first_step + samples - 1
        frames = []
        while self.frame < spec.n_frames:
            step = spec.first_step + self.frame * spec.stride
            if step > last_step:
                break
            if step >= self._first_step:
                frames.append(step - self._first_step)
            self.frame += 1
        if frames:
            columns = np.asarray(frames, dtype=np.int64)
            values = np.empty((len(self._vectors), columns.size), dtype=np.float64)
            for row, vector in enumerate(self._vectors):
                values[row] = vector.as_numpy()[columns]
            self._write_frames(values)
        # keep the last sample's step: the next chunk's first sample is the step after it
        self._first_step = last_step + 1
        for vector in self._vectors:
            vector.resize(0)

    def _write_frames(self, values: np.ndarray) -> None:
        """values[pointer, frame] -> float32 rows, summed in term order for sum reports."""
        if self._terms is None:
            block = values.T.astype(np.float32)
        else:
            pointers, elements, weights = self._terms
            block = np.empty((values.shape[1], self.n_elements), dtype=np.float32)
            for frame in range(values.shape[1]):
                block[frame] = np.bincount(
                    elements, weights * values[pointers, frame], self.n_elements
                )
        self.peak_buffered_bytes = max(self.peak_buffered_bytes, block.nbytes)
        assert self.writer is not None
        self.writer.write(block)

    def write_buffer(self) -> None:
        self.collect()

    def close(self) -> Any:
        self.collect()
        self._vectors = []
        return super().close()


def max_chunk_steps(recorders: list[CoreNeuronRecorder], budget_bytes: int) -> int | None:
    """Steps per psolve chunk so that every-step records stay within the budget."""
    pointers = sum(r.n_pointers for r in recorders if r.active)
    if pointers == 0:
        return None
    return max(1, budget_bytes // (8 * pointers))
