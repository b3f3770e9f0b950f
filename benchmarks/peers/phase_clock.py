"""CPU time, wall time and peak RSS per phase of one process (bench_cells_neurodamus.py).

Standard library only: the neurodamus driver (its own venv), the sonatasim driver and the
plain-NEURON baseline all import it. Each rank writes
`$BENCH_TIMING_DIR/timing_rank<R>.json` after every phase (so a run that ends through
hoc's quit() or os._exit still leaves its figures): per phase the CPU seconds
(time.process_time, every thread of the process), wall seconds and the peak RSS when the
phase ended (getrusage ru_maxrss), plus `setup_cpu` / `setup_wall` / `setup_peak_rss_mb`:
the whole process from exec (imports and MPI start included) to the end of the set-up.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

STARTED = time.perf_counter()  # import time: close to exec for the drivers, which import it first


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rank() -> int:
    """The MPI rank from mpich's (or Open MPI's, Slurm's) environment, without MPI calls."""
    for key in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


class PhaseClock:
    """`with clock.phase("cells"):` accumulates that phase; a phase nested in itself (a
    wrapped method calling its wrapped base) counts once."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}
        self.marks: dict[str, float] = {}
        self._active: set[str] = set()
        self.folder = Path(os.environ.get("BENCH_TIMING_DIR", "."))

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name in self._active:
            yield
            return
        self._active.add(name)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self._active.discard(name)
            entry = self.phases.setdefault(name, {"cpu": 0.0, "wall": 0.0})
            entry["cpu"] += time.process_time() - cpu
            entry["wall"] += time.perf_counter() - wall
            entry["peak_rss_mb"] = peak_rss_mb()
            self.write()

    def mark_setup(self) -> None:
        """The set-up ends here (before the run): whole-process CPU, wall and peak RSS."""
        self.marks = {
            "setup_cpu": process_cpu(),
            "setup_wall": time.perf_counter() - STARTED,
            "setup_peak_rss_mb": peak_rss_mb(),
        }
        self.write()

    def wrap(self, owner: type, attr: str, name: str, *, setup_end: bool = False) -> None:
        """Time every call of owner.attr as phase `name` (setup_end: mark the set-up after)."""
        original: Callable = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            with self.phase(name):
                result = original(*args, **kwargs)
            if setup_end:
                self.mark_setup()
            return result

        setattr(owner, attr, timed)

    def write(self) -> None:
        data = {
            "rank": rank(),
            "phases": self.phases,
            **self.marks,
            "process_cpu": process_cpu(),
            "process_wall": time.perf_counter() - STARTED,
            "peak_rss_mb": peak_rss_mb(),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"timing_rank{rank()}.json"
        temporary = path.with_suffix(f".tmp-{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=1))
        temporary.replace(path)
