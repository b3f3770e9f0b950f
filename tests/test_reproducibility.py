"""Every random stream at once, on 1, 2 and 4 ranks: bit-identical spikes and voltages.

The BBP-style mini circuit (stochastic TM synapses, randomised GABA rise time, calcium
scaling) gets spontaneous minis (node attributes), a `noise` and a `shot_noise` input and
a soma voltage report. Every stream is keyed by seeds and ids only (README, "Random
streams"), so the spike file and the report must be the same bytes of data whatever the
rank count, and on a rerun.
"""

from __future__ import annotations

import json

import h5py
import libsonata
import numpy as np
import pytest

from tests.conftest import run_cli
from tests.test_bbp_support import write_bbp_circuit

INPUTS = {
    "noisy": {"module": "noise", "input_type": "current_clamp", "node_set": "Cortex",
              "delay": 20.0, "duration": 200.0, "mean": 0.05, "variance": 0.01},
    "shots": {"module": "shot_noise", "input_type": "current_clamp", "node_set": "Cortex",
              "delay": 0.0, "duration": 250.0, "rise_time": 0.4, "decay_time": 4.0,
              "rate": 200, "amp_mean": 0.05, "amp_var": 0.001},
}  # fmt: skip
REPORT = {"type": "compartment", "variable_name": "v", "cells": "Cortex", "dt": 0.1,
          "start_time": 0.0, "end_time": 250.0}  # fmt: skip


def _spikes(path) -> list:
    reader = libsonata.SpikeReader(str(path))
    return sorted(reader["cortex"].get())


def _report(path) -> tuple[np.ndarray, np.ndarray]:
    frame = libsonata.ElementReportReader(str(path))["cortex"].get()
    return np.asarray(frame.data), np.asarray(frame.ids)


def write_every_stream_circuit(root):
    """The BBP circuit with minis, noise, shot noise and a soma voltage report."""
    circuit = write_bbp_circuit(root)
    with h5py.File(circuit.root / "nodes.h5", "r+") as f:
        group = f["nodes/cortex/0"]
        group["exc_mini_frequency"] = np.array([2.0, 1.0, 3.0, 0.5])
        group["inh_mini_frequency"] = np.array([1.0, 4.0, 0.0, 2.0])
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"].update(INPUTS)
    config["reports"] = {"soma": REPORT}
    config["run"].update(minis_seed=11, stimulus_seed=5)
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    return circuit


@pytest.mark.mpi
def test_all_streams_are_bit_identical_on_1_2_and_4_ranks(tmp_path, mechanisms_built):
    circuit = write_every_stream_circuit(tmp_path / "bbp")
    runs = {}
    for name, ranks in (("one", 1), ("again", 1), ("two", 2), ("four", 4)):
        out = tmp_path / name
        result = run_cli("run", circuit.simulation_config, "--output-dir", out, ranks=ranks)
        assert "Spontaneous minis" in result.stdout + result.stderr
        runs[name] = (_spikes(out / "spikes.h5"), _report(out / "soma.h5"))
    spikes, (data, ids) = runs["one"]
    assert len(spikes) > 10, "the circuit should fire"
    for name in ("again", "two", "four"):
        assert runs[name][0] == spikes, name
        np.testing.assert_array_equal(runs[name][1][0], data, err_msg=name)
        np.testing.assert_array_equal(runs[name][1][1], ids, err_msg=name)
