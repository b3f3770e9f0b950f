"""ReportManager: SONATA reports (compartment, summation, synapse, lfp) written with h5py.

Hooks called by the Simulation: `create()` before initialisation, `flush()` between
integration chunks, `finalize()` after the run, `summary_lines()` for the run summary.

Memory stays bounded: each rank buffers float32 frames up to its budget
(`SONATASIM_REPORT_BUFFER_MB`, default 256 MB per rank, shared by all reports) and moves
them to its own part file; finalize() has rank 0 assemble one file per report (or, on one
rank, renames the part), so a report file appears only once it is complete.
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.io.atomic import temporary_name
from engine.io.report_writer import FilePart, assemble_report
from engine.managers.reports import variables as report_variables
from engine.managers.reports.ecp import EcpReports
from engine.managers.reports.probes import build_probes
from engine.managers.reports.recorder import ReportRecorder
from engine.managers.reports.spec import ReportSpec, parse_reports

log = logging.getLogger("sonatasim")

BUFFER_ENV = "SONATASIM_REPORT_BUFFER_MB"
DEFAULT_BUFFER_MB = 256.0


def buffer_limit_bytes() -> int:
    """Per-rank budget for buffered frames, from SONATASIM_REPORT_BUFFER_MB (MB, float)."""
    text = os.environ.get(BUFFER_ENV, "")
    try:
        megabytes = float(text) if text else DEFAULT_BUFFER_MB
    except ValueError:
        raise ConfigError(f"{BUFFER_ENV} must be a number of MB, not {text!r}") from None
    if megabytes <= 0:
        raise ConfigError(f"{BUFFER_ENV} must be positive, not {text!r}")
    return max(1, int(megabytes * 1024 * 1024))


@dataclass
class ReportStats:
    """What the run summary says about one written report (rank 0)."""

    name: str
    path: Path
    elements: int
    nodes: int
    size_bytes: int
    write_seconds: float
    blocks: int
    peak_buffer_bytes: int
    background_seconds: float  # writes done by the native writer thread during the run


class ReportManager:
    def __init__(self, sim: Any, circuit: Any, setup: Any, coreneuron: bool = False):
        self.sim = sim
        self.coreneuron = coreneuron  # recorded through Vector.record (engine/coreneuron)
        self.circuit = circuit
        self.setup = setup
        self.recorders: list[ReportRecorder] = []
        self.stats: list[ReportStats] = []
        self.limit = 0  # bytes, set by create()
        self._init_handler: Any = None
        self._finished = False
        self.ecp = EcpReports(sim, circuit, setup)

    def create(self) -> None:
        """Parse the reports, find their pointers on local cells, open the part files."""
        self.ecp.create()
        if self.ecp.recorders:
            atexit.register(self._discard_parts)
        specs = parse_reports(self.setup)
        if not specs:
            return
        self.limit = buffer_limit_bytes()
        h = self.sim.h
        if any(_needs_fast_imem(s) for s in specs):
            h.cvode.use_fast_imem(1)
        built = []
        for spec in specs:
            matched: set[str] = set()
            probes = build_probes(spec, self.circuit, matched)
            built.append((spec, self._recorder(spec, probes), matched))
        kept = self._check_globally(built)
        self.recorders = [r for _, r, _ in built if r.spec.name in kept]
        total = sum(r.n_elements for r in self.recorders)
        rows = max(1, self.limit // max(1, 4 * total))
        for recorder in self.recorders:
            if recorder.active:
                recorder.open(self._part_path(recorder.spec), rows)
        atexit.register(self._discard_parts)
        self._init_handler = h.FInitializeHandler(1, self._on_init)

    def _recorder(self, spec: ReportSpec, probes: list[Any]) -> ReportRecorder:
        if self.coreneuron:
            from engine.managers.reports.coreneuron import CoreNeuronRecorder

            return CoreNeuronRecorder(spec, probes, self.sim.h)
        return ReportRecorder(spec, probes, self.sim.h)

    def max_chunk_ms(self) -> float | None:
        """CoreNEURON: the longest psolve whose every-step records fit the budget."""
        from engine.managers.reports.coreneuron import max_chunk_steps

        steps = max_chunk_steps(self.recorders, self.limit)  # type: ignore[arg-type]
        return None if steps is None else steps * float(self.sim.h.dt)

    def _check_globally(self, built: list[tuple[ReportSpec, ReportRecorder, set[str]]]) -> set[str]:
        """Same decision on every rank: unknown variables, reports with no element.

        Returns the names of the reports to write.
        """
        local = [(r.n_elements, sorted(m)) for _, r, m in built]
        everyone = self.sim.allgather(local)
        kept: set[str] = set()
        for index, (spec, _, _) in enumerate(built):
            elements = sum(part[index][0] for part in everyone)
            matched = set().union(*(part[index][1] for part in everyone))
            unknown = [v for v in spec.variables if v.text not in matched]
            if unknown and spec.type == "summation":
                reasons = [report_variables.unmatched_reason(self.sim.h, v) for v in unknown]
                raise spec.error("; ".join(reasons), "variable_name")
            if elements == 0:
                if self.sim.is_root:
                    log.warning("report %s records nothing (no element); not written", spec.name)
                continue
            kept.add(spec.name)
        return kept

    def _part_path(self, spec: ReportSpec) -> Path:
        if self.sim.nranks == 1:
            return temporary_name(spec.path)
        return spec.path.with_name(f"{spec.path.name}.rank{self.sim.rank}.tmp-{os.getpid()}")

    def _on_init(self) -> None:
        for recorder in self.recorders:
            recorder.on_init()

    def rearm(self) -> None:
        """After a restore replaced the event queue: start the frame clocks again."""
        self._on_init()
        if self.coreneuron:
            for recorder in self.recorders:
                recorder.on_restore()

    def flush(self) -> None:
        """Between psolve chunks: move buffered frames to disk once half the budget is used
        (CoreNEURON: always, the record vectors hold the chunk's every step)."""
        if self.coreneuron:
            for recorder in self.recorders:
                recorder.write_buffer()
            return
        if sum(r.buffered_bytes for r in self.recorders) * 2 >= self.limit:
            for recorder in self.recorders:
                recorder.write_buffer()

    def finalize(self) -> None:
        """Complete and rename every report file (collective)."""
        self.ecp.finalize()
        if not self.recorders:
            return
        parts = [r.close() for r in self.recorders]
        local = [
            (p, r.write_seconds, r.blocks, r.peak_buffered_bytes, r.background_seconds)
            for p, r in zip(parts, self.recorders, strict=True)
        ]
        gathered = self.sim.gather(local, 0)
        if self.sim.is_root:
            assert gathered is not None
            for index, recorder in enumerate(self.recorders):
                self.stats.append(self._complete(recorder, [g[index] for g in gathered]))
        self.sim.barrier()
        self._finished = True
        for recorder in self.recorders:
            if self.sim.nranks > 1:
                recorder.discard()

    def _complete(
        self, recorder: ReportRecorder, parts: list[tuple[FilePart, float, int, int, float]]
    ) -> ReportStats:
        """Rank 0: turn the parts into the final file and describe it."""
        spec = recorder.spec
        started = time.perf_counter()
        files = [p[0] for p in parts]
        if self.sim.nranks == 1:
            os.replace(files[0].path, spec.path)
        else:
            assemble_report(spec.path, files, recorder.axis, spec.unit, self.limit)
        seconds = time.perf_counter() - started + max(p[1] for p in parts)
        nodes = sum(int(lay.node_ids.size) for f in files for lay in f.layouts)
        elements = sum(lay.n_elements for f in files for lay in f.layouts)
        return ReportStats(
            name=spec.name,
            path=spec.path,
            elements=elements,
            nodes=nodes,
            size_bytes=spec.path.stat().st_size,
            write_seconds=seconds,
            blocks=max(p[2] for p in parts),
            peak_buffer_bytes=max(p[3] for p in parts),
            background_seconds=max(p[4] for p in parts),
        )

    def _discard_parts(self) -> None:
        """At exit after a failure: leave no part file behind (the final name never exists)."""
        if not self._finished:
            self.ecp.discard()
            for recorder in self.recorders:
                recorder.discard()

    def summary_lines(self) -> list[str]:
        lines = []
        for s in self.stats:
            lines.append(
                f"  report {s.name:<9} {s.path} ({s.nodes} nodes, {s.elements} elements,"
                f" {s.size_bytes / 1e6:.2f} MB; written in {s.blocks} block(s) of at most"
                f" {s.peak_buffer_bytes} bytes per rank, {s.write_seconds:.2f} s"
                + (
                    f"; {s.background_seconds:.2f} s more by the writer thread during the run)"
                    if s.background_seconds
                    else ")"
                )
            )
        return lines


def _needs_fast_imem(spec: ReportSpec) -> bool:
    return spec.type == "lfp" or any(
        v.name == "i_membrane" and not v.mechanism for v in spec.variables
    )
