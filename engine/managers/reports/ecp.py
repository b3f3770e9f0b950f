"""bmtk `extracellular` (ecp) reports: line-source extracellular potentials per electrode channel.

What bmtk 1.2.0 bionet (modules/ecp.py) computes, with LFPykit doing the physics:
* electrodes: a space-separated csv with columns x_pos, y_pos, z_pos (um) (and `channel`);
  channel ids are 0..n-1 in file order;
* segments: each section's 3-d points, shifted so the mean of the soma's 3-d points is
  the origin, interpolated by arc length at seg.x -+ 0.5/nseg (p0, p1), rotated by the
  node's rotation_angle_x/y/zaxis (R = Rx Ry Rz, about the soma) and moved to the node's
  x, y, z; diameters from seg.diam;
* transfer matrix per cell: line-source potentials, sigma 0.3 S/m (LFPykit's
  LineSourcePotential for `minimum_distance: "auto"`, i.e. the segment radius; lfpykit's
  lfpcalc.calc_lfp_linesource with a common minimum distance otherwise, 0 when absent);
* data: sum over the report's biophysical cells of M @ i_membrane_ (nA) -> mV, written as
  /ecp/data [steps x channels], /ecp/time (0, tstop, dt), /ecp/channel_id; with
  `contributions_dir`, one `<node_id>.h5` per cell holding its own /ecp/data.

Differences, all documented in README: frame k is the potential at t = k dt, as our other
reports (bmtk samples after each step, so its row k is our row k + 1); LFPykit clamps the
perpendicular distance wherever it is below the minimum, bmtk only where the electrode's
projection falls within the minimum distance of the segment (same unless an electrode sits
within that distance of a segment's axis beyond its end). Axon stubs without 3-d points
get NEURON's define_shape() points, as bmtk calls define_shape() after model processing.

Sampling: after each step one compiled gather copies every segment's i_membrane_ into a
batch of rows; the products with the transfer matrices run once per batch (one matrix
product per cell for thousands of frames), not once per step.

Memory: the transfer matrices (segments x channels per cell), a batch of current rows and
a block of per-cell rows (32 MB each at most), streamed to a part file per rank; at the end rank 0 adds the cells in gid order, row block
by row block, so 1 and 2 ranks give identical files.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.errors import ConfigError
from engine.io.atomic import temporary_name

log = logging.getLogger("sonatasim")

SIGMA = 0.3  # S/m, bmtk's
BLOCK_BYTES = 32 * 1024 * 1024
BATCH_ENV = "SONATASIM_ECP_BATCH_ROWS"  # frames per batched product (default: by memory)
POSITION = ("x", "y", "z")
EULER = ("rotation_angle_xaxis", "rotation_angle_yaxis", "rotation_angle_zaxis")


@dataclass
class EcpSpec:
    name: str
    electrodes_file: Path
    path: Path
    cells: str
    minimum_distance: float | str | None
    contributions_dir: Path | None


def read_electrodes(path: Path, key: str) -> np.ndarray:
    """(channels, 3) electrode positions (um) from bmtk's space-separated csv."""
    if not path.is_file():
        raise ConfigError("electrode positions file not found", file=path, key=key)
    rows = [r for r in csv.reader(path.read_text().splitlines(), delimiter=" ") if r]
    rows = [[c for c in r if c != ""] for r in rows]
    header = rows[0] if rows else []
    missing = [c for c in ("x_pos", "y_pos", "z_pos") if c not in header]
    if missing:
        raise ConfigError(f"electrode positions need columns {missing}", file=path, key=key)
    columns = [header.index(c) for c in ("x_pos", "y_pos", "z_pos")]
    try:
        return np.array([[float(r[c]) for c in columns] for r in rows[1:]], dtype=np.float64)
    except (ValueError, IndexError):
        raise ConfigError("electrode positions: not numbers", file=path, key=key) from None


def parse_minimum_distance(value: Any) -> float | str | None:
    """bmtk's rule: "auto" (segment radius), a number (clipped at 0), else none."""
    if value == "auto":
        return "auto"
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None


def cell_segments(h: Any, cell: Any, rotation: np.ndarray, position: np.ndarray):
    """(p0, p1, diam) of every segment of a cell (section order), in global coordinates."""
    segments = [(sec, seg.x) for sec in cell.sections if sec is not None for seg in sec]
    return segment_geometry(h, cell, segments, rotation, position)


def segment_geometry(h: Any, cell: Any, segments, rotation: np.ndarray, position: np.ndarray):
    """(p0, p1, diam) of the given (section, x) segments of a cell, in global coordinates."""
    soma = cell.sections[0]
    n_soma = int(h.n3d(sec=soma))
    soma_points = np.array([[h.x3d(i, sec=soma), h.y3d(i, sec=soma), h.z3d(i, sec=soma)]
                            for i in range(n_soma)])  # fmt: skip
    centre = soma_points.mean(axis=0)
    starts, ends, diams = [], [], []
    shapes: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
    for sec, x in segments:
        if sec not in shapes:
            n = int(h.n3d(sec=sec))
            xyz = np.array([[h.x3d(i, sec=sec), h.y3d(i, sec=sec), h.z3d(i, sec=sec)]
                            for i in range(n)]) - centre  # fmt: skip
            shapes[sec] = (xyz, np.array([h.arc3d(i, sec=sec) for i in range(n)]) / sec.L)
        xyz, arc = shapes[sec]
        seg = sec(x)
        half = 0.5 / sec.nseg
        for at, out in ((seg.x - half, starts), (seg.x + half, ends)):
            out.append([np.interp(at, arc, xyz[:, k]) for k in range(3)])
        diams.append(seg.diam)
    pivot = (soma_points - centre).mean(axis=0)  # ~0: the rotation centre, as bmtk's
    p0, p1 = np.array(starts) - pivot, np.array(ends) - pivot
    return p0 @ rotation.T + position, p1 @ rotation.T + position, np.array(diams)


def placement(circuit: Any, population: str, node_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(rotation matrix, position) of a node: rotation_angle_x/y/zaxis (Rx Ry Rz), x/y/z."""
    from engine.stimuli.efield import euler_rotation

    manager = circuit.node_managers[population]
    ids = np.array([node_id], dtype=np.uint64)

    def value(name: str) -> float:
        return float(manager.attribute(name, ids)[0]) if manager.has_attribute(name) else 0.0

    return euler_rotation(*(value(a) for a in EULER)), np.array([value(a) for a in POSITION])


def transfer_matrix(
    p0, p1, diam, electrodes: np.ndarray, minimum_distance, sigma: float = SIGMA,
    method: str = "line",
) -> np.ndarray:  # fmt: skip
    """(channels, segments) mV per nA of each segment's membrane current (LFPykit)."""
    from lfpykit import CellGeometry, LineSourcePotential, PointSourcePotential, lfpcalc

    x, y, z = (np.column_stack([p0[:, k], p1[:, k]]) for k in range(3))
    if method == "point":  # a point source at each segment's midpoint
        model = PointSourcePotential(
            CellGeometry(x=x, y=y, z=z, d=diam), x=electrodes[:, 0].copy(),
            y=electrodes[:, 1].copy(), z=electrodes[:, 2].copy(), sigma=sigma,
        )  # fmt: skip
        return model.get_transformation_matrix()
    if minimum_distance == "auto":
        geometry = CellGeometry(x=x, y=y, z=z, d=diam)
        model = LineSourcePotential(
            geometry, x=electrodes[:, 0].copy(), y=electrodes[:, 1].copy(),
            z=electrodes[:, 2].copy(), sigma=sigma,
        )  # fmt: skip
        return model.get_transformation_matrix()
    limit = np.full(diam.size, float(minimum_distance or 0.0))
    return np.array(
        [lfpcalc.calc_lfp_linesource(x, y, z, *e, sigma, limit) for e in electrodes]
    ).reshape(len(electrodes), diam.size)


def _spec(entry: dict[str, Any]) -> EcpSpec:
    contributions = entry.get("contributions_dir")
    return EcpSpec(
        name=entry["name"],
        electrodes_file=Path(entry["electrodes_file"]),
        path=Path(entry["path"]),
        cells=entry.get("cells") or "",
        minimum_distance=parse_minimum_distance(entry.get("minimum_distance")),
        contributions_dir=Path(contributions) if contributions else None,
    )


class EcpRecorder:
    """One ecp report on this rank: its cells' matrices, a row block, its part file."""

    def __init__(self, spec: EcpSpec, sim: Any, circuit: Any, setup: Any):
        self.spec, self.sim, self.setup = spec, sim, setup
        self.electrodes = read_electrodes(spec.electrodes_file, f"reports.{spec.name}")
        self.n_frames = int(round(setup.run.tstop / setup.run.dt))
        self.cells = self._local_cells(circuit)  # [(gid, population, node id, cell)]
        h = sim.h
        self.matrices, refs = [], []
        positions = self._placements(circuit)
        for gid, _, _, cell in self.cells:
            rotation, origin = positions[gid]
            p0, p1, diam = cell_segments(h, cell, rotation, origin)
            self.matrices.append(
                transfer_matrix(p0, p1, diam, self.electrodes, spec.minimum_distance)
            )
            refs += [
                seg._ref_i_membrane_ for sec in cell.sections if sec is not None for seg in sec
            ]
        self.pointers = h.PtrVector(len(refs)) if refs else None
        for k, ref in enumerate(refs):
            self.pointers.pset(k, ref)
        self.values = h.Vector(len(refs))
        self.bounds = np.cumsum([0] + [m.shape[1] for m in self.matrices])
        width = max(1, len(self.cells) * len(self.electrodes))
        rows = max(1, BLOCK_BYTES // (8 * max(width, len(refs))))
        rows = int(os.environ.get(BATCH_ENV, 0) or rows)  # 1: a product per step (benchmark)
        self.block = np.zeros((rows, width))
        self.currents = np.zeros((rows, len(refs)))  # i_membrane_ rows of the batch (nA)
        self.filled = 0
        self.frame = 0
        self.part = spec.path.with_name(f"{spec.path.name}.rank{sim.rank}.tmp-{os.getpid()}")
        self._file = h5py.File(self.part, "w")
        self._data = self._file.create_dataset("data", (self.n_frames, width if self.cells else 0))

    def _local_cells(self, circuit: Any) -> list[tuple[int, str, int, Any]]:
        from engine.managers.cells import points as points_module

        if self.spec.cells:
            points = points_module.local_target_points(
                circuit, self.spec.cells, key=f"reports.{self.spec.name}.cells"
            )
        else:
            points = points_module.points_on_target(circuit, circuit.simulated)
        cells = {}
        for p in points:
            if not getattr(p.cell, "is_artificial", False) and getattr(p.cell, "sections", None):
                cells[p.gid] = (p.gid, p.population, p.node_id, p.cell)
        return [cells[g] for g in sorted(cells)]

    def _placements(self, circuit: Any) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        return {gid: placement(circuit, pop, node) for gid, pop, node, _ in self.cells}

    def sample(self) -> None:
        """One frame: this step's i_membrane_ into the batch (one compiled gather)."""
        if self.frame >= self.n_frames:
            return
        if self.pointers is not None:
            self.pointers.gather(self.values)
            self.currents[self.filled] = self.values.as_numpy()
        self.filled += 1
        self.frame += 1
        if self.filled == self.block.shape[0]:
            self.write_block()

    def write_block(self) -> None:
        """The batch's rows: per cell, currents [rows x segments] @ M.T, then to the part."""
        if self.filled and self.cells:
            n, rows = len(self.electrodes), self.filled
            for k, matrix in enumerate(self.matrices):
                chunk = self.currents[:rows, self.bounds[k] : self.bounds[k + 1]]
                self.block[:rows, k * n : (k + 1) * n] = chunk @ matrix.T
            start = self.frame - self.filled
            self._data[start : self.frame] = self.block[:rows]
        self.filled = 0

    def close(self) -> tuple[str, list[tuple[int, int]]]:
        self.write_block()
        self._file.close()
        return str(self.part), [(gid, node_id) for gid, _, node_id, _ in self.cells]

    def discard(self) -> None:
        if self._file.id.valid:
            self._file.close()
        self.part.unlink(missing_ok=True)


def assemble(spec: EcpSpec, parts: list[tuple[str, list[tuple[int, int]]]], run: Any, n: int):
    """Rank 0: sum the cells in gid order, block by block, into bmtk's layout."""
    order = sorted(
        (gid, node, r, k)
        for r, (_, cells) in enumerate(parts)
        for k, (gid, node) in enumerate(cells)
    )
    files = [h5py.File(path, "r") for path, _ in parts]
    n_frames = int(round(run.tstop / run.dt))
    rows = max(1, BLOCK_BYTES // (8 * max(1, n * max(1, len(order)))))
    target = temporary_name(spec.path)
    cell_files = {}
    if spec.contributions_dir is not None:
        spec.contributions_dir.mkdir(parents=True, exist_ok=True)
        for _, node, _, _ in order:
            path = temporary_name(spec.contributions_dir / f"{node}.h5")
            cell_files[node] = (h5py.File(path, "w"), path)
            cell_files[node][0].create_dataset("/ecp/data", (n_frames, n), dtype=np.float64)
    try:
        with h5py.File(target, "w") as out:
            data = out.create_dataset("/ecp/data", (n_frames, n), dtype=np.float64)
            data.attrs["units"] = "mV"
            out.create_dataset("/ecp/time", data=np.array([0.0, run.tstop, run.dt]))
            out["/ecp/time"].attrs["units"] = "ms"
            out.create_dataset("/ecp/channel_id", data=np.arange(n))
            for start in range(0, n_frames, rows):
                stop = min(n_frames, start + rows)
                total = np.zeros((stop - start, n))
                blocks = [f["data"][start:stop] for f in files]
                for _, node, r, k in order:
                    mine = blocks[r][:, k * n : (k + 1) * n]
                    total += mine
                    if node in cell_files:
                        cell_files[node][0]["/ecp/data"][start:stop] = mine
                data[start:stop] = total
    finally:
        for f in files:
            f.close()
        for handle, _ in cell_files.values():
            handle.close()
    os.replace(target, spec.path)
    for node, (_, path) in cell_files.items():
        os.replace(path, spec.contributions_dir / f"{node}.h5")


class EcpReports:
    """Every ecp report of the run (the Allen translation lists them)."""

    def __init__(self, sim: Any, circuit: Any, setup: Any):
        self.sim, self.circuit, self.setup = sim, circuit, setup
        translation = getattr(setup, "translation", None)
        self.specs = [_spec(d) for d in getattr(translation, "ecp_reports", []) or []]
        self.recorders: list[EcpRecorder] = []
        self._handlers: list[Any] = []

    def create(self) -> None:
        if not self.specs:
            return
        h = self.sim.h
        h.define_shape()  # as bmtk after model processing: 3-d points for the axon stubs
        h.cvode.use_fast_imem(1)
        self.recorders = [EcpRecorder(s, self.sim, self.circuit, self.setup) for s in self.specs]
        self._handlers.append(h.FInitializeHandler(3, self._restart))
        h.cvode.extra_scatter_gather(0, self._after_step)

    def _restart(self) -> None:
        for recorder in self.recorders:
            recorder.frame = recorder.filled = 0
            recorder.sample()

    def _after_step(self) -> None:
        for recorder in self.recorders:
            recorder.sample()

    def finalize(self) -> None:
        if not self.recorders:
            return
        self.sim.h.cvode.extra_scatter_gather_remove(self._after_step)
        local = [r.close() for r in self.recorders]
        gathered = self.sim.gather(local, 0)
        if self.sim.is_root:
            for index, recorder in enumerate(self.recorders):
                parts = [g[index] for g in gathered]
                assemble(recorder.spec, parts, self.setup.run, len(recorder.electrodes))
        self.sim.barrier()
        for recorder in self.recorders:
            recorder.discard()

    def discard(self) -> None:
        for recorder in self.recorders:
            recorder.discard()
