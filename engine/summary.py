"""Phase timers and peak memory, summarised over all ranks at the end of a run."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """This process' peak resident memory in MB.

    Linux's VmHWM: getrusage's ru_maxrss survives fork + exec, so a run started from a big
    process (a notebook, a test runner) would report its parent's peak instead.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class PhaseTimer:
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start

    def total(self, names: list[str]) -> float:
        return sum(self.phases.get(n, 0.0) for n in names)


@dataclass
class RunSummary:
    ranks: int
    cells: int
    synapses: int
    spikes: int
    phases: dict[str, float]
    peak_memory_mb_max: float
    peak_memory_mb_total: float
    spikes_file: str

    def lines(self) -> list[str]:
        later = ("run", "write", "save")
        setup = sum(v for k, v in self.phases.items() if k not in later)
        out = [
            "Summary",
            f"  ranks            {self.ranks}",
            f"  cells            {self.cells}",
            f"  synapses         {self.synapses}",
            f"  spikes           {self.spikes}",
            f"  setup time       {setup:.2f} s ("
            + ", ".join(f"{k} {v:.2f}" for k, v in self.phases.items() if k not in later)
            + ")",
            f"  run time         {self.phases.get('run', 0.0):.2f} s",
            f"  write time       {self.phases.get('write', 0.0):.2f} s",
            *(
                [f"  checkpoint time  {self.phases['save']:.2f} s (part of the run time)"]
                if "save" in self.phases
                else []
            ),
            f"  peak memory      {self.peak_memory_mb_max:.0f} MB per rank (max),"
            f" {self.peak_memory_mb_total:.0f} MB total",
            f"  spikes written   {self.spikes_file}",
        ]
        return out


def summarise(sim: Any, timer: PhaseTimer, cells: int, synapses: int, spikes: int, path: str):
    """Collective: every rank must call it; returns the summary on rank 0, None elsewhere."""
    parts = sim.gather((cells, synapses, peak_rss_mb(), dict(timer.phases)), 0)
    if parts is None:
        return None
    phases: dict[str, float] = {}
    for part in parts:
        for name, seconds in part[3].items():
            phases[name] = max(phases.get(name, 0.0), seconds)
    return RunSummary(
        ranks=sim.nranks,
        cells=sum(p[0] for p in parts),
        synapses=sum(p[1] for p in parts),
        spikes=spikes,
        phases=phases,
        peak_memory_mb_max=max(p[2] for p in parts),
        peak_memory_mb_total=sum(p[2] for p in parts),
        spikes_file=path,
    )
