"""bmtk `extracellular` (ecp) reports: line-source potentials per electrode channel.

Independent routes: the transfer matrix against the Holt line-source formula written out
here (bmtk's documented form, sigma 0.3 S/m); the report against the sum of its per-cell
contributions, and 2 ranks against 1 rank (identical bytes). bmtk itself:
benchmarks/peers/bmtk_parity.py (ecp scenarios).
"""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest

from engine.generate.allen import generate_allen_network
from engine.managers.reports.ecp import read_electrodes, transfer_matrix
from tests.conftest import run_cli

ELECTRODES = [(0, 0, 0), (40, 80, 20), (-30, 200, 60), (10, -150, -40)]


def holt_line_source(p0, p1, electrode, minimum=None):
    """Potential (mV) at `electrode` per nA on each segment, as bmtk's RecXElectrode."""
    centre, axis = (p0 + p1) / 2, p1 - p0
    length = np.linalg.norm(axis, axis=1)
    rel = electrode - centre
    along = np.abs(np.einsum("ij,ij->i", rel, axis) / length)
    perp2 = np.einsum("ij,ij->i", rel, rel) - along**2
    up, low = along + length / 2, along - length / 2
    if minimum is not None:
        perp2 = np.where(low < minimum, np.maximum(perp2, minimum**2), perp2)
    num, den = up + np.sqrt(up**2 + perp2), low + np.sqrt(low**2 + perp2)
    return np.log(num / den) / length / (4 * math.pi * 0.3)


@pytest.mark.parametrize("minimum", [None, 2.0, "auto"])
def test_transfer_matrix_is_the_line_source_formula(minimum):
    rng = np.random.default_rng(4)
    p0 = rng.uniform(-100, 100, (40, 3))
    p1 = p0 + rng.normal(0, 10, (40, 3))
    diam = rng.uniform(0.5, 3.0, 40)
    electrodes = rng.uniform(-300, 300, (5, 3))
    got = transfer_matrix(p0, p1, diam, electrodes, minimum)
    for j, e in enumerate(electrodes):
        limit = diam / 2 if minimum == "auto" else minimum
        np.testing.assert_allclose(got[j], holt_line_source(p0, p1, e, limit), rtol=1e-9)
    near = np.array([[0.0, 0.5, 5.0]])  # beside a segment along z, within its radius
    segment = (np.array([[0.0, 0, 0]]), np.array([[0.0, 0, 10]]), np.array([2.0]))
    clamped = transfer_matrix(*segment, near, "auto")[0, 0]
    assert clamped == pytest.approx(holt_line_source(*segment[:2], near[0], 1.0)[0], rel=1e-9)
    assert clamped < transfer_matrix(*segment, near, None)[0, 0]


def ecp_circuit(root, n_exc=3, n_lgn=3, tstop=40.0, delay=5.0, electrodes=ELECTRODES):
    """An Allen network with an ecp report "ecp.all.cells" (ecp.h5, auto distance)."""
    circuit = generate_allen_network(
        root, n_exc=n_exc, n_inh=1, n_lgn=n_lgn, lgn_rate_hz=30.0, tstop=tstop,
        iclamp={"amp": 0.3, "delay": delay, "duration": tstop - 2 * delay},
    )  # fmt: skip
    lines = ["x_pos y_pos z_pos channel"]
    lines += [f"{x} {y} {z} {i}" for i, (x, y, z) in enumerate(electrodes)]
    (root / "electrodes.csv").write_text("\n".join(lines) + "\n")
    sim = json.loads(circuit.simulation_config.read_text())
    sim["node_sets_file"] = "$BASE_DIR/node_sets.json"
    sim["reports"]["ecp.all.cells"] = {
        "module": "extracellular", "cells": "cortex", "variable_name": "v",
        "electrode_positions": "$BASE_DIR/electrodes.csv", "file_name": "ecp.h5",
        "minimum_distance": "auto", "contributions_dir": "per_cell",
    }  # fmt: skip
    circuit.simulation_config.write_text(json.dumps(sim, indent=1))
    return circuit


def _read(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"/ecp/{k}"][()] for k in ("data", "time", "channel_id")}


@pytest.mark.mpi
def test_ecp_report_layout_contributions_and_ranks(tmp_path, mechanisms_built):
    circuit = ecp_circuit(tmp_path / "net")
    assert read_electrodes(tmp_path / "net" / "electrodes.csv", "x").shape == (4, 3)
    outputs = {}
    for ranks in (1, 2):
        out = tmp_path / f"out{ranks}"
        run_cli("run", str(circuit.simulation_config), "--output-dir", str(out),
                "--no-progress", ranks=ranks)  # fmt: skip
        outputs[ranks] = out
    one = _read(outputs[1] / "ecp.h5")
    assert one["data"].shape == (1600, 4)  # tstop / dt rows, one column per channel
    np.testing.assert_array_equal(one["time"], [0.0, 40.0, 0.025])
    np.testing.assert_array_equal(one["channel_id"], np.arange(4))
    assert np.all(one["data"][0] == 0) and np.abs(one["data"]).max() > 1e-4  # mV, spikes
    cells = sorted(outputs[1].joinpath("per_cell").glob("*.h5"))
    assert [p.stem for p in cells] == ["0", "1", "2", "3"]
    parts = [h5py.File(p, "r")["/ecp/data"][()] for p in cells]
    np.testing.assert_allclose(sum(parts), one["data"], rtol=0, atol=1e-15)
    two = _read(outputs[2] / "ecp.h5")
    np.testing.assert_array_equal(two["data"], one["data"])
    assert not list(outputs[2].glob("*.tmp-*"))
