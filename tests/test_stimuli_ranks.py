"""Inputs do not depend on the rank count: every played waveform, every recorded source
current and every soma voltage is bit-identical on 1 and 2 ranks."""

from __future__ import annotations

import numpy as np
import pytest

from tests.drivers.stimuli_common import record, set_inputs, stimulus_circuit

N_CELLS = 6
BASE = {"delay": 2.01, "duration": 20.0, "node_set": "Ring", "input_type": "current_clamp"}
SHOT = {"rise_time": 0.5, "decay_time": 5.0}
INPUTS = {
    "lin": {"module": "linear", "amp_start": 0.01, "amp_end": 0.05},
    "rel": {"module": "relative_linear", "percent_start": 10.0},
    "noise1": {"module": "noise", "mean": 0.01, "variance": 1e-4},
    "noise2": {"module": "noise", "mean_percent": 5.0, "variance": 1.0},
    "shot": {"module": "shot_noise", "rate": 300, "amp_mean": 0.01, "amp_var": 1e-4, **SHOT},
    "shot_rel": {"module": "relative_shot_noise", "mean_percent": 10.0, "sd_percent": 5.0,
                 **SHOT, "input_type": "conductance", "reversal": -70.0},
    "ou": {"module": "ornstein_uhlenbeck", "tau": 3.0, "mean": 0.02, "sigma": 0.01},
    "ou_rel": {"module": "relative_ornstein_uhlenbeck", "tau": 3.0, "mean_percent": 2.0,
               "sd_percent": 1.0, "input_type": "conductance"},
}  # fmt: skip


@pytest.mark.mpi
def test_one_and_two_ranks_inject_identically(tmp_path):
    circuit = stimulus_circuit(
        tmp_path / "ring",
        n_cells=N_CELLS,
        dynamics={
            "threshold_current": np.linspace(0.1, 0.3, N_CELLS),
            "input_resistance": np.linspace(100.0, 300.0, N_CELLS),
        },
    )
    inputs = {name: {**BASE, **block} for name, block in INPUTS.items()}
    config = set_inputs(circuit, inputs, tstop=30.0, stimulus_seed=11, random_seed=5)
    one = record(config, tmp_path / "one.npz", "--waveforms")
    two = record(config, tmp_path / "two.npz", "--waveforms", ranks=2)
    assert sorted(one) == sorted(two)
    for name in INPUTS:
        for gid in range(N_CELLS):
            assert f"{name}__{gid}__0__wv" in one, (name, gid)
    for key in one:
        if not key.startswith("spike_"):
            np.testing.assert_array_equal(one[key], two[key], err_msg=key)
    spikes = [sorted(zip(d["spike_gids"], d["spike_times"], strict=True)) for d in (one, two)]
    assert spikes[0] == spikes[1]  # gathered in rank order: compare as sets
    # the stochastic inputs really differ from cell to cell
    assert not np.array_equal(one["noise1__0__0__wv"], one["noise1__1__0__wv"])
    assert not np.array_equal(one["shot__0__0__wv"], one["shot__1__0__wv"])
