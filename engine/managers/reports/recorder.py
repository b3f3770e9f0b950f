"""The sampler of one report on one rank: pointers -> float32 frames -> blocks on disk.

Two samplers, same file bit for bit (tests/test_reports_sampler.py):

* native (default): our artificial cell `SonataReportSampler` (mod/sonatasim_report_sampler.mod)
  holds the report's pointers, resolves them to raw `double*` once per initialisation, and
  at each frame's event writes the row (values, or weighted sums) as float32 straight into
  a ring buffer (a hoc Vector); its own writer thread moves every few MB of rows to the
  part file with pwrite while the run goes on, so Python is not involved until close(). Why:
  reading NEURON 9 data_handles from Python once per frame (`PtrVector.gather`, two
  dependent loads per element), the per-frame Python callback and then the file writes
  themselves were most of a report's run-time cost (benchmarks/README.md, issue 6).
* python (synapse reports, `SONATASIM_REPORT_SAMPLER=python`, or when the mechanism is not
  loaded; see `sampler_kind`): one
  `cvode.event` per frame reads every pointer in one C call (`PtrVector.gather`) and copies
  the row (or its sums, with np.bincount) into the buffer.

Either way memory is one float32 row per buffered frame, the buffer is filled at open time
(no page faults while running), and an event at time t is delivered with the state at t
(before the step from t), which is what `Vector.record` stores for t.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine import events
from engine.errors import ConfigError
from engine.io.report_writer import (
    FilePart,
    PopulationLayout,
    ReportPartWriter,
    TimeAxis,
    write_failed,
)
from engine.managers.reports.probes import CellProbes
from engine.managers.reports.spec import ReportSpec

log = logging.getLogger("sonatasim")

SAMPLER_ENV = "SONATASIM_REPORT_SAMPLER"  # "native" (default) or "python"
NATIVE_SAMPLER = "SonataReportSampler"
_ADD_CHUNK = 64  # pointers per SonataReportSampler.add call
# Bytes per background write: small enough that little is left to write when the run
# ends (that wait is not overlapped), large enough that syscalls do not matter.
WRITE_CHUNK_BYTES = 8 * 1024 * 1024
# The native sampler's ring holds at most this much (within the budget): as the thread
# writes all along, the ring only has to bridge file-system stalls (16 writes; ~8 s of
# frames of every compartment of 200 detailed cells), not hold the whole budget.
NATIVE_RING_BYTES = 128 * 1024 * 1024


def sampler_kind(spec: ReportSpec, h: Any) -> str:
    """Which sampler records `spec`: "native" when our mechanism is loaded, except for
    synapse reports (and unless SONATASIM_REPORT_SAMPLER=python).

    Why not synapse reports: their variables (g, ...) change when events are delivered,
    and a frame's value then depends on where in a step's event delivery it is read. The
    Python sampler's frame is a `cvode.event` callback, which NEURON runs after the other
    queued events up to the frame's time (but before NetCon deliveries of nearby smaller
    times in the same step); the native sampler's self-event is delivered in plain time
    order. Both read the same values of anything only integration changes (v, currents,
    i_membrane, gating variables), so compartment, summation and LFP reports are identical.
    """
    wanted = os.environ.get(SAMPLER_ENV, "native").strip().lower() or "native"
    if wanted not in ("native", "python"):
        raise ConfigError(f"{SAMPLER_ENV} must be 'native' or 'python', not {wanted!r}")
    if wanted == "native" and spec.type != "synapse" and hasattr(h, NATIVE_SAMPLER):
        return "native"
    return "python"


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

    def __init__(self, spec: ReportSpec, probes: list[CellProbes], h: Any, kind: str | None = None):
        self.spec = spec
        self.h = h
        ordered = sorted(
            (p for p in probes if p.element_ids), key=lambda p: (p.population, p.node_id)
        )
        self.layouts = _layouts(ordered)
        self.n_elements = sum(lay.n_elements for lay in self.layouts)
        refs = [r for p in ordered for r in p.refs]
        self.refs = refs
        self._terms = _terms(ordered) if ordered and ordered[0].is_sum else None
        self.kind = kind or sampler_kind(spec, h)
        self._pointers: Any = None
        self._values: Any = None
        self._view = np.zeros(0)
        self._native: Any = None
        self._netcon: Any = None
        self._store: Any = None  # hoc Vector whose memory is the native sampler's buffer
        self._attached = False  # the native sampler's writer thread has the part file
        if self.n_elements and self.kind == "native":
            self._native = self._native_sampler(h, refs)
        elif refs and self.kind == "python":
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
        self.background_seconds = 0.0  # native: seconds its writer thread spent writing

    def _native_sampler(self, h: Any, refs: list[Any]) -> Any:
        sampler = getattr(h, NATIVE_SAMPLER)()
        for start in range(0, len(refs), _ADD_CHUNK):
            sampler.add(*refs[start : start + _ADD_CHUNK])
        if self._terms is not None:
            pointers, elements, weights = self._terms
            sampler.terms(
                h.Vector(pointers.astype(np.float64)),
                h.Vector(elements.astype(np.float64)),
                h.Vector(weights),
                self.n_elements,
            )
        if int(sampler.width()) != self.n_elements:
            raise RuntimeError(f"report {self.spec.name}: the sampler has the wrong width")
        sampler.first_step = self.spec.first_step
        sampler.stride = self.spec.stride
        sampler.sim_dt = self.spec.sim_dt
        sampler.n_frames = self.spec.n_frames
        self._netcon = h.NetCon(None, sampler)  # starts the frame clock at each init
        return sampler

    @property
    def active(self) -> bool:
        return self.n_elements > 0

    @property
    def buffered_bytes(self) -> int:
        return self._buffered_rows() * self.n_elements * 4

    def _buffered_rows(self) -> int:
        if self._native is not None:
            return int(self._native.filled())
        return self.buffered

    def open(self, path: Path, capacity_rows: int) -> None:
        """Create this rank's part file and a buffer of `capacity_rows` frames.

        The buffer's pages are written now (a hoc Vector, or np.empty filled), so no frame
        of the run pays first-touch page faults. The native sampler's writer thread takes
        WRITE_CHUNK_BYTES (at most half the ring) at a time while the run fills the rest.
        """
        n_frames = max(1, self.spec.n_frames)
        rows = max(1, min(capacity_rows, n_frames))
        self.writer = ReportPartWriter(path, self.layouts, self.axis, self.spec.unit)
        if self._native is not None:
            rows = min(rows, max(1, NATIVE_RING_BYTES // (4 * self.n_elements)))
            if rows < n_frames:
                rows = max(2, rows)  # the thread writes some rows while the run fills others
            n_values = rows * self.n_elements
            self._store = self.h.Vector((n_values + 1) // 2)  # zero-filled: pages touched
            flat = np.asarray(self._store.as_numpy()).view(np.float32)
            self.buffer = flat[:n_values].reshape(rows, self.n_elements)
            self._native.buffer(self._store, rows)
            ring_part = rows if rows >= n_frames else rows // 2  # the ring never wraps
            chunk = max(1, min(ring_part, WRITE_CHUNK_BYTES // (4 * self.n_elements)))
            self._native.attach(self.writer.fd, self.h.Vector(self.writer.plan()), chunk)
            self._attached = True
        else:
            self.buffer = np.empty((rows, self.n_elements), dtype=np.float32)
            self.buffer.fill(0.0)

    def on_init(self) -> None:
        """Called from an FInitializeHandler: (re)start the frame clock at start_time."""
        self.frame = 0
        self.buffered = 0
        if not (self.active and self.spec.n_frames > 0):
            return
        # Named events (engine.events): a restored checkpoint's queue still reaches them.
        events.register(f"report.{self.spec.name}.sample", self._sample)
        events.register(f"report.{self.spec.name}.start", self._start)
        first = self.spec.frame_time(0)
        if self.h.t > 0 and first < self.h.t + 0.5 * self.spec.sim_dt:
            # a restored run (after finitialize t is 0): frame 0 is now, and an event for
            # now would never be delivered
            self._sample() if self._native is None else self._start()
            return
        if self._native is None:
            events.at(self.h, first, f"report.{self.spec.name}.sample")
            return
        # Frame 0 through a Python event, as the python sampler does: a NetCon event queued
        # now would be delivered inside finitialize, before its last fcurrent (gna, ina and
        # i_membrane_ would still hold the values of before the initialisation).
        events.at(self.h, first, f"report.{self.spec.name}.start")

    def _start(self) -> None:
        """Native, at frame 0's time: hand the clock to the sampler (frame 0 is taken now)."""
        self._netcon.event(self.h.t)

    def _sample(self) -> None:
        """One frame (runs once per report dt, so kept short)."""
        if self.frame >= self.spec.n_frames or (
            abs(self.h.t - self.spec.frame_time(self.frame)) >= 0.5 * self.spec.sim_dt
        ):
            return  # not this frame's event: a restored checkpoint's stale one
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
            events.at(self.h, self.spec.frame_time(self.frame), f"report.{self.spec.name}.sample")

    def write_buffer(self) -> None:
        """Python sampler: move the buffered frames to disk (the native one writes itself)."""
        if self._native is not None:
            return
        block_bytes = self.buffered * self.n_elements * 4
        self.peak_buffered_bytes = max(self.peak_buffered_bytes, block_bytes)
        if self.buffered and self.writer is not None:
            self.writer.write(self.buffer[: self.buffered])
        self.buffered = 0

    def _detach_native(self) -> None:
        """Native: wait for the writer thread's last block, stop it, take its statistics."""
        if not self._attached:
            return
        self._attached = False
        error = int(self._native.detach())
        assert self.writer is not None
        self.writer.seconds += float(self._native.writer_stat(1))  # what the run waited
        self.background_seconds = float(self._native.writer_stat(0))
        self.writer.blocks = int(self._native.writer_stat(2))
        self.peak_buffered_bytes = int(self._native.writer_stat(3)) * self.n_elements * 4
        self.writer.rows_written = int(self._native.frames() - self._native.lost())
        if error:
            raise write_failed(self.writer.path, error)

    def close(self) -> FilePart:
        """Write what is left, close the part file and describe it for the assembly."""
        self.write_buffer()
        self._detach_native()
        if self._native is not None and self._native.lost() > 0:
            log.warning(
                "report %s: %d frame(s) found the buffer full and were dropped",
                self.spec.name,
                int(self._native.lost()),
            )
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
        """Seconds the run spent on this report's writes (not the overlapped ones)."""
        return self.writer.seconds if self.writer is not None else 0.0

    @property
    def blocks(self) -> int:
        return self.writer.blocks if self.writer is not None else 0

    def discard(self) -> None:
        """Close and delete the part file (after an error, or once assembled)."""
        if self._attached:
            self._attached = False
            with contextlib.suppress(Exception):
                self._native.detach()
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
            self.writer.path.unlink(missing_ok=True)
