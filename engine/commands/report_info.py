"""`sonatasim report-info FILE`: what a SONATA report (or spike) file holds, at a glance.

Why: a report is a large matrix whose meaning lives in the mapping datasets; users want
the populations, node and element counts, the time axis and the units without writing
h5py code, and to know whether libsonata (what downstream tools use) can read the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from engine.cli import _report_errors
from engine.errors import UserError


@dataclass
class PopulationInfo:
    """The shape and axes of one population of a report file."""

    name: str
    nodes: int
    elements: int
    min_elements: int
    max_elements: int
    start: float
    end: float
    dt: float
    frames: int
    units: str
    time_units: str
    first_node: int | None
    last_node: int | None


def report_populations(path: Path) -> list[PopulationInfo]:
    """Read the mapping of every population of a report file (h5py, no data is loaded)."""
    import h5py
    import numpy as np

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"not a readable HDF5 file ({exc})", file=str(path)) from None
    with f:
        root = f.get("report")
        if not isinstance(root, h5py.Group):
            raise UserError("no '/report' group: not a SONATA report file", file=str(path))
        out = []
        for name, group in sorted(root.items()):
            try:
                node_ids = np.asarray(group["mapping/node_ids"][...])
                pointers = np.asarray(group["mapping/index_pointers"][...], dtype=np.int64)
                time = group["mapping/time"]
                data = group["data"]
            except KeyError as exc:
                raise UserError(f"incomplete population: {exc}", file=str(path), key=name) from None
            start, end, dt = (float(v) for v in time[...])
            counts = np.diff(pointers)
            out.append(
                PopulationInfo(
                    name=name,
                    nodes=int(node_ids.size),
                    elements=int(data.shape[1]),
                    min_elements=int(counts.min()) if counts.size else 0,
                    max_elements=int(counts.max()) if counts.size else 0,
                    start=start,
                    end=end,
                    dt=dt,
                    frames=int(data.shape[0]),
                    units=_text(data.attrs.get("units", "")),
                    time_units=_text(time.attrs.get("units", "")),
                    first_node=int(node_ids.min()) if node_ids.size else None,
                    last_node=int(node_ids.max()) if node_ids.size else None,
                )
            )
        return out


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _libsonata_check(path: Path, names: list[str]) -> str:
    import libsonata

    try:
        reader = libsonata.ElementReportReader(str(path))
        for name in names:
            reader[name].get_node_ids()
    except Exception as exc:  # any libsonata failure is worth showing, not raising
        return f"cannot read it: {exc}"
    return "reads it"


def _spike_lines(path: Path) -> list[str]:
    from engine.io.spike_file import read_spike_file

    lines = [f"{path}: spike file"]
    for name, (ids, times) in sorted(read_spike_file(path).items()):
        span = f", {times.min():.3f} to {times.max():.3f} ms" if times.size else ""
        lines.append(
            f"  population {name}: {ids.size} spikes from {len(set(ids.tolist()))} nodes{span}"
        )
    return lines


def describe(path: Path) -> list[str]:
    """The lines `report-info` prints."""
    import h5py

    if not path.is_file():
        raise UserError("file not found", file=str(path))
    try:
        with h5py.File(path, "r") as f:
            is_spikes = "spikes" in f and "report" not in f
    except OSError as exc:
        raise UserError(f"not a readable HDF5 file ({exc})", file=str(path)) from None
    if is_spikes:
        return _spike_lines(path)
    populations = report_populations(path)
    lines = [f"{path}: report, {path.stat().st_size / 1e6:.2f} MB"]
    for p in populations:
        nodes = f"{p.nodes} nodes" + (
            f" (ids {p.first_node}..{p.last_node})" if p.first_node is not None else ""
        )
        per_node = (
            f"{p.min_elements}" if p.min_elements == p.max_elements
            else f"{p.min_elements}-{p.max_elements}"
        )  # fmt: skip
        lines += [
            f"  population {p.name}",
            f"    nodes      {nodes}",
            f"    elements   {p.elements} ({per_node} per node)",
            f"    time       {p.start:g} to {p.end:g} {p.time_units}, dt {p.dt:g}"
            f" ({p.frames} frames)",
            f"    units      {p.units or '(none)'}",
        ]
    lines.append(f"  libsonata  {_libsonata_check(path, [p.name for p in populations])}")
    return lines


@click.command("report-info")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def report_info(file: Path, debug: bool) -> None:
    """Show the populations, nodes, elements, time axis and units of a report FILE."""
    for line in describe(file):
        click.echo(line)


COMMANDS = [report_info]
