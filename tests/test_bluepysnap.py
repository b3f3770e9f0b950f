"""Our outputs open in bluepysnap unchanged: spikes and reports of a 2-rank run.

bluepysnap reads the simulation config, finds the spike file and every report through it,
and maps node ids to the circuit; what it returns must equal libsonata's reading of the
same files, and its node ids must be nodes of the circuit.
"""

from __future__ import annotations

import json

import bluepysnap  # a dev dependency (pyproject.toml)
import libsonata
import numpy as np
import pytest

from engine.generate.networks import generate_ei_network
from tests.conftest import run_cli

REPORTS = {
    "soma_v": {"type": "compartment", "variable_name": "v", "cells": "Cortex", "dt": 0.1,
               "start_time": 0.0, "end_time": 100.0},
    "all_v": {"type": "compartment", "variable_name": "v", "cells": "Inhibitory",
              "sections": "all", "compartments": "all", "dt": 0.5, "start_time": 10.0,
              "end_time": 90.0},
}  # fmt: skip


def test_spikes_and_reports_open_in_bluepysnap(tmp_path, mechanisms_built):
    circuit = generate_ei_network(tmp_path / "ei", tstop=100.0)
    config = json.loads(circuit.simulation_config.read_text())
    config["reports"] = REPORTS
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    run_cli("run", circuit.simulation_config, ranks=2)
    simulation = bluepysnap.Simulation(str(circuit.simulation_config))
    output = tmp_path / "ei" / config["output"]["output_dir"]
    spikes = libsonata.SpikeReader(str(output / config["output"]["spikes_file"]))
    assert simulation.spikes.population_names == sorted(spikes.get_population_names())
    for population in simulation.spikes.population_names:
        snap = simulation.spikes[population].get()  # pandas Series: times -> node ids
        ours = np.array(spikes[population].get(), dtype=float).reshape(-1, 2)
        assert snap.size == ours.shape[0] > 0
        np.testing.assert_array_equal(np.sort(snap.index.to_numpy()), np.sort(ours[:, 1]))
        nodes = simulation.circuit.nodes[population]
        assert set(snap.to_numpy().tolist()) <= set(nodes.ids().tolist())
    for name, block in REPORTS.items():
        report = simulation.reports[name]
        path = output / f"{name}.h5"
        reader = libsonata.ElementReportReader(str(path))
        for population in report.population_names:
            frame = report[population].get()  # pandas DataFrame: time x (node, element)
            data = reader[population].get()
            np.testing.assert_array_equal(frame.to_numpy(), np.asarray(data.data))
            np.testing.assert_allclose(frame.index.to_numpy(), np.asarray(data.times))
            assert frame.index[0] == pytest.approx(block["start_time"])
            ids = frame.columns.get_level_values(0).to_numpy()
            assert set(ids.tolist()) <= set(simulation.circuit.nodes[population].ids().tolist())
