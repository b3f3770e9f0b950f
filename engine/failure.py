"""Why a run stopped: said once, naming the cell, never as exit code 0, no rank left hanging.

Each rank keeps a note of what it is doing now (`doing`): "cell cortex node 3 (template
BallStickHH)" while a cell is built, "simulating t = 25..50 ms" during the run. Three
routes use it, because a cell's hoc or compiled code can end the process in ways Python
never sees as an exception:

- a Python exception (a hoc error is a RuntimeError) reaches the CLI, which calls `fail`:
  one line, printed by rank 0 when every rank hits it, then every rank stops;
- hoc's `quit()` (BBP templates call it on an unsupported morphology) ends in C `exit(0)`
  after finalizing Python: the atexit check below sees that the run was still armed, says
  which cell called it and exits non-zero (on N ranks through MPI_Abort, so no rank waits
  in a collective; NEURON's own MPI_Finalize in quit() would block, so it is switched off
  while hoc code of a cell runs);
- a crash in compiled code (SIGSEGV, SIGBUS, SIGFPE, SIGABRT): the C handler of our
  `SonataCrashGuard` mechanism prints the same note and re-raises the signal; mpiexec
  then stops the other ranks.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_ABORTED = 4  # the run stopped in a cell's code (quit()) or was interrupted
EXIT_INTERRUPTED = 130

# How long a rank other than 0 waits for rank 0's verdict before it speaks itself: when
# every rank hits the same problem, rank 0's line comes and the others stay silent.
NON_ROOT_ERROR_DELAY = 2.0
_ERROR_TAG = 7301  # MPI tag of rank 0's "I failed too" message
NOTE_SIZE = 2048
TEMP_DIRS_SIZE = 8192


@dataclass
class _State:
    armed: bool = False  # a run is in progress: exiting now means it did not finish
    activity: str = ""  # what this rank does now
    in_cell_code: bool = False  # inside a cell's hoc code (quit() possible)
    note: Any = None  # ctypes buffer of the crash guard, once loaded
    guard: Any = None  # the mechanism library holding the guard's C symbols
    nrnmpi_use: Any = None  # ctypes int of NEURON's "MPI in use" flag
    atexit_registered: bool = False


_state = _State()


def world() -> tuple[int, int]:
    """(rank, size) of this process, from NEURON's handle, MPI, or 1 rank."""
    from engine import simulator

    handle = simulator._handle
    if handle is not None:
        return handle.rank, handle.nranks
    if simulator.launched_under_mpi():
        try:
            from mpi4py import MPI
        except ImportError:
            return 0, 1
        return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
    return 0, 1


def error_line(message: str, rank: int | None = None, nranks: int | None = None) -> str:
    if rank is None or nranks is None:
        rank, nranks = world()
    tag = f"[rank {rank}] " if nranks > 1 and rank != 0 else ""
    return f"sonatasim: {tag}{message}"


def cell_text(population: str, node_id: int, template: str) -> str:
    """How a cell is named in every message: population, node id and template."""
    return f"cell {population} node {int(node_id)} (template {template})"


def current_activity() -> str:
    return _state.activity


@contextlib.contextmanager
def doing(what: str, *, cell_code: bool = False) -> Iterator[None]:
    """Record what this rank does for the duration (read by every failure route)."""
    previous, previous_cell = _state.activity, _state.in_cell_code
    _set_activity(what)
    if cell_code:
        _enter_cell_code()
    try:
        yield
    finally:
        if cell_code and not previous_cell:
            _leave_cell_code()
        _state.in_cell_code = previous_cell
        _set_activity(previous)


def _set_activity(what: str) -> None:
    _state.activity = what
    if _state.note is not None:
        text = error_line(f"error: {what}" if what else "error").encode(errors="replace")
        text = text[: NOTE_SIZE - 1] + b"\0"
        ctypes.memmove(_state.note, text, len(text))


def _enter_cell_code() -> None:
    _state.in_cell_code = True
    if _state.nrnmpi_use is not None:
        _state.nrnmpi_use.value = 0  # quit() must not block in MPI_Finalize


def _leave_cell_code() -> None:
    _state.in_cell_code = False
    if _state.nrnmpi_use is not None:
        _state.nrnmpi_use.value = 1


def arm(sim: Any | None = None) -> None:
    """A run starts: from now on an exit before `disarm` is reported as a failure."""
    _state.armed = True
    if not _state.atexit_registered:
        atexit.register(_exit_check)
        _state.atexit_registered = True
    if sim is not None:
        prepare_neuron(sim)


def disarm() -> None:
    _state.armed = False


def prepare_neuron(sim: Any) -> None:
    """hoc errors raise in Python (not MPI_Abort), and quit() can be caught on N ranks."""
    with contextlib.suppress(Exception):
        sim.pc.mpiabort_on_error(0)
    if sim.nranks > 1 and _state.nrnmpi_use is None:
        library = _loaded_library("libnrniv")
        if library is not None:
            with contextlib.suppress(ValueError):
                _state.nrnmpi_use = ctypes.c_int.in_dll(library, "nrnmpi_use")


def install_crash_guard(mechanism_library: Path) -> bool:
    """Load the note buffer and signal handler of SonataCrashGuard (in our library)."""
    try:
        library = ctypes.CDLL(str(mechanism_library), mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
        note = (ctypes.c_char * NOTE_SIZE).in_dll(library, "sonatasim_crash_note")
        install = library.sonatasim_crash_guard_install
    except (OSError, ValueError, AttributeError):
        return False
    install.argtypes = [ctypes.c_int]
    install(sys.stderr.fileno() if hasattr(sys.stderr, "fileno") else 2)
    _state.note = note
    _state.guard = library
    _set_activity(_state.activity)
    rank, _ = world()
    ctypes.c_int.in_dll(library, "sonatasim_quiet_interrupt").value = int(rank != 0)
    library.sonatasim_interrupt_guard_install()
    return True


def watch_temporaries(directories: list[Path]) -> None:
    """On SIGTERM/SIGINT, this process' `*.tmp-<pid>` files in these folders are deleted."""
    if _state.guard is None:
        return
    unique = sorted({str(Path(d).resolve()) for d in directories})
    data = b"".join(d.encode() + b"\0" for d in unique) + b"\0"
    if len(data) > TEMP_DIRS_SIZE:
        data = data[: TEMP_DIRS_SIZE - 2] + b"\0\0"
    buffer = (ctypes.c_char * TEMP_DIRS_SIZE).in_dll(_state.guard, "sonatasim_temp_dirs")
    ctypes.memmove(buffer, data, len(data))


def _loaded_library(stem: str) -> Any | None:
    """A shared library already mapped into this process, by file-name stem."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split()[-1] if line.split() else ""
        if Path(path).name.startswith(stem + ".") and path.endswith(".so"):
            with contextlib.suppress(OSError):
                return ctypes.CDLL(path, mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
    return None


def _exit_check() -> None:
    """At exit (also hoc's quit(), which finalizes Python): did the run finish?"""
    if not _state.armed:
        return
    _state.armed = False
    where = _state.activity or "the run"
    if _state.in_cell_code:
        reason = "the cell's hoc code called quit(); the run did not finish"
    else:
        reason = "the process exited before the run finished"
    rank, nranks = world()
    _write(error_line(f"error: {where}: {reason}", rank, nranks))
    _stop_everyone(EXIT_ABORTED, nranks)


def _write(line: str) -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        os.write(2, (line + "\n").encode(errors="replace"))


OUTPUT_GRACE_S = 0.5  # mpiexec may drop a rank's last lines when the abort comes at once


def _stop_everyone(code: int, nranks: int) -> NoReturn:
    if nranks > 1:
        time.sleep(OUTPUT_GRACE_S)
        with contextlib.suppress(Exception):
            from mpi4py import MPI

            if MPI.Is_initialized() and not MPI.Is_finalized():
                MPI.COMM_WORLD.Abort(code)
    os._exit(code)


def fail(message: str, code: int) -> NoReturn:
    """Print `message` once for all ranks and stop every rank with `code`.

    Rank 0 tells the others it failed, prints and aborts. Another rank first waits up to
    NON_ROOT_ERROR_DELAY for rank 0's word: if it comes, rank 0 speaks for both; if not,
    this rank alone hit the problem and prints it with its rank number.
    """
    disarm()
    rank, nranks = world()
    if nranks == 1:
        _write(error_line(message, rank, nranks))
        _flush_and_exit(code)
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if rank == 0:
        requests = [comm.isend(message, dest=r, tag=_ERROR_TAG) for r in range(1, nranks)]
        _write(error_line(message, rank, nranks))
        deadline = time.monotonic() + 0.5  # let the word reach them before the abort
        while requests and time.monotonic() < deadline:
            requests = [r for r in requests if not r.test()[0]]
            time.sleep(0.01)
        _stop_everyone(code, nranks)
    deadline = time.monotonic() + NON_ROOT_ERROR_DELAY
    while time.monotonic() < deadline:
        if comm.iprobe(source=0, tag=_ERROR_TAG):
            time.sleep(NON_ROOT_ERROR_DELAY)  # rank 0 speaks and aborts us all
            _stop_everyone(code, nranks)
        time.sleep(0.01)
    _write(error_line(message, rank, nranks))
    _stop_everyone(code, nranks)


def _flush_and_exit(code: int) -> NoReturn:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    raise SystemExit(code)
