"""`sonatasim electrodes`: an lfp report's electrodes_file from electrode positions.

Independent routes: an lfp report reading the generated file against the bmtk ecp report
(LFPykit line sources, our other code path: per-cell matrices applied in Python) on the
same circuit, electrodes and run; the file re-read with libsonata's ElectrodeReader; the
point-source coefficient against phi = I / (4 pi sigma r).
"""

from __future__ import annotations

import json
import math

import h5py
import libsonata
import numpy as np

from engine.managers.reports.ecp import transfer_matrix
from tests.conftest import run_cli
from tests.test_allen_ecp import ecp_circuit

ELECTRODES = [(0, 0, 0), (40, 80, 20), (-30, 200, 60)]


def test_point_source_is_the_analytic_potential():
    p0, p1 = np.array([[10.0, -5.0, 0.0]]), np.array([[10.0, 5.0, 0.0]])
    electrodes = np.array([[10.0, 0.0, 25.0], [-40.0, 30.0, 0.0]])
    got = transfer_matrix(p0, p1, np.array([2.0]), electrodes, None, 0.5, "point")
    r = np.linalg.norm(electrodes - np.array([10.0, 0.0, 0.0]), axis=1)  # from the middle
    np.testing.assert_allclose(got[:, 0], 1.0 / (4 * math.pi * 0.5 * r), rtol=1e-12)  # mV/nA


def test_generated_file_gives_the_ecp_report(tmp_path, mechanisms_built):
    root = tmp_path / "net"
    circuit = ecp_circuit(root, n_exc=2, n_lgn=2, tstop=12.0, delay=2.0, electrodes=ELECTRODES)
    bad = run_cli("electrodes", circuit.simulation_config, "--positions", root / "none.csv",
                  "-o", root / "e.h5", check=False)  # fmt: skip
    assert bad.returncode == 2 and "none.csv" in bad.stderr and "Traceback" not in bad.stderr
    made = run_cli("electrodes", circuit.simulation_config, "--positions",
                   root / "electrodes.csv", "-o", root / "electrodes.h5",
                   "--minimum-distance", "auto")  # fmt: skip
    assert "3 electrodes, 3 cells" in made.stdout

    reader = libsonata.ElectrodeReader(str(root / "electrodes.h5"))
    assert list(reader.population_names) == ["cortex"]
    population = reader.open_population("cortex")
    assert population.number_of_electrodes == 3
    np.testing.assert_array_equal(population.node_ids, [0, 1, 2])
    with h5py.File(root / "electrodes.h5", "r") as f:
        offsets = f["cortex/offsets"][()]
        assert f["electrodes/cortex/scaling_factors"].shape == (offsets[-1], 3)
        assert offsets[0] == 0 and np.all(np.diff(offsets) > 1)  # compartments per cell

    sim = json.loads(circuit.simulation_config.read_text())
    sim["reports"]["lfp"] = {
        "type": "lfp", "cells": "cortex", "dt": 0.025,
        "start_time": 0.0, "end_time": 12.0, "electrodes_file": "$BASE_DIR/electrodes.h5",
    }  # fmt: skip
    circuit.simulation_config.write_text(json.dumps(sim, indent=1))
    out = tmp_path / "out"
    run_cli("run", circuit.simulation_config, "--output-dir", out, "--no-progress")
    with h5py.File(out / "ecp.h5", "r") as f:
        ecp = f["/ecp/data"][()]  # cells "cortex", minimum_distance "auto"
    frame = libsonata.ElementReportReader(str(out / "lfp.h5"))["cortex"].get()
    ids = np.asarray(frame.ids)
    data = np.asarray(frame.data, dtype=np.float64)
    lfp = np.stack([data[:, ids[:, 1] == k].sum(axis=1) for k in range(3)], axis=1)
    assert lfp.shape == ecp.shape == (480, 3)
    assert np.abs(ecp).max() > 1e-4  # spikes: a signal worth comparing
    np.testing.assert_allclose(lfp, ecp, rtol=0, atol=1e-6 * np.abs(ecp).max())  # float32
