"""OBI morphology names: long, dotted, without extension; files spelled `.asc` or `.ASC`.

The BBP circuit of tests/test_bbp_support.py names its cells as OBI releases do
(`..._Scale_x1.000_y0.950_z1.000_-_Clone_1`, one name 180 characters long, one cell's files
spelled `.ASC`/`.SWC`/`.H5`), with swc, neurolucida-asc and h5v1 directories. The full runs
against the plain-NEURON build are in tests/test_bbp_synapses.py; here `validate`, the
load-balance cost estimate and the error for a missing file, each checked against the files
the generator wrote (os.listdir is the independent route).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.test_bbp_support import MORPHOLOGIES, UPPER_CASE, write_bbp_circuit


@pytest.fixture
def circuit(tmp_path):
    return write_bbp_circuit(tmp_path / "bbp")


def _directories(circuit) -> dict[str, Path]:
    components = json.loads(circuit.circuit_config.read_text())["components"]
    alternates = components["alternate_morphologies"]
    return {
        "swc": circuit.root / components["morphologies_dir"],
        "asc": circuit.root / alternates["neurolucida-asc"],
        "h5": circuit.root / alternates["h5v1"],
    }


def test_the_generated_names_are_what_real_circuits_hold(circuit):
    assert any(len(name) >= 180 for name in MORPHOLOGIES)
    assert all(
        "x1.000_y0." in name and not name.endswith((".asc", ".swc")) for name in MORPHOLOGIES
    )
    for ext, directory in _directories(circuit).items():
        on_disk = set(os.listdir(directory))
        for name in set(MORPHOLOGIES):
            spelled = ext.upper() if name in UPPER_CASE else ext
            assert f"{name}.{spelled}" in on_disk


def test_validate_accepts_dotted_long_and_upper_case_names(circuit):
    result = run_cli("validate", circuit.simulation_config)
    assert "morpholog" not in (result.stdout + result.stderr).lower()


def test_validate_and_run_name_the_missing_file(circuit, tmp_path):
    missing = MORPHOLOGIES[2]
    asc = _directories(circuit)["asc"] / f"{missing}.asc"
    asc.unlink()  # the asc directory is the one used (neurodamus prefers it to h5 and swc)
    result = run_cli("validate", circuit.simulation_config, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "1 morphologies missing" in output and f"{missing}.asc" in output
    result = run_cli(
        "run", circuit.simulation_config, "--output-dir", tmp_path / "out", check=False
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if f"{missing}.asc" in line]
    assert lines and "Traceback" not in result.stderr


def test_load_balance_reads_every_morphology(circuit, tmp_path):
    """The cost estimate opens each cell's own file: cells 0 and 1 share a morphology (and
    have the same synapse count), cells 2 and 3 each have their own shape."""
    run_cli("balance", circuit.simulation_config, "--ranks", "2", "--output-dir", tmp_path)
    (plan,) = (tmp_path / "load_balance").glob("*.npz")
    costs = np.load(plan)["cost/cortex"]
    assert costs[0] == costs[1]
    assert len(set(costs.tolist())) == 3
