"""Shared test helpers: run the real `sonatasim` CLI (1 rank or under mpiexec)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MORPHOLOGIES = SHARED / "data" / "morphologies"
MPIEXEC = Path(sys.prefix) / "bin" / "mpiexec"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SONATASIM_NO_MPI", None)
    env.setdefault("MPI_LIB_NRN_PATH", str(Path(sys.prefix) / "lib" / "libmpi.so.12"))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, ranks: int = 1, check: bool = True, timeout: float = 600):
    """Run `sonatasim ARGS` in a fresh process (optionally under mpiexec -n ranks)."""
    command = [sys.executable, "-m", "engine", *map(str, args)]
    if ranks > 1:
        command = [str(MPIEXEC), "-n", str(ranks), *command]
    result = subprocess.run(
        command, capture_output=True, text=True, env=cli_env(), timeout=timeout, cwd=REPO
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"sonatasim {' '.join(map(str, args))} failed ({result.returncode}):\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def run_python(script: Path | str, *args: str, ranks: int = 1, timeout: float = 600):
    """Run a Python script (a plain-NEURON reference or an engine driver) in a new process."""
    command = [sys.executable, str(script), *map(str, args)]
    if ranks > 1:
        command = [str(MPIEXEC), "-n", str(ranks), *command]
    result = subprocess.run(
        command, capture_output=True, text=True, env=cli_env(), timeout=timeout, cwd=REPO
    )
    if result.returncode != 0:
        raise AssertionError(f"{script} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def mechanisms_built():
    """Compile our mod/ once per session (later runs hit the cache)."""
    code = (
        "from engine import simulator; from engine.mechanisms import load_mechanisms;"
        "print(load_mechanisms([], simulator.start(use_mpi=False)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])
