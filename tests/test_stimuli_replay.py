"""replay (current traces from a SONATA-report-layout file): the injected current follows
the trace, linearly interpolated or held, only inside [delay, delay + duration]."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tests.drivers.stimuli_common import record, set_inputs, stimulus_circuit

START, STEP, N = 2.0, 0.5, 60
DELAY, DURATION = 5.01, 20.0


def trace(node: int) -> np.ndarray:
    i = np.arange(N)
    return 0.05 * np.sin(i / 3.0 + node) + 0.02


def write_traces(path, population="ring", units="nA", scale=1.0):
    with h5py.File(path, "w") as f:
        group = f.create_group(f"report/{population}")
        data = group.create_dataset("data", data=np.column_stack([trace(0), trace(1)]) * scale)
        data.attrs["units"] = units
        group["mapping/node_ids"] = np.array([0, 1], dtype=np.uint64)
        group["mapping/index_pointers"] = np.array([0, 1, 2], dtype=np.uint64)
        group["mapping/element_ids"] = np.zeros(2, dtype=np.uint32)
        group["mapping/time"] = np.array([START, START + N * STEP, STEP])


def block(path, node_set, interpolate):
    return {
        "module": "replay", "input_type": "current_clamp", "path": str(path),
        "interpolate": interpolate, "node_set": node_set, "delay": DELAY, "duration": DURATION,
    }  # fmt: skip


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_replayed_current_follows_the_trace(tmp_path, ranks):
    circuit = stimulus_circuit(tmp_path / "ring", n_cells=2)
    write_traces(tmp_path / "na.h5")
    write_traces(tmp_path / "pa.h5", units="pA", scale=1000.0)
    config = set_inputs(
        circuit,
        {
            "linear": block(tmp_path / "na.h5", "c0", True),
            "held": block(tmp_path / "pa.h5", "c1", False),
        },
        tstop=40.0,
    )
    data = record(config, tmp_path / "replay.npz", ranks=ranks)
    t = data["t"]
    mid = 0.5 * (t[:-1] + t[1:])  # NEURON evaluates the source at step midpoints
    times = START + STEP * np.arange(N)
    inside = (mid >= DELAY) & (mid < DELAY + DURATION)
    linear = np.where(inside, np.interp(mid, times, trace(0)), 0.0)
    held_index = np.clip(np.searchsorted(times, mid, side="right") - 1, 0, N - 1)
    held = np.where(inside, trace(1)[held_index], 0.0)
    np.testing.assert_allclose(-data["linear__0__0__i"][1:], linear, rtol=0, atol=1e-12)
    np.testing.assert_allclose(-data["held__1__0__i"][1:], held, rtol=0, atol=1e-12)
    assert np.count_nonzero(linear) > 700 and np.count_nonzero(held) > 700
