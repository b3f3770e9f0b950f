"""The sampler of one report on one rank: pointers -> float32 frames -> blocks on disk.

Why events and a PtrVector, not one Vector per element: one `cvode.event` per frame reads
every pointer of the report in one C call (`PtrVector.gather`), so memory is one float32
row per buffered frame, summation and LFP sums are computed as the frame is taken, and the
buffer can be moved to disk whenever it fills. An event at time t is delivered with the
state at t (before the step from t), which is what `Vector.record` stores for t.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.report_writer import FilePart, PopulationLayout, ReportPartWriter, TimeAxis
from engine.managers.report_probes import CellProbes
from engine.managers.report_spec import ReportSpec

log = logging.getLogger("sonatasim")


def _layouts(ordered: list[CellProbes]) -> list[PopulationLayout]:
    """Populations by name, nodes ascending (as `ordered` is): this rank's column order."""
    layouts, column = [], 0
    for population in sorted({p.population for p in ordered}):
        cells = [p for p in ordered if p.population == population]
        layout = PopulationLayout(
            name=population,
            node_ids=np.array([p.node_id for p in cells], dtype=np.uint64),
            counts=np.array([len(p.element_ids) for p in cells], dtype=np.int64),
            element_ids=np.array([e for p in cells for e in p.element_ids], dtype=np.uint32),
            column=column,
        )
        column += layout.n_elements
        layouts.append(layout)
    return layouts


def _terms(ordered: list[CellProbes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All cells' sum terms, pointer and element indices shifted to this rank's rows."""
    pointers, elements, weights = [], [], []
    first_pointer = first_element = 0
    for p in ordered:
        if not p.is_sum:
            raise ValueError("a report mixes summed and plain cells")
        pointers.append(p.term_pointers + first_pointer)
        elements.append(p.term_elements + first_element)
        weights.append(p.term_weights)
        first_pointer += len(p.refs)
        first_element += len(p.element_ids)
    return np.concatenate(pointers), np.concatenate(elements), np.concatenate(weights)


class ReportRecorder:
    """Samples one report on this rank and writes its frames to this rank's part file."""

    def __init__(self, spec: ReportSpec, probes: list[CellProbes], h: Any):
        self.spec = spec
        self.h = h
        ordered = sorted(
            (p for p in probes if p.element_ids), key=lambda p: (p.population, p.node_id)
        )
        self.layouts = _layouts(ordered)
        self.n_elements = sum(lay.n_elements for lay in self.layouts)
        refs = [r for p in ordered for r in p.refs]
        self._terms = _terms(ordered) if ordered and ordered[0].is_sum else None
        self._pointers: Any = None
        self._values: Any = None
        self._view = np.zeros(0)
        if refs:
            self._pointers = h.PtrVector(len(refs))
            for i, ref in enumerate(refs):
                self._pointers.pset(i, ref)
            self._values = h.Vector(len(refs))
            self._view = self._values.as_numpy()  # gather() refills this memory in place
        self.axis = TimeAxis(spec.start_time, spec.end_time, spec.dt, spec.n_frames)
        self.buffer = np.zeros((0, self.n_elements), dtype=np.float32)
        self.buffered = 0
        self.frame = 0
        self.writer: ReportPartWriter | None = None
        self.peak_buffered_bytes = 0

    @property
    def active(self) -> bool:
        return self.n_elements > 0

    @property
    def buffered_bytes(self) -> int:
        return self.buffered * self.n_elements * 4

    def open(self, path: Path, capacity_rows: int) -> None:
        """Create this rank's part file and a buffer of `capacity_rows` frames."""
        rows = max(1, min(capacity_rows, max(1, self.spec.n_frames)))
        self.buffer = np.zeros((rows, self.n_elements), dtype=np.float32)
        self.writer = ReportPartWriter(path, self.layouts, self.axis, self.spec.unit)

    def on_init(self) -> None:
        """Called from an FInitializeHandler: (re)start the frame clock at start_time."""
        self.frame = 0
        self.buffered = 0
        if self.active and self.spec.n_frames > 0:
            self.h.cvode.event(self.spec.frame_time(0), self._sample)

    def _sample(self) -> None:
        """One frame (runs once per report dt, so kept short)."""
        self._pointers.gather(self._values)
        if self._terms is None:
            self.buffer[self.buffered] = self._view
        else:
            # bincount adds the terms in order: the same sums on any rank count
            pointers, elements, weights = self._terms
            self.buffer[self.buffered] = np.bincount(
                elements, weights * self._view[pointers], self.n_elements
            )
        self.buffered += 1
        self.frame += 1
        if self.buffered == self.buffer.shape[0]:
            self.write_buffer()  # full: spill now, so memory never exceeds the buffer
        if self.frame < self.spec.n_frames:
            self.h.cvode.event(self.spec.frame_time(self.frame), self._sample)

    def write_buffer(self) -> None:
        self.peak_buffered_bytes = max(self.peak_buffered_bytes, self.buffered_bytes)
        if self.buffered and self.writer is not None:
            self.writer.write(self.buffer[: self.buffered])
        self.buffered = 0

    def close(self) -> FilePart:
        """Write what is left, close the part file and describe it for the assembly."""
        self.write_buffer()
        if self.writer is None:
            return FilePart(None, [])
        self.writer.close()
        if self.writer.rows_written != self.spec.n_frames:
            log.warning(
                "report %s: %d of %d frames were recorded",
                self.spec.name,
                self.writer.rows_written,
                self.spec.n_frames,
            )
        return FilePart(str(self.writer.path), self.layouts)

    @property
    def write_seconds(self) -> float:
        return self.writer.seconds if self.writer is not None else 0.0

    @property
    def blocks(self) -> int:
        return self.writer.blocks if self.writer is not None else 0

    def discard(self) -> None:
        """Close and delete the part file (after an error, or once assembled)."""
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
            self.writer.path.unlink(missing_ok=True)
