"""Bad input parameters stop the run with one message naming the config, the input block
and the key (no traceback)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from engine.managers import points
from tests.conftest import run_cli
from tests.drivers.stimuli_common import record, set_inputs, stimulus_circuit

CURRENT = {"input_type": "current_clamp", "delay": 1.0, "duration": 5.0, "node_set": "Ring"}
SHOT = {"module": "shot_noise", "rise_time": 0.5, "decay_time": 5.0, "rate": 100,
        "amp_mean": 0.01, "amp_var": 1e-4, **CURRENT}  # fmt: skip
CASES = {
    "negative_rate": ({**SHOT, "rate": -5}, "rate", "must not be negative"),
    "rise_after_decay": ({**SHOT, "rise_time": 6.0}, "rise_time", "smaller than decay_time"),
    "zero_variance_shots": ({**SHOT, "amp_var": 0.0}, "amp_var", "must be positive"),
    "negative_variance": ({"module": "noise", "mean": 0.1, "variance": -0.1, **CURRENT},
                          "variance", "must not be negative"),
    "no_threshold": ({"module": "relative_linear", "percent_start": 50.0, **CURRENT},
                     "node_set", "threshold_current"),
    "no_input_resistance": ({"module": "relative_shot_noise", "mean_percent": 10.0,
                             "sd_percent": 5.0, "rise_time": 0.5, "decay_time": 5.0,
                             **CURRENT, "input_type": "conductance"},
                            "node_set", "input_resistance"),
    "pulse_overlap": ({"module": "pulse", "amp_start": 0.1, "width": 30.0, "frequency": 50,
                       **CURRENT}, "width", "longer than the pulse period"),
    "ou_sigma": ({"module": "ornstein_uhlenbeck", "tau": 1.0, "mean": 0.1, "sigma": 0.0,
                  **CURRENT}, "sigma", "must be positive"),
    "poisson_rate": ({"module": "poisson", "input_type": "spikes", "rate": -1.0, "weight": 1.0,
                      "delay": 0.0, "duration": 5.0, "node_set": "Ring"}, "rate", "negative"),
}  # fmt: skip


@pytest.fixture(scope="module")
def circuit(tmp_path_factory):
    return stimulus_circuit(tmp_path_factory.mktemp("errors") / "ring", n_cells=2)


def assert_names_the_block(result, name: str, key: str, *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    text = result.stderr
    assert "Traceback" not in text and "Traceback" not in result.stdout, text
    errors = [line for line in text.splitlines() if line.startswith("sonatasim:")]
    assert len(errors) == 1, text
    for needle in ("simulation_config.json", f"inputs.{name}.{key}", f"input '{name}'", *needles):
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"


@pytest.mark.parametrize("case", list(CASES))
def test_bad_parameter_names_the_input(circuit, tmp_path, case):
    block, key, message = CASES[case]
    config = set_inputs(circuit, {case: block})
    result = run_cli("run", config, "--output-dir", tmp_path / "out", check=False)
    assert_names_the_block(result, case, key, message)


def test_replay_file_without_the_population(circuit, tmp_path):
    path = tmp_path / "traces.h5"
    with h5py.File(path, "w") as f:
        f["report/other/data"] = np.zeros((3, 1))
    block = {"module": "replay", "input_type": "current_clamp", "path": str(path),
             "interpolate": True, "delay": 0.0, "duration": 5.0, "node_set": "Ring"}  # fmt: skip
    config = set_inputs(circuit, {"trace": block})
    result = run_cli("run", config, "--output-dir", tmp_path / "out", check=False)
    assert_names_the_block(result, "trace", "path", "population 'ring'", "other")


@pytest.mark.xfail(
    not hasattr(points, "local_compartment_set_points"),
    reason="needs engine.managers.points.local_compartment_set_points (compartment sets)",
    strict=True,
)
def test_compartment_set_input(circuit, tmp_path):
    """A linear input on a compartment set drives exactly the listed locations."""
    sets = tmp_path / "compartment_sets.json"
    sets.write_text('{"somata": {"population": "ring", "compartment_set": [[1, 0, 0.5]]}}')
    block = {"module": "linear", "input_type": "current_clamp", "amp_start": 0.1,
             "delay": 1.0, "duration": 5.0, "compartment_set": "somata"}  # fmt: skip
    config = set_inputs(circuit, {"cs": block})
    data = json.loads(config.read_text())
    data["compartment_sets_file"] = str(sets)
    config.write_text(json.dumps(data))
    recorded = record(config, tmp_path / "cs.npz")
    assert "cs__1__0__amp" in recorded and "cs__0__0__amp" not in recorded
