"""The command line itself: version, help on every command, log file, run summary."""

from __future__ import annotations

import re
import subprocess
import sys

from engine import __version__
from engine.generate.networks import generate_ring
from tests.conftest import cli_env, run_cli


def test_version():
    result = run_cli("--version")
    assert __version__ in result.stdout


def test_every_command_has_help():
    top = run_cli("--help").stdout
    commands = re.findall(r"^  (\S+)\s", top.split("Commands:")[1], flags=re.M)
    assert {"run", "validate"} <= set(commands)
    for command in commands:
        text = run_cli(command, "--help").stdout
        assert "Usage:" in text and "--help" in text


def test_run_prints_a_summary_and_writes_the_log_file(tmp_path):
    ring = generate_ring(tmp_path / "ring", n_cells=3, cell_kind="point")
    log_file = tmp_path / "logs" / "run.log"
    result = run_cli(
        "run", ring.simulation_config, "--output-dir", tmp_path / "out", "--log-file", log_file
    )
    for label in ("cells", "synapses", "spikes", "setup time", "run time", "peak memory"):
        assert re.search(rf"^\s+{label}\s", result.stdout, flags=re.M), label
    assert re.search(r"^\s+cells\s+3$", result.stdout, flags=re.M)
    assert str(tmp_path / "out" / "spikes.h5") in result.stdout
    logged = log_file.read_text()
    assert "Summary" in logged and "spikes written" in logged


def test_two_ranks_find_mpi_without_mpi_lib_nrn_path(tmp_path, mechanisms_built):
    """`run -n 2` sets MPI_LIB_NRN_PATH for NEURON itself (the venv's libmpi.so.12)."""
    circuit = generate_ring(tmp_path / "ring", n_cells=4)
    env = {k: v for k, v in cli_env().items() if k != "MPI_LIB_NRN_PATH"}
    command = [sys.executable, "-m", "engine", "run", "-n", "2", str(circuit.simulation_config),
               "--output-dir", str(tmp_path / "out")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on 2 rank(s)" in result.stdout
    assert re.search(r"^\s+ranks\s+2$", result.stdout, re.MULTILINE)
    one = run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "one")
    assert _spike_line(result.stdout) == _spike_line(one.stdout)


def _spike_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith("spikes "))
