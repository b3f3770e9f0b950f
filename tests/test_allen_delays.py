"""Allen-dialect synaptic delays go to the NetCons as they are, as bmtk does.

(SONATA/OBI circuits truncate delays to whole time steps, as neurodamus does:
tests/test_compat.py.) Here the generated Allen network's delays are moved off the dt grid
(0.99 ms, 1.51 ms, ...); the engine must then equal the plain-NEURON build that passes the
file's delays unchanged, and differ from the same network with truncated delays.
"""

from __future__ import annotations

import numpy as np

from engine.generate.allen import generate_allen_network
from tests.conftest import run_cli
from tests.test_allen_network import plain_spikes, spikes_of


def _shift_delays(network_dir, change) -> int:
    """Apply `change` to the delay column of every edge types CSV (where bmtk keeps it)."""
    moved = 0
    for path in sorted(network_dir.glob("*edge_types.csv")):
        lines = path.read_text().splitlines()
        column = lines[0].split().index("delay")
        rows = [lines[0]]
        for line in lines[1:]:
            fields = line.split(" ")
            fields[column] = repr(float(change(np.float64(fields[column]))))
            rows.append(" ".join(fields))
            moved += 1
        path.write_text("\n".join(rows) + "\n")
    return moved


def test_off_grid_delays_are_not_truncated(tmp_path, mechanisms_built):
    iclamp = {"amp": 0.3, "delay": 20.0, "duration": 50.0}
    circuit = generate_allen_network(tmp_path / "net", iclamp=iclamp, lgn_rate_hz=10.0)
    dt = circuit.dt
    assert _shift_delays(circuit.root / "network", lambda d: d - 0.4 * dt) > 0
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "raw")
    ids, times = spikes_of(tmp_path / "raw")
    plain_ids, plain_times = plain_spikes("network", circuit.root, tmp_path / "plain.npz")
    assert ids.size > 20
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_allclose(times, plain_times, atol=1e-6)
    # truncating would have moved every delay a whole step earlier: other spike times
    _shift_delays(circuit.root / "network", lambda d: np.trunc(d / dt + 1e-5) * dt)
    run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "grid")
    grid_ids, grid_times = spikes_of(tmp_path / "grid")
    assert grid_ids.size != ids.size or not np.array_equal(grid_times, times)
