"""Allen/bmtk-style networks end to end: `sonatasim run`/`validate` against plain NEURON.

The generated networks (engine.generate.allen) are in the Allen dialect throughout;
tests/reference/plain_allen.py builds the same networks from the same files by hand.
"""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest

from engine.generate.allen import generate_allen_network
from engine.generate.allen_point import generate_allen_point_network
from tests.conftest import REPO, run_cli, run_python
from tests.test_engine_runs import by_time, read_spikes

PLAIN = REPO / "tests" / "reference" / "plain_allen.py"


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    root = tmp_path_factory.mktemp("allen_network")
    iclamp = {"amp": 0.3, "delay": 20.0, "duration": 50.0}
    circuit = generate_allen_network(root / "net", iclamp=iclamp, lgn_rate_hz=10.0)
    result = run_cli("run", circuit.simulation_config, "--output-dir", root / "one")
    return circuit, root, result


def spikes_of(path, population="cortex"):
    return by_time(*read_spikes(path / "spikes.h5", population))


def plain_spikes(mode, root, out):
    run_python(PLAIN, mode, root, out)
    plain = np.load(out)
    return by_time(plain["gids"].astype(np.int64), plain["times"])


def test_allen_network_matches_plain_neuron(network, tmp_path):
    circuit, root, result = network
    assert "run.random_seed missing: using 0" in result.stdout + result.stderr
    ids, times = spikes_of(root / "one")
    plain_ids, plain_times = plain_spikes("network", circuit.root, tmp_path / "plain.npz")
    assert ids.size > 20 and set(ids.tolist()) == set(range(6)), "every cell should fire"
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_allclose(times, plain_times, atol=1e-6)
    # The IClamp (20-70 ms) drives the excitatory cells 0-3 to fire together first.
    assert sorted(ids[:4].tolist()) == [0, 1, 2, 3] and np.all(times[:4] < 25.0)


def test_membrane_report_is_the_plain_neuron_soma_voltage(network, tmp_path):
    """The `membrane_report` (cells "exc", sections "soma") holds plain NEURON's soma v.

    Rows are t = 0, dt, ..., tstop - dt; values are the float64 voltages of
    tests/reference/plain_allen.py rounded to float32, bit for bit.
    """
    circuit, root, _ = network
    report = root / "one" / "membrane_potential.h5"
    assert report.is_file(), "the membrane_report block must write its file"
    run_python(PLAIN, "network", circuit.root, tmp_path / "plain.npz")
    plain_v = np.load(tmp_path / "plain.npz")["soma_v"]
    sim = json.loads(circuit.simulation_config.read_text())
    dt, tstop = sim["run"]["dt"], sim["run"]["tstop"]
    n_steps = int(round(tstop / dt))
    with h5py.File(report) as f:
        pop = f["report/cortex"]
        # the report's cells are the node set "exc", resolved from the node types CSV
        node_ids = pop["mapping/node_ids"][...].tolist()
        assert node_ids == [0, 1, 2, 3]
        assert pop["mapping/index_pointers"][...].tolist() == [0, 1, 2, 3, 4]  # one soma each
        assert pop["mapping/element_ids"][...].tolist() == [0, 0, 0, 0]
        np.testing.assert_allclose(pop["mapping/time"][...], [0.0, tstop, dt])
        assert pop["data"].attrs["units"] == "mV"
        data = pop["data"][...]
    assert data.dtype == np.float32 and data.shape == (n_steps, 4)
    expected = plain_v[node_ids, :n_steps].T.astype(np.float32)
    assert np.ptp(expected) > 50.0, "the reported cells should spike"
    np.testing.assert_array_equal(data, expected)


def test_allen_network_validates(network):
    circuit, _, _ = network
    result = run_cli("validate", circuit.simulation_config, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node population cortex: biophysical, 6 nodes" in result.stdout


def test_combined_config_with_csv_spikes_gives_the_same_spikes(network, tmp_path):
    circuit, root, _ = network
    config = circuit.combined_config.read_text().replace("simulation_config", "csv_simulation")
    text = circuit.simulation_config.read_text().replace('"module": "h5"', '"module": "csv"')
    (circuit.root / "csv_simulation.json").write_text(
        text.replace("lgn_spikes.h5", "lgn_spikes.csv")
    )
    (circuit.root / "csv_config.json").write_text(config)
    run_cli("run", circuit.root / "csv_config.json", "--output-dir", tmp_path / "csv")
    for a, b in zip(spikes_of(tmp_path / "csv"), spikes_of(root / "one"), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.mpi
def test_allen_network_two_ranks_identical(network, tmp_path):
    circuit, root, _ = network
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "two", ranks=2)
    for a, b in zip(spikes_of(tmp_path / "two"), spikes_of(root / "one"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_allen_intfire1_network_matches_plain_neuron(tmp_path):
    circuit = generate_allen_point_network(tmp_path / "net")
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "out")
    ids, times = spikes_of(tmp_path / "out")
    plain_ids, plain_times = plain_spikes("point", circuit.root, tmp_path / "plain.npz")
    assert ids.size > 20
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_array_equal(times, plain_times)


def test_allen_intfire1_sign_and_nsyns(tmp_path):
    circuit = generate_allen_point_network(tmp_path / "net", inhibitory=True)
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "out")
    ids, times = spikes_of(tmp_path / "out")
    plain_ids, plain_times = plain_spikes("point", circuit.root, tmp_path / "plain.npz")
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_array_equal(times, plain_times)


@pytest.mark.mpi
def test_placed_synapses_run_and_do_not_depend_on_ranks(tmp_path):
    circuit = generate_allen_network(tmp_path / "net", preselected=False, lgn_rate_hz=20.0)
    one = run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "one")
    n_synapses = sum(int(e["nsyns"].sum()) for e in circuit.edges.values())
    assert re.search(rf"synapses\s+{n_synapses}\n", one.stdout), one.stdout
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "two", ranks=2)
    first = spikes_of(tmp_path / "one")
    assert first[0].size > 10
    for a, b in zip(spikes_of(tmp_path / "two"), first, strict=True):
        np.testing.assert_array_equal(a, b)
