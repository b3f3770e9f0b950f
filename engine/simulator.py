"""The one simulator handle: NEURON, its ParallelContext and this process' MPI rank.

NEURON must learn about MPI before `neuron` is imported, so everything that touches `h`
goes through `Simulator.start()`, called once per process by the CLI (or a test).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MPI_ENV_MARKERS = (
    "PMI_RANK",
    "PMI_SIZE",
    "PMIX_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "MPI_LOCALNRANKS",
    "HYDRA_CONTROL_FD",
    "SLURM_STEP_NUM_TASKS",
)


def launched_under_mpi() -> bool:
    """True when an MPI launcher (mpiexec, srun) started this process."""
    if os.environ.get("SONATASIM_NO_MPI"):
        return False
    if os.environ.get("SLURM_STEP_NUM_TASKS") and "PMI_RANK" not in os.environ:
        # srun without an MPI PMI: treat as MPI only when several tasks were asked for.
        return int(os.environ.get("SLURM_STEP_NUM_TASKS", "1")) > 1
    return any(k in os.environ for k in _MPI_ENV_MARKERS if k != "SLURM_STEP_NUM_TASKS")


def venv_mpi_library() -> Path | None:
    """The MPI shared library that the PyPI `mpich` wheel installs next to Python."""
    candidate = Path(sys.prefix) / "lib" / "libmpi.so.12"
    return candidate if candidate.exists() else None


def venv_mpiexec() -> Path | None:
    candidate = Path(sys.prefix) / "bin" / "mpiexec"
    return candidate if candidate.exists() else None


def prepare_mpi_environment() -> None:
    """Point NEURON at the wheel's libmpi unless the user chose one (must precede import)."""
    if "MPI_LIB_NRN_PATH" not in os.environ:
        lib = venv_mpi_library()
        if lib is not None:
            os.environ["MPI_LIB_NRN_PATH"] = str(lib)


@dataclass
class Simulator:
    """NEURON's `h`, the ParallelContext and rank facts; created once by `start()`."""

    h: Any
    pc: Any
    rank: int
    nranks: int
    mpi: bool

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.nranks > 1:
            self.pc.barrier()

    def broadcast(self, obj: Any, root: int = 0) -> Any:
        """Python object broadcast; a no-op on one rank."""
        if self.nranks == 1:
            return obj
        return self.pc.py_broadcast(obj, root)

    def gather(self, obj: Any, root: int = 0) -> list[Any] | None:
        if self.nranks == 1:
            return [obj]
        return self.pc.py_gather(obj, root)

    def allgather(self, obj: Any) -> list[Any]:
        if self.nranks == 1:
            return [obj]
        return list(self.pc.py_allgather(obj))

    def allreduce_max(self, value: float) -> float:
        if self.nranks == 1:
            return value
        return self.pc.allreduce(value, 2)

    def allreduce_sum(self, value: float) -> float:
        if self.nranks == 1:
            return value
        return self.pc.allreduce(value, 1)

    def abort(self, code: int = 1) -> None:
        """Stop every rank now; used after an error so no rank waits forever."""
        if self.mpi and self.nranks > 1:
            sys.stdout.flush()
            sys.stderr.flush()
            from mpi4py import MPI

            MPI.COMM_WORLD.Abort(code)
        raise SystemExit(code)


_handle: Simulator | None = None


def start(use_mpi: bool | None = None) -> Simulator:
    """Import NEURON (with MPI when launched by mpiexec) and return the process-wide handle."""
    global _handle
    if _handle is not None:
        return _handle
    if use_mpi is None:
        use_mpi = launched_under_mpi()
    if use_mpi:
        prepare_mpi_environment()
        from mpi4py import MPI  # noqa: F401  (initialises MPI before NEURON looks for it)
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    from neuron import h

    if use_mpi:
        h.nrnmpi_init()
    pc = h.ParallelContext()
    h.load_file("stdrun.hoc")
    _handle = Simulator(h=h, pc=pc, rank=int(pc.id()), nranks=int(pc.nhost()), mpi=use_mpi)
    return _handle


def current() -> Simulator:
    """The handle created by `start()`; starting it if nobody did (tests, library use)."""
    return _handle if _handle is not None else start()
