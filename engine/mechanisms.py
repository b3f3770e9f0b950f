"""Compile NMODL mechanisms once, cache the library by content, and load it into NEURON.

Why a cache: nrnivmodl takes tens of seconds, and the same circuit is run many times (and
by many MPI ranks at once). The build directory is named by a hash of everything that
affects the result, so a hit is a directory lookup, and concurrent builders of the same
key serialise on a file lock instead of racing.

NEURON can load a mechanism library only once per process (a second library with the same
names aborts with "user defined name already exists"), so all mechanisms of a run, ours and
the circuit's, are compiled into one library.

A CoreNEURON run needs `nrnivmodl -coreneuron`: the same NEURON library plus
`libcorenrnmech` (CoreNEURON's copy of every mechanism). Its cache key differs from the
NEURON-only build's, so the two never mix; `coreneuron_library()` finds the second library.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.compile_log import failure_excerpt, first_compile_error
from engine.errors import MechanismError
from engine.loaded_mechanisms import mechanism_exists, mechanism_names  # noqa: F401 (re-exported)

LOG = logging.getLogger("sonatasim")

MARKER = "BUILD_COMPLETE"
LOG_NAME = "nrnivmodl.log"
# Files nrnivmodl may need besides .mod: INCLUDEd NMODL snippets and C/C++ helpers that
# nrnivmodl compiles from the build directory.
AUX_SUFFIXES = (".inc", ".h", ".hpp", ".c", ".cpp")
# Our own mechanisms; used to tell whether NEURON already has them from somewhere else.
OWN_MECHANISMS = (
    "SonataVecStim",
    "SonataExp2Syn",
    "SonataProbAMPANMDA",
    "SonataProbGABAAB",
    "SonataGap",
    "SonataCurrentSource",
    "SonataConductanceSource",
    "SonataInhPoissonStim",
    "SonataTTX",
    "SonataReportSampler",
    "SonataEField",
    "SonataFieldSource",
)
_KEY_SCHEMA = "sonatasim-mechanisms-1"
CORENEURON_LIBRARY = "libcorenrnmech"

_loaded_library: Path | None = None


def default_mod_dir() -> Path:
    """The engine's own NMODL (`mod/` at the repository top), or `$SONATASIM_MOD_DIR`."""
    override = os.environ.get("SONATASIM_MOD_DIR")
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent.parent / "mod"


def cache_dir() -> Path:
    """Where compiled libraries live: `$SONATASIM_CACHE_DIR`, else the XDG cache."""
    explicit = os.environ.get("SONATASIM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sonatasim"


def neuron_version() -> str:
    """NEURON's version without importing it (importing would start NEURON)."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("neuron", "NEURON", "neuron-nightly"):
        with contextlib.suppress(PackageNotFoundError):
            return version(dist)
    return "unknown"


def _dir_sources(directory: Path, *, own: bool) -> dict[str, Path]:
    """The .mod (and auxiliary) files of one directory, by file name."""
    if not directory.is_dir():
        what = "the engine's mod directory" if own else "mechanisms directory"
        raise MechanismError(f"{what} does not exist: {directory}", file=str(directory))
    files = {p.name: p for p in sorted(directory.iterdir()) if p.is_file()}
    mods = {n: p for n, p in files.items() if p.suffix == ".mod"}
    if not mods and not own:
        raise MechanismError(
            f"mechanisms directory has no .mod files: {directory}", file=str(directory)
        )
    aux = {n: p for n, p in files.items() if p.suffix in AUX_SUFFIXES}
    return {**mods, **aux}


def collect_sources(extra_dirs: Sequence[Path]) -> dict[str, Path]:
    """All files to compile, by file name; extra dirs override ours and earlier extras."""
    sources = _dir_sources(default_mod_dir(), own=True)
    for directory in extra_dirs:
        directory = Path(directory).expanduser().resolve()
        for name, path in _dir_sources(directory, own=False).items():
            previous = sources.get(name)
            if previous is not None and previous.read_bytes() != path.read_bytes():
                LOG.warning("mechanism file %s from %s replaces %s", name, path.parent, previous)
            sources[name] = path
    return sources


CORENEURON_FLAGS_ENV = "SONATASIM_CORENEURON_CFLAGS"


def coreneuron_flags() -> str:
    """Extra compiler flags for a CoreNEURON build (opt-in, e.g. "-O3 -march=native").

    Why opt-in: -march=native code runs only on CPUs like the one that compiled it, and a
    shared cache may serve other nodes. nrnivmodl puts -incflags after its own -O2, so they
    win; they are part of the build key, so builds with other flags never mix.
    """
    return " ".join(os.environ.get(CORENEURON_FLAGS_ENV, "").split())


def build_key(sources: dict[str, Path], coreneuron: bool = False) -> str:
    """sha256 over file names and contents, the NEURON version, the machine and the kind
    of build (NEURON only, or with CoreNEURON)."""
    digest = hashlib.sha256()
    parts = [_KEY_SCHEMA, neuron_version(), platform.machine()]
    if coreneuron:
        parts += ["coreneuron"] + ([coreneuron_flags()] if coreneuron_flags() else [])
    for part in parts:
        digest.update(part.encode() + b"\0")
    for name in sorted(sources):
        content = sources[name].read_bytes()
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def find_library(build_dir: Path) -> Path | None:
    """The compiled libnrnmech inside a build directory, if there is one."""
    patterns = (
        f"{platform.machine()}/libnrnmech.*",
        f"{platform.machine()}/.libs/libnrnmech.*",
        "*/libnrnmech.*",
        "*/.libs/libnrnmech.*",
    )
    for pattern in patterns:
        found = sorted(p for p in build_dir.glob(pattern) if p.suffix in (".so", ".dylib"))
        if found:
            return found[0]
    return None


def coreneuron_library(build_dir: Path) -> Path | None:
    """CoreNEURON's mechanism library (`nrnivmodl -coreneuron`) inside a build directory."""
    for pattern in (f"{platform.machine()}/{CORENEURON_LIBRARY}.*", f"*/{CORENEURON_LIBRARY}.*"):
        found = sorted(p for p in build_dir.glob(pattern) if p.suffix in (".so", ".dylib"))
        if found:
            return found[0]
    return None


def build_directory(nrnmech: Path) -> Path:
    """The build directory (the .mod files) of a compiled libnrnmech."""
    build_dir = nrnmech.parent
    while build_dir.name in (".libs", platform.machine()):
        build_dir = build_dir.parent
    return build_dir


def coreneuron_library_for(nrnmech: Path) -> Path | None:
    """The libcorenrnmech of the build that holds `nrnmech` (the loaded libnrnmech)."""
    return coreneuron_library(build_directory(nrnmech))


def _complete_library(build_dir: Path, coreneuron: bool = False) -> Path | None:
    if not (build_dir / MARKER).is_file():
        return None
    if coreneuron and coreneuron_library(build_dir) is None:
        return None
    return find_library(build_dir)


def nrnivmodl_path() -> str:
    """The nrnivmodl of the running Python's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "nrnivmodl"
    if beside.exists():
        return str(beside)
    found = shutil.which("nrnivmodl")
    if found is None:
        raise MechanismError("nrnivmodl not found next to Python nor on PATH")
    return found


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Exclusive flock: a second builder of the same key waits, then finds the result."""
    with open(lock_path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _compile(sources: dict[str, Path], root: Path, key: str, coreneuron: bool = False) -> Path:
    """Run nrnivmodl in a fresh directory under `root` and return that directory."""
    work = Path(tempfile.mkdtemp(dir=root, prefix=f".build-{key[:16]}-"))
    os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes 0700; a shared cache needs umask
    for name, path in sources.items():
        shutil.copyfile(path, work / name)
    log_path = work / LOG_NAME
    command = [nrnivmodl_path()]
    if coreneuron:
        flags = coreneuron_flags()
        command += ["-coreneuron"] + (["-incflags", flags] if flags else []) + ["."]
    LOG.info("compiling %d mechanism files with %s", len(sources), command[0])
    with open(log_path, "w") as log:
        log.write(f"# {' '.join(command)} in {work}\n")
        for name, path in sorted(sources.items()):
            log.write(f"# {name} <- {path}\n")
        log.flush()
        try:
            result = subprocess.run(
                command, cwd=work, stdout=log, stderr=subprocess.STDOUT, check=False
            )
        except OSError as exc:
            raise MechanismError(f"could not run {command[0]}: {exc}") from exc
    library = find_library(work)
    if coreneuron and coreneuron_library(work) is None:
        library = None
    if result.returncode != 0 or library is None:
        failed = root / f"{key}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        os.rename(work, failed)
        log_path = failed / LOG_NAME
        culprit = first_compile_error(log_path, sources)
        if culprit is not None:
            mod_file, message = culprit
            raise MechanismError(
                f"does not compile: {message} (nrnivmodl's log: {log_path})", file=str(mod_file)
            )
        raise MechanismError(
            f"{' '.join(['nrnivmodl'] + command[1:])} failed (exit code {result.returncode})"
            f"{_coreneuron_hint(coreneuron)}; end of the log:\n"
            f"{failure_excerpt(log_path)}",
            file=str(log_path),
        )
    marker = {
        "key": key,
        "neuron": neuron_version(),
        "machine": platform.machine(),
        "coreneuron": coreneuron,
        "sources": {name: str(path) for name, path in sorted(sources.items())},
    }
    (work / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    return work


def _coreneuron_hint(coreneuron: bool) -> str:
    if not coreneuron:
        return ""
    return (
        " (a mechanism without CoreNEURON support: its VERBATIM code must be guarded with"
        " #ifndef CORENEURON_BUILD, or run with target_simulator NEURON)"
    )


def build_mechanisms(extra_dirs: Sequence[Path], coreneuron: bool = False) -> Path:
    """Compile our mod files plus `extra_dirs` (or reuse the cache); return libnrnmech.

    With `coreneuron`, the build also holds libcorenrnmech (see `coreneuron_library`).
    """
    sources = collect_sources(extra_dirs)
    if not any(name.endswith(".mod") for name in sources):
        raise MechanismError("no .mod files to compile", file=str(default_mod_dir()))
    key = build_key(sources, coreneuron)
    root = cache_dir() / "mechanisms"
    final = root / key
    library = _complete_library(final, coreneuron)
    if library is not None:
        return library
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MechanismError(f"cannot create the mechanism cache {root}: {exc}") from exc
    with _locked(root / f".{key}.lock"):
        library = _complete_library(final, coreneuron)
        if library is not None:
            return library
        # holding the lock, any other build directory of this key was left by a crash
        for stale in root.glob(f".build-{key[:16]}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():
            shutil.rmtree(final)
        work = _compile(sources, root, key, coreneuron)
        os.rename(work, final)
    library = _complete_library(final, coreneuron)
    if library is None:
        raise MechanismError(f"compiled library missing from {final}", file=str(final))
    return library


def _load_library(h: Any, library: Path) -> None:
    """nrn_load_dll once per process; a different second library is an error."""
    global _loaded_library
    library = library.resolve()
    if _loaded_library is not None:
        if _loaded_library == library:
            return
        raise MechanismError(
            f"mechanisms already loaded in this process: {_loaded_library}; "
            f"cannot also load {library} (NEURON loads one mechanism library per process)"
        )
    present = [name for name in OWN_MECHANISMS if mechanism_exists(h, name)]
    if present:
        raise MechanismError(
            f"NEURON already has {', '.join(present)} from another library (NEURON loads "
            "./<arch>/libnrnmech.so from the working directory and NRN_NMODL_PATH at "
            "import); run from another directory or unset NRN_NMODL_PATH"
        )
    try:
        ok = h.nrn_load_dll(str(library))
    except RuntimeError as exc:
        raise MechanismError(
            f"loading {library} failed: {exc}. If a mechanism name already exists, NEURON "
            "has loaded another mechanism library (e.g. ./<arch>/libnrnmech.so from the "
            "working directory) or two mod files define the same mechanism",
            file=str(library),
        ) from exc
    if not ok:
        raise MechanismError(f"NEURON could not load {library}", file=str(library))
    _loaded_library = library


def _as_status(exc: BaseException) -> tuple[bool, str, str | None, str | None]:
    if isinstance(exc, MechanismError):
        return False, exc.plain_message, exc.file, exc.key
    return False, f"{type(exc).__name__}: {exc}", None, None


def load_mechanisms(extra_dirs: Sequence[Path], sim: Any, coreneuron: bool = False) -> Path:
    """Build (rank 0 first, the others then hit the cache) and load on every rank.

    Every rank raises the same MechanismError when any rank fails, so none is left
    waiting in a collective call.
    """
    status: tuple[bool, str, str | None, str | None] = (True, "", None, None)
    if sim.nranks > 1:
        if sim.rank == 0:
            try:
                build_mechanisms(extra_dirs, coreneuron)
            except Exception as exc:  # any failure must reach the other ranks
                status = _as_status(exc)
        status = sim.broadcast(status, 0)
        if not status[0]:
            raise MechanismError(status[1], file=status[2], key=status[3])
        sim.barrier()
    library: Path | None = None
    try:
        library = build_mechanisms(extra_dirs, coreneuron)
        _load_library(sim.h, library)
    except Exception as exc:  # reported collectively below
        if sim.nranks == 1:
            raise
        status = _as_status(exc)
    if sim.nranks > 1:
        failures = [(rank, s) for rank, s in enumerate(sim.allgather(status)) if not s[0]]
        if failures:
            rank, (_, message, file, key) = failures[0]
            raise MechanismError(f"on rank {rank}: {message}", file=file, key=key)
    assert library is not None
    return library
