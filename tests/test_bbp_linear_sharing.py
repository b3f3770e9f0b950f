"""Linear synapses with equal parameters on one segment share one point process.

The generated E/I network (SonataExp2Syn, many synapses at soma(0.5)) is run with and
without sharing: fewer point processes, the same spikes and voltages (events add linearly,
so only the floating-point summation order differs).
"""

from __future__ import annotations

import json

import numpy as np

from engine.generate.networks import generate_ei_network
from tests.conftest import REPO, run_python

DRIVER = REPO / "tests" / "test_bbp_driver.py"


def _run(config, out, monkeypatch, share: bool) -> tuple[dict, dict]:
    with monkeypatch.context() as m:
        if not share:
            m.setenv("SONATASIM_TEST_NO_SHARING", "1")
        run_python(DRIVER, config, out)
    data = np.load(out)
    return {k: data[k] for k in data.files if k != "records"}, json.loads(str(data["records"]))


def test_shared_point_processes_give_the_same_network(tmp_path, monkeypatch, mechanisms_built):
    circuit = generate_ei_network(
        tmp_path / "ei", n_exc=20, n_inh=5, n_virtual=10, tstop=200.0, p_connect=0.2
    )
    shared, shared_rec = _run(circuit.simulation_config, tmp_path / "s.npz", monkeypatch, True)
    single, single_rec = _run(circuit.simulation_config, tmp_path / "u.npz", monkeypatch, False)
    n_edges = len(shared_rec["edges"])
    unshared = sum(count for _, count in single_rec["point_processes"])
    kept = sum(count for _, count in shared_rec["point_processes"])
    assert unshared == n_edges
    assert kept < 0.85 * n_edges, f"{kept} point processes for {n_edges} edges"
    # every edge's point process sits where the edge says, with its own NetCon weight
    assert shared_rec["section"] == single_rec["section"]
    assert shared_rec["x"] == single_rec["x"]
    assert shared_rec["weight"] == single_rec["weight"]
    assert shared["spike_gids"].size > 10, "the network should fire"
    np.testing.assert_array_equal(np.sort(shared["spike_gids"]), np.sort(single["spike_gids"]))
    np.testing.assert_allclose(
        np.sort(shared["spike_times"]), np.sort(single["spike_times"]), atol=1e-9
    )
    for key in (k for k in shared if k.startswith("v_")):
        np.testing.assert_allclose(shared[key], single[key], atol=1e-9)
