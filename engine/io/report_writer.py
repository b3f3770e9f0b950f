"""SONATA element report files: the per-rank part written during the run, and the assembly.

Layout (libsonatareport's): `/report/<population>/data` float32 [frames x elements] with
attribute `units`; `/report/<population>/mapping/{node_ids (uint64, attr sorted=1),
index_pointers (uint64), element_ids (uint32), time (float64 [start, end, dt], units ms)}`.

Why this split: without parallel HDF5 each rank writes its own cells to its own file while
the model runs; at the end rank 0 copies the parts, block by block, into one file whose
content is the same for any rank count (nodes in ascending id). The data set is
contiguous, allocated when it is created (no fill value) and its shape known in advance,
so once the HDF5 metadata are written and the file closed, a block of frames is one
`pwrite` at a known offset: from Python (`write`), or from the native sampler's writer
thread, which needs neither h5py nor the GIL (mod/sonatasim_report_sampler.mod).
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from engine.errors import OutputError
from engine.io.atomic import atomic_path

PathLike = str | os.PathLike[str]


@dataclass
class PopulationLayout:
    """The nodes of one population in a file part and their elements (ascending node id)."""

    name: str
    node_ids: np.ndarray  # uint64
    counts: np.ndarray  # elements per node
    element_ids: np.ndarray  # uint32
    column: int = 0  # first column of this population in the writer's rows

    @property
    def n_elements(self) -> int:
        return int(self.element_ids.size)

    def index_pointers(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.uint64)


@dataclass(frozen=True)
class TimeAxis:
    start: float
    end: float
    dt: float
    n_frames: int


def _create_layout(
    f: h5py.File, layouts: list[PopulationLayout], axis: TimeAxis, unit: str
) -> dict[str, h5py.Dataset]:
    datasets = {}
    root = f.create_group("report")
    for layout in layouts:
        group = root.create_group(layout.name)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)  # offset known now, for pwrite
        data = group.create_dataset(
            "data",
            shape=(axis.n_frames, layout.n_elements),
            dtype=np.float32,
            dcpl=dcpl,
            fill_time="never",  # every frame is written; do not write zeros first
        )
        data.attrs["units"] = unit
        mapping = group.create_group("mapping")
        node_ids = mapping.create_dataset("node_ids", data=layout.node_ids.astype(np.uint64))
        node_ids.attrs.create("sorted", 1, dtype=np.uint8)
        mapping.create_dataset("index_pointers", data=layout.index_pointers())
        mapping.create_dataset("element_ids", data=layout.element_ids.astype(np.uint32))
        times = np.array([axis.start, axis.end, axis.dt], dtype=np.float64)
        mapping.create_dataset("time", data=times).attrs["units"] = "ms"
        datasets[layout.name] = data
    return datasets


class ReportPartWriter:
    """Writes blocks of frames (all of this rank's columns) into one HDF5 file.

    The file's structure is complete when this object exists; data go in by `pwrite`
    through `fd`, to the offsets of `plan()`.
    """

    def __init__(self, path: Path, layouts: list[PopulationLayout], axis: TimeAxis, unit: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.layouts = layouts
        self.axis = axis
        self.rows_written = 0
        self.blocks = 0
        self.seconds = 0.0
        started = time.perf_counter()
        with h5py.File(self.path, "w") as f:
            datasets = _create_layout(f, layouts, axis, unit)
            self.offsets = [_data_offset(datasets[lay.name], self.path) for lay in layouts]
        self.fd: int | None = os.open(self.path, os.O_RDWR)
        end = max(
            (
                o + 4 * axis.n_frames * lay.n_elements
                for o, lay in zip(self.offsets, layouts, strict=True)
            ),
            default=0,
        )
        if os.fstat(self.fd).st_size < end:
            os.ftruncate(self.fd, end)  # frames never written (a failed run) read as 0
        self.seconds += time.perf_counter() - started

    def plan(self) -> list[float]:
        """(byte offset of frame 0, first column, columns) per population, flattened."""
        return [
            float(v)
            for offset, lay in zip(self.offsets, self.layouts, strict=True)
            for v in (offset, lay.column, lay.n_elements)
        ]

    def write(self, block: np.ndarray) -> None:
        """Write the next `block.shape[0]` frames; columns as in the layouts."""
        rows = int(block.shape[0])
        if rows == 0:
            return
        if self.rows_written + rows > self.axis.n_frames:
            raise ValueError(f"{self.path}: more frames than the {self.axis.n_frames} expected")
        started = time.perf_counter()
        for offset, layout in zip(self.offsets, self.layouts, strict=True):
            columns = block[:, layout.column : layout.column + layout.n_elements]
            data = np.ascontiguousarray(columns, dtype=np.float32)
            position = offset + 4 * self.rows_written * layout.n_elements
            self._write_fully(memoryview(data).cast("B"), position)
        self.rows_written += rows
        self.blocks += 1
        self.seconds += time.perf_counter() - started

    def _write_fully(self, data: memoryview, position: int) -> None:
        assert self.fd is not None
        try:
            while data:
                n = os.pwrite(self.fd, data, position)
                if n == 0:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                data, position = data[n:], position + n
        except OSError as exc:
            raise write_failed(self.path, exc.errno or errno.EIO) from None

    def close(self) -> None:
        if self.fd is not None:
            started = time.perf_counter()
            os.close(self.fd)
            self.fd = None
            self.seconds += time.perf_counter() - started


def write_failed(path: Path, error_number: int) -> OutputError:
    """The message for a report write that the system refused (disk full, quota, ...)."""
    return OutputError(f"could not write the report: {os.strerror(error_number)}", file=str(path))


def _data_offset(dataset: h5py.Dataset, path: Path) -> int:
    if dataset.size == 0:
        return 0
    offset = dataset.id.get_offset()
    if offset is None:  # not contiguous or not allocated: cannot happen with _create_layout
        raise RuntimeError(f"{path}: the report data set has no contiguous storage")
    return int(offset)


@dataclass
class FilePart:
    """What rank 0 needs to copy one rank's part: its file and layouts (None if empty)."""

    path: str | None
    layouts: list[PopulationLayout]


def _merge(name: str, parts: list[FilePart]) -> tuple[PopulationLayout, list[tuple]]:
    """Global layout of one population and, per part, (path, global columns)."""
    pieces = []
    for part in parts:
        for layout in part.layouts:
            if layout.name == name and layout.node_ids.size:
                pieces.append((part.path, layout))
    node_ids = np.concatenate([p[1].node_ids for p in pieces]).astype(np.uint64)
    if np.unique(node_ids).size != node_ids.size:
        raise ValueError(f"population {name}: a node is reported by several ranks")
    order = np.argsort(node_ids, kind="stable")
    counts = np.concatenate([p[1].counts for p in pieces]).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts[order])])  # global first column per node
    node_start = np.empty_like(counts)
    node_start[order] = starts[:-1]
    element_ids = np.empty(int(counts.sum()), dtype=np.uint32)
    copies, k = [], 0
    for path, layout in pieces:
        columns = []
        local_ptr = layout.index_pointers().astype(np.int64)
        for i in range(layout.node_ids.size):
            begin = node_start[k]
            columns.append(np.arange(begin, begin + counts[k], dtype=np.int64))
            element_ids[begin : begin + counts[k]] = layout.element_ids[
                local_ptr[i] : local_ptr[i + 1]
            ]
            k += 1
        cols = np.concatenate(columns) if columns else np.zeros(0, np.int64)
        copies.append((path, layout.name, cols))
    merged = PopulationLayout(name, node_ids[order], counts[order], element_ids)
    return merged, copies


def assemble_report(
    path: PathLike, parts: list[FilePart], axis: TimeAxis, unit: str, block_bytes: int
) -> None:
    """Write the final report at `path` (atomically) from the parts of every rank."""
    names = sorted({lay.name for part in parts for lay in part.layouts if lay.node_ids.size})
    merged = [_merge(name, parts) for name in names]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        data = _create_layout(f, [m[0] for m in merged], axis, unit)
        sources = {p.path: h5py.File(p.path, "r") for p in parts if p.path is not None}
        try:
            for layout, copies in merged:
                width = max(1, layout.n_elements)
                rows = max(1, min(axis.n_frames, block_bytes // (4 * width)))
                for start in range(0, axis.n_frames, rows):
                    stop = min(start + rows, axis.n_frames)
                    block = np.empty((stop - start, layout.n_elements), dtype=np.float32)
                    for source, name, columns in copies:
                        part = sources[source][f"report/{name}/data"][start:stop, :]
                        block[:, columns] = part
                    data[layout.name][start:stop, :] = block
        finally:
            for handle in sources.values():
                handle.close()
