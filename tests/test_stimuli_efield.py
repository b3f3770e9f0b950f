"""spatially_uniform_e_field: the extracellular potential of every segment equals
-E(t).r for the segment centre in global coordinates (node position and orientation
quaternion applied to the morphology), blocks add up, and a static field polarises a
ball-and-stick cell with the sign physics predicts, mirrored when the cell is turned round.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from tests.drivers.stimuli_common import record, set_inputs, stimulus_circuit

# (w, x, y, z): identity; 180 degrees about z (dendrite along -x); 90 degrees about y.
QUATERNIONS = np.array([[1.0, 0, 0, 0], [0.0, 0, 0, 1], [math.sqrt(0.5), 0, math.sqrt(0.5), 0]])
FIELDS = [
    {"Ex": 50.0, "Ey": 20.0, "Ez": -10.0},
    {"Ex": 10.0, "Ey": 0.0, "Ez": 0.0, "frequency": 200.0, "phase": 0.3},
]
E_FIELD = {
    "module": "spatially_uniform_e_field", "input_type": "extracellular_stimulation",
    "node_set": "Ring", "delay": 5.0, "duration": 20.0, "ramp_up_time": 2.0,
    "ramp_down_time": 3.0, "fields": FIELDS,
}  # fmt: skip
SECOND = {
    "module": "spatially_uniform_e_field", "input_type": "extracellular_stimulation",
    "node_set": "c0", "delay": 0.0, "duration": 40.0, "fields": [{"Ex": 0, "Ey": 0, "Ez": 30.0}],
}  # fmt: skip


def rotation(w, x, y, z):
    """Rotation of a unit quaternion (written out independently of the engine)."""
    return np.array(
        [
            [w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z],
        ]
    )


def gate(t, delay, up, duration, down):
    """Trapezoid: 0 -> 1 over `up`, 1 for `duration`, 1 -> 0 over `down` (up, down > 0)."""
    corners = [delay, delay + up, delay + up + duration, delay + up + duration + down]
    return np.interp(t, corners, [0.0, 1.0, 1.0, 0.0], left=0.0, right=0.0)


@pytest.fixture(scope="module")
def circuit(tmp_path_factory):
    root = tmp_path_factory.mktemp("efield")
    circuit = stimulus_circuit(root / "ring", n_cells=3, soma_only=False)
    with h5py.File(circuit.root / "nodes.h5", "r+") as f:
        group = f["nodes/ring/0"]
        for k, name in enumerate(
            ("orientation_w", "orientation_x", "orientation_y", "orientation_z")
        ):
            group.create_dataset(name, data=QUATERNIONS[:, k])
    return circuit, root


def node_positions(circuit):
    with h5py.File(circuit.root / "nodes.h5", "r") as f:
        return np.column_stack([f[f"nodes/ring/0/{a}"][:] for a in "xyz"])


def local_centre(section_index: int, x: float) -> np.ndarray:
    """Our ball-and-stick: soma centred on the origin, dendrite from x=10 to x=210 um."""
    if section_index == 0:
        return np.zeros(3)
    return np.array([10.0 + 200.0 * x, 0.0, 0.0])


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_potential_is_minus_field_dot_position(circuit, ranks):
    circuit, root = circuit
    config = set_inputs(circuit, {"ef": E_FIELD, "ef2": SECOND}, tstop=50.0)
    data = record(config, root / f"efield{ranks}.npz", "--efield", ranks=ranks)
    t = data["t"]
    origins = node_positions(circuit)
    keys = [k for k in data if k.startswith("efield__")]
    assert len(keys) == 3 * 12  # soma + 11 dendrite segments per cell
    g1 = gate(t, 5.0, 2.0, 20.0, 3.0)
    field = np.outer(g1, [50.0, 20.0, -10.0]) + np.outer(
        g1 * np.cos(2 * math.pi * 200.0 * (t - 5.0) / 1000.0 + 0.3), [10.0, 0.0, 0.0]
    )
    for key in keys:
        _, gid, s, _ = key.split("__")
        gid, s = int(gid), int(s)
        x = float(data[key.replace("efield__", "efield_x__")])
        r = rotation(*QUATERNIONS[gid]) @ local_centre(s, x) + origins[gid]
        total = field + (np.outer(np.where(t < 40.0, 1.0, 0.0), [0, 0, 30.0]) if gid == 0 else 0)
        expected = -1e-3 * total @ r
        keep = np.abs(t - 40.0) > 0.03  # the second block switches off at 40 ms
        np.testing.assert_allclose(data[key][keep], expected[keep], rtol=0, atol=1e-9)


def test_static_field_polarises_the_soma(circuit):
    """E along +x: cell 0 (dendrite towards +x) hyperpolarises at the soma, cell 1 (turned
    round) depolarises by the same amount."""
    circuit, root = circuit
    static = {**E_FIELD, "delay": 1.0, "duration": 100.0, "ramp_up_time": 0.0,
              "ramp_down_time": 0.0, "fields": [{"Ex": 100.0, "Ey": 0.0, "Ez": 0.0}]}  # fmt: skip
    config = set_inputs(circuit, {"static": static}, tstop=50.0)
    data = record(config, root / "static.npz")
    shift0, shift1 = data["v__0"][-1] + 65.0, data["v__1"][-1] + 65.0
    assert shift0 < -0.1 and shift1 > 0.1
    assert shift0 == pytest.approx(-shift1, rel=1e-3)


ANGLES = np.array([[0.4, -0.7, 1.2], [0.0, 0.0, 0.5], [-1.0, 0.3, 0.0]])  # rad, per cell


def bmtk_rotation(x_angle, y_angle, z_angle):
    """bmtk's order, written out here: R = Rx Ry Rz, each counterclockwise."""
    cx, sx, cy, sy = math.cos(x_angle), math.sin(x_angle), math.cos(y_angle), math.sin(y_angle)
    cz, sz = math.cos(z_angle), math.sin(z_angle)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rx @ ry @ rz


def test_rotation_angles_orient_the_cells_without_a_quaternion(tmp_path):
    circuit = stimulus_circuit(tmp_path / "ring", n_cells=3, soma_only=False)
    with h5py.File(circuit.root / "nodes.h5", "r+") as f:
        for k, axis in enumerate("xyz"):
            f[f"nodes/ring/0/rotation_angle_{axis}axis"] = ANGLES[:, k]
    block = {**E_FIELD, "fields": [{"Ex": 40.0, "Ey": -25.0, "Ez": 15.0}]}
    config = set_inputs(circuit, {"ef": block}, tstop=30.0)
    data = record(config, tmp_path / "angles.npz", "--efield")
    t, origins = data["t"], node_positions(circuit)
    field = np.outer(gate(t, 5.0, 2.0, 20.0, 3.0), [40.0, -25.0, 15.0])
    keys = [k for k in data if k.startswith("efield__")]
    assert len(keys) == 3 * 12
    for key in keys:
        _, gid, s, _ = key.split("__")
        gid, s = int(gid), int(s)
        x = float(data[key.replace("efield__", "efield_x__")])
        r = bmtk_rotation(*ANGLES[gid]) @ local_centre(s, x) + origins[gid]
        np.testing.assert_allclose(data[key], -1e-3 * field @ r, rtol=0, atol=1e-9)
