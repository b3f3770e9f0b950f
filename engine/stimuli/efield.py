"""spatially_uniform_e_field: an extracellular potential whose gradient is uniform in space.

Each field f contributes E_f cos(2 pi freq_f (t - delay) + phase_f) (V/m), switched on at
`delay`, ramped linearly from 0 over ramp_up_time, held for `duration`, ramped to 0 over
ramp_down_time (the ramps are outside `duration`, as the SONATA spec says). The potential
at a point r (um, global coordinates) is phi = -E(t) . r, i.e. -1e-3 E.r mV.

Every section of a targeted cell gets NEURON's `extracellular` mechanism and our
`SonataEField`, which sets each segment's e_extracellular to -E(t) . r(segment centre)
(mod/sonatasim_efield.mod); E(t) is played, sampled on the simulation's dt grid over the
whole run, into one `SonataFieldSource` per cell (three vectors per cell, whatever its
number of segments). Several blocks on one cell add up (they add into the same three
vectors). Segment centres come from the cell's 3-d points, rotated by the node's
orientation quaternion (orientation_w/x/y/z) or, without one, by its rotation angles
(rotation_angle_x/y/zaxis, R = Rx Ry Rz as bmtk), and moved to the node's x/y/z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.stimuli.base import Stimulus
from engine.stimuli.registry import register

POSITION = ("x", "y", "z")
QUATERNION = ("orientation_w", "orientation_x", "orientation_y", "orientation_z")
EULER = ("rotation_angle_xaxis", "rotation_angle_yaxis", "rotation_angle_zaxis")


def axis_rotation(axis: int, angle: float) -> np.ndarray:
    """Counterclockwise rotation by `angle` (rad) about coordinate axis 0, 1 or 2."""
    c, s = math.cos(angle), math.sin(angle)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def euler_rotation(x_angle: float, y_angle: float, z_angle: float) -> np.ndarray:
    """rotation_angle_x/y/zaxis (rad) as bmtk applies them: R = Rx Ry Rz (z first)."""
    return axis_rotation(0, x_angle) @ axis_rotation(1, y_angle) @ axis_rotation(2, z_angle)


@dataclass
class FieldSpec:
    amplitude: np.ndarray  # (Ex, Ey, Ez) V/m
    frequency: float  # Hz
    phase: float  # rad


@dataclass
class EFieldState:
    """Per run: the shared time grid, each cell's field source, each segment's centre."""

    times: Any
    grid: np.ndarray
    segments: dict[tuple[int, int, int], np.ndarray] = field(default_factory=dict)
    sources: dict[int, tuple[Any, list[Any]]] = field(default_factory=dict)  # gid -> E(t)


def rotation_matrix(w: float, x: float, y: float, z: float) -> np.ndarray:
    """The rotation of a (normalised) quaternion w + xi + yj + zk."""
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def segment_centres(h: Any, section: Any) -> np.ndarray:
    """Local 3-d positions of a section's segment centres (arc-length interpolation)."""
    n = int(h.n3d(sec=section))
    if n == 0:
        return np.full((section.nseg, 3), np.nan)
    arc = np.array([h.arc3d(i, sec=section) for i in range(n)])
    xyz = np.array([[h.x3d(i, sec=section), h.y3d(i, sec=section), h.z3d(i, sec=section)]
                    for i in range(n)])  # fmt: skip
    where = np.array([seg.x for seg in section]) * (arc[-1] if arc[-1] > 0 else 0.0)
    return np.column_stack([np.interp(where, arc, xyz[:, k]) for k in range(3)])


def envelope(t: np.ndarray, delay: float, ramp_up: float, duration: float, ramp_down: float):
    """0 before delay, linear ramps up/down around a plateau of `duration`, 0 after."""
    plateau, stop = delay + ramp_up, delay + ramp_up + duration
    out = np.zeros_like(t)
    up = (t >= delay) & (t < plateau)
    out[up] = (t[up] - delay) / ramp_up
    out[(t >= plateau) & (t < stop)] = 1.0
    if ramp_down > 0:
        down = (t >= stop) & (t < stop + ramp_down)
        out[down] = 1.0 - (t[down] - stop) / ramp_down
    return out


@register("spatially_uniform_e_field")
class SpatiallyUniformEField(Stimulus):
    def build(self) -> None:
        setup = self.context.setup
        dt = float(setup.run.dt)
        fields = self._fields(dt)
        ramp_up = self.non_negative("ramp_up_time")
        ramp_down = self.non_negative("ramp_down_time")
        duration = self.non_negative("duration")
        delay = self.non_negative("delay")
        points = self.target_points()
        positions = self._node_positions(points)
        state = self._state(dt, float(setup.run.tstop))
        t = state.grid
        gate = envelope(t, delay, ramp_up, duration, ramp_down)
        field_t = np.zeros((t.size, 3))  # E(t) in V/m
        for spec in fields:
            wave = np.cos(2 * math.pi * spec.frequency * (t - delay) / 1000.0 + spec.phase)
            field_t += np.outer(wave * gate, spec.amplitude)
        touched: set[int] = set()
        for point in points:
            cell = point.cell
            if getattr(cell, "is_artificial", False) or point.gid in touched:
                continue
            touched.add(point.gid)
            if point.gid not in state.sources:
                state.sources[point.gid] = self._field_source(cell, point.gid, positions, state)
            _, vectors = state.sources[point.gid]
            for k, vector in enumerate(vectors):
                vector.as_numpy()[:] += field_t[:, k]

    def _field_source(self, cell: Any, gid: int, positions: dict, state: EFieldState) -> Any:
        """A cell's SonataFieldSource (E played into it) and SonataEField on every segment."""
        h = self.h
        rotation, origin = positions[gid]
        source = h.SonataFieldSource(cell.sections[0](0.5))
        vectors = []
        for component in ("ex", "ey", "ez"):
            vector = h.Vector(state.grid.size)
            vector.play(getattr(source, f"_ref_{component}"), state.times, 1)
            vectors.append(vector)
        for s, section in enumerate(cell.sections):
            section.insert("extracellular")
            section.insert("SonataEField")
            centres = segment_centres(h, section) @ rotation.T + origin
            for j, segment in enumerate(section):
                if np.isnan(centres[j]).any():
                    raise self.error(
                        f"cell gid {gid} section {section.name()} has no 3-d points", "node_set"
                    )
                mechanism = segment.SonataEField
                mechanism.x, mechanism.y, mechanism.z = (float(c) for c in centres[j])
                for component in ("ex", "ey", "ez"):
                    h.setpointer(getattr(source, f"_ref_{component}"), component, mechanism)
                h.setpointer(segment._ref_e_extracellular, "potential", mechanism)
                state.segments[gid, s, j] = centres[j]
        return source, vectors

    def _fields(self, dt: float) -> list[FieldSpec]:
        nyquist = 1000.0 / (2 * dt)
        specs = []
        self.require(len(self.block.fields) > 0, "fields must not be empty", "fields")
        for i, f in enumerate(self.block.fields):
            amplitude = np.array([f.Ex, f.Ey, f.Ez], dtype=np.float64)
            self.require(
                bool(np.all(np.isfinite(amplitude))), "Ex/Ey/Ez must be finite", f"fields[{i}]"
            )
            frequency, phase = float(f.frequency), float(f.phase)
            self.require(
                0 <= frequency < nyquist,
                f"frequency {frequency:g} Hz must be >= 0 and below the Nyquist frequency"
                f" {nyquist:g} Hz of dt {dt:g} ms",
                f"fields[{i}].frequency",
            )
            specs.append(FieldSpec(amplitude, frequency, phase))
        return specs

    def _state(self, dt: float, tstop: float) -> EFieldState:
        state = self.context.shared.get("efield")
        if state is None:
            steps = int(math.ceil(tstop / dt - 1e-9)) + 2
            grid = np.arange(steps) * dt
            state = EFieldState(self.h.Vector(grid), grid)
            self.context.shared["efield"] = state
        return state

    def _node_positions(self, points: list) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """gid -> (rotation matrix, origin) from the nodes file (bulk per population)."""
        managers = self.context.circuit.node_managers
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for population in self.target_populations():
            manager = managers[population]
            missing = [a for a in POSITION if not manager.has_attribute(a)]
            if missing:
                raise self.error(
                    f"population '{population}' has no {'/'.join(missing)} attribute; an"
                    " e-field needs the cells' positions",
                    "node_set",
                )
            members = [p for p in points if p.population == population]
            if not members:
                continue
            ids = np.array([p.node_id for p in members], dtype=np.uint64)
            origin = np.column_stack([manager.attribute(a, ids).astype(float) for a in POSITION])
            if all(manager.has_attribute(a) for a in QUATERNION):
                quats = np.column_stack(
                    [manager.attribute(a, ids).astype(float) for a in QUATERNION]
                )
                rotations = [rotation_matrix(*q) for q in quats]
            elif any(manager.has_attribute(a) for a in EULER):
                angles = np.column_stack(
                    [
                        manager.attribute(a, ids).astype(float)
                        if manager.has_attribute(a)
                        else np.zeros(ids.size)
                        for a in EULER
                    ]
                )
                rotations = [euler_rotation(*row) for row in angles]
            else:
                rotations = [np.eye(3)] * ids.size
            for k, point in enumerate(members):
                out[point.gid] = (rotations[k], origin[k])
        return out
