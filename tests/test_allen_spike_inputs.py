"""bmtk spike inputs `module: nwb` (NWB 2 units table via pynwb, and bmtk's own
/processing/<trial>/spike_train layout) and `module: function` (a generator in the config's
folder). Independent route: the same spike trains given as bmtk's h5 file, whose replay
tests/test_allen_network.py checks; every run must give the same output spikes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import h5py
import numpy as np
import pytest

from engine.config import load_setup
from engine.errors import ConfigError
from engine.generate.allen import generate_allen_network
from tests.conftest import run_cli

GENERATOR = """
import json
from pathlib import Path

TRAINS = json.loads((Path(__file__).parent / "trains.json").read_text())


def replayed_train(node, sim):
    assert sim.dt == 0.025 and sim.tstop == 120.0
    return TRAINS[str(node["node_id"])] if node["pop_name"] == "tON" else []
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    root = tmp_path_factory.mktemp("spike_inputs") / "net"
    circuit = generate_allen_network(root, n_exc=3, n_inh=1, n_lgn=4, lgn_rate_hz=60.0, tstop=120.0)
    ids, times = circuit.lgn_spikes
    trains = {str(n): sorted(times[ids == n].tolist()) for n in range(4)}
    (root / "trains.json").write_text(json.dumps(trains))
    (root / "generators.py").write_text(GENERATOR)
    _write_nwb2(root / "inputs" / "lgn_units.nwb", trains)
    with h5py.File(root / "inputs" / "lgn_bmtk.nwb", "w") as f:
        for node, train in trains.items():
            f[f"processing/trial_0/spike_train/{node}/data"] = np.asarray(train)
    return circuit


def _write_nwb2(path, trains):
    import pynwb

    nwb = pynwb.NWBFile(
        session_description="lgn spikes", identifier="sonatasim-test",
        session_start_time=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    for node, train in trains.items():
        nwb.add_unit(id=int(node), spike_times=np.asarray(train) / 1000.0)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def _run_with(circuit, tmp_path, label, block):
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"] = {"lgn.spikes": {"input_type": "spikes", "node_set": "lgn", **block}}
    path = circuit.root / f"{label}_config.json"
    path.write_text(json.dumps(config))
    out = tmp_path / label
    run_cli("run", str(path), "--output-dir", str(out), "--no-progress")
    with h5py.File(out / "spikes.h5", "r") as f:
        group = f["spikes/cortex"]
        return group["node_ids"][()], group["timestamps"][()]


def test_nwb_and_function_inputs_replay_the_same_spikes(network, tmp_path, mechanisms_built):
    base = "$BASE_DIR/inputs"
    reference = _run_with(
        network, tmp_path, "h5", {"module": "h5", "input_file": f"{base}/lgn_spikes.h5"}
    )
    assert reference[0].size > 0
    for label, block in {
        "nwb2": {"module": "nwb", "input_file": f"{base}/lgn_units.nwb"},
        "nwb_bmtk": {"module": "nwb", "input_file": f"{base}/lgn_bmtk.nwb"},
        "function": {"module": "function", "spikes_function": "generators:replayed_train"},
    }.items():
        got = _run_with(network, tmp_path, label, block)
        np.testing.assert_array_equal(got[0], reference[0], err_msg=label)
        np.testing.assert_allclose(got[1], reference[1], rtol=0, atol=1e-9, err_msg=label)


def test_function_inputs_only_run_code_from_the_config_folder(network, tmp_path):
    config = json.loads(network.simulation_config.read_text())
    for name in ("os:system", "numpy.random.poisson", "replayed_train", "generators:nothing"):
        config["inputs"] = {"gen": {"input_type": "spikes", "module": "function",
                                    "node_set": "lgn", "spikes_function": name}}  # fmt: skip
        path = network.root / "bad_config.json"
        path.write_text(json.dumps(config))
        with pytest.raises(ConfigError, match="spikes_function"):
            load_setup(path, tmp_path / "out")
