"""End to end: generated circuits run by the real CLI, checked against independent routes.

Routes: plain NEURON scripts that build the same model by hand (tests/reference), the
analytic ring (constant period), and the spike file re-read with libsonata.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import libsonata
import numpy as np
import pytest

from engine.generate.networks import generate_ring
from engine.generate.templates import write_template
from tests.conftest import REPO, run_cli, run_python

PLAIN_RING = REPO / "tests" / "reference" / "plain_ring.py"
RECORD_SOMA = REPO / "tests" / "drivers" / "record_soma.py"


def read_spikes(path: Path, population: str) -> tuple[np.ndarray, np.ndarray]:
    reader = libsonata.SpikeReader(str(path))
    pairs = reader[population].get()
    ids = np.array([p[0] for p in pairs], dtype=np.int64)
    times = np.array([p[1] for p in pairs], dtype=np.float64)
    return ids, times


def by_time(ids: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, times))
    return ids[order], times[order]


def test_point_ring_matches_plain_neuron_and_the_analytic_schedule(tmp_path):
    circuit = generate_ring(tmp_path / "ring", n_cells=5, cell_kind="point")
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "out")
    ids, times = by_time(*read_spikes(tmp_path / "out" / "spikes.h5", "ring"))
    run_python(PLAIN_RING, "point", 5, tmp_path / "plain.npz")
    plain = np.load(tmp_path / "plain.npz")
    plain_ids, plain_times = by_time(plain["gids"].astype(np.int64), plain["times"])
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_array_equal(times, plain_times)
    # IntFire1 with weight > 1 fires on arrival: cell k fires at 5 + 5 (k + 1) + 25 m.
    expected = [5.0 + 5.0 * (k + 1) for k in range(19)]
    np.testing.assert_allclose(times, expected, atol=1e-9)
    np.testing.assert_array_equal(ids, [k % 5 for k in range(19)])


def test_biophysical_ring_matches_plain_neuron_with_a_constant_period(tmp_path):
    circuit = generate_ring(tmp_path / "ring", n_cells=5, cell_kind="biophysical")
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "out")
    ids, times = by_time(*read_spikes(tmp_path / "out" / "spikes.h5", "ring"))
    run_python(PLAIN_RING, "biophysical", 5, tmp_path / "plain.npz")
    plain = np.load(tmp_path / "plain.npz")
    plain_ids, plain_times = by_time(plain["gids"].astype(np.int64), plain["times"])
    assert ids.size >= 10
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_allclose(times, plain_times, atol=1e-6)
    # Analytic ring: identical cells, so every hop takes delay + the same latency.
    hops = np.diff(times)
    assert np.all(hops > 5.0)
    np.testing.assert_allclose(hops, hops[0], atol=1e-6)
    np.testing.assert_array_equal(ids, np.arange(ids.size) % 5)


def test_passive_cell_voltage_matches_plain_neuron(tmp_path):
    circuit = generate_ring(tmp_path / "ring", n_cells=2, cell_kind="biophysical")
    write_template(circuit.root / "templates" / "RingCell.hoc", "RingCell", passive_only=True)
    run_python(RECORD_SOMA, circuit.simulation_config, tmp_path / "engine.npz", "ring", 0, 1)
    engine = np.load(tmp_path / "engine.npz")
    run_python(PLAIN_RING, "passive", 2, tmp_path / "plain.npz")
    plain = np.load(tmp_path / "plain.npz")
    assert engine["v_0"].shape == plain["v0"].shape
    np.testing.assert_allclose(engine["v_0"], plain["v0"], atol=1e-9)
    # The input arrives at 10 ms: flat before (v_init = e_pas), a clear EPSP after.
    t = engine["t"]
    assert np.all(np.abs(engine["v_0"][t < 10.0] + 65.0) < 1e-9)
    assert engine["v_0"].max() > -60.0
    # Cell 1 only hears from cell 0 (5 ms delay): flat until cell 0 first crosses threshold.
    first_crossing = t[np.argmax(engine["v_0"] > -30.0)]
    np.testing.assert_allclose(engine["v_1"][t <= first_crossing + 5.0], -65.0, atol=1e-9)


def test_integration_method_is_neurons_secondorder(tmp_path):
    circuit = generate_ring(tmp_path / "ring", n_cells=2, cell_kind="biophysical")
    write_template(circuit.root / "templates" / "RingCell.hoc", "RingCell", passive_only=True)
    config = json.loads(circuit.simulation_config.read_text())
    config["run"]["integration_method"] = "crank_nicolson"
    circuit.simulation_config.write_text(json.dumps(config))
    run_python(RECORD_SOMA, circuit.simulation_config, tmp_path / "engine.npz", "ring", 0)
    engine = np.load(tmp_path / "engine.npz")["v_0"]
    for order in (1, 0):
        run_python(PLAIN_RING, "passive", 2, tmp_path / f"plain{order}.npz", 100.0, order)
    second, first = (np.load(tmp_path / f"plain{k}.npz")["v0"] for k in (1, 0))
    np.testing.assert_allclose(engine, second, atol=1e-9)
    assert np.max(np.abs(engine - first)) > 1e-4  # the method changes the numbers


def test_simulation_node_set_limits_the_cells_built(tmp_path):
    circuit = generate_ring(tmp_path / "ring", n_cells=5, cell_kind="biophysical")
    sets = json.loads(circuit.node_sets_file.read_text())
    sets["Pair"] = {"population": "ring", "node_id": [0, 1]}
    circuit.node_sets_file.write_text(json.dumps(sets))
    config = json.loads(circuit.simulation_config.read_text())
    config["node_set"] = "Pair"
    circuit.simulation_config.write_text(json.dumps(config))
    result = run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "out")
    assert re.search(r"^\s+cells\s+2$", result.stdout, re.MULTILINE), result.stdout
    ids, _ = read_spikes(tmp_path / "out" / "spikes.h5", "ring")
    assert set(ids.tolist()) == {0, 1}  # the input starts cell 0, which drives cell 1 only


def test_spike_file_equals_what_neuron_recorded(tmp_path):
    circuit = generate_ring(tmp_path / "ring", n_cells=4, cell_kind="biophysical")
    run_python(RECORD_SOMA, circuit.simulation_config, tmp_path / "engine.npz", "ring", 0)
    engine = np.load(tmp_path / "engine.npz")
    ids, times = read_spikes(Path(str(engine["spikes_file"])), "ring")
    assert ids.size > 4
    reader = libsonata.SpikeReader(str(engine["spikes_file"]))
    assert reader["ring"].sorting == "by_time"
    assert np.all(np.diff(times) >= 0)
    rec_ids, rec_times = by_time(engine["spike_node_ids"].astype(np.int64), engine["spike_times"])
    np.testing.assert_array_equal(ids, rec_ids)
    np.testing.assert_array_equal(times, rec_times)


@pytest.mark.mpi
def test_two_and_four_ranks_give_bit_identical_spikes_and_reports_and_reruns_too(tmp_path):
    config = REPO / "configs" / "example" / "simulation_config.json"
    run_cli("run", config, "--output-dir", tmp_path / "one")
    run_cli("run", config, "--output-dir", tmp_path / "again")
    run_cli("run", config, "--output-dir", tmp_path / "two", ranks=2)
    run_cli("run", "-n", "2", config, "--output-dir", tmp_path / "two_flag")
    run_cli("run", config, "--output-dir", tmp_path / "four", ranks=4)
    one = read_spikes(tmp_path / "one" / "spikes.h5", "cortex")
    assert one[0].size > 20, "the example network should fire"
    voltages = read_report(tmp_path / "one" / "soma_voltage.h5")
    for other in ("again", "two", "two_flag", "four"):
        ids, times = read_spikes(tmp_path / other / "spikes.h5", "cortex")
        np.testing.assert_array_equal(ids, one[0])
        np.testing.assert_array_equal(times, one[1])
        for key, values in read_report(tmp_path / other / "soma_voltage.h5").items():
            np.testing.assert_array_equal(values, voltages[key], err_msg=f"{other}: {key}")


def read_report(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of a report file, by its path."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: out.update({name: obj[()]}) if hasattr(obj, "shape") else None
        )
    assert out, path
    return out


@pytest.mark.parametrize("order", ["by_id", "none"])
def test_spike_sort_orders(tmp_path, order):
    circuit = generate_ring(tmp_path / "ring", n_cells=3, cell_kind="point")
    config = circuit.simulation_config
    text = config.read_text().replace(
        '"spikes_file"', f'"spikes_sort_order": "{order}", "spikes_file"'
    )
    config.write_text(text)
    run_cli("run", config, "--output-dir", tmp_path / "out")
    reader = libsonata.SpikeReader(str(tmp_path / "out" / "spikes.h5"))
    assert reader["ring"].sorting == order
    ids, times = read_spikes(tmp_path / "out" / "spikes.h5", "ring")
    if order == "by_id":
        assert np.all(np.diff(ids) >= 0)
        assert not np.all(np.diff(times) >= 0)
    assert sorted(zip(ids, times, strict=True)) == sorted(zip(*by_time(ids, times), strict=True))
