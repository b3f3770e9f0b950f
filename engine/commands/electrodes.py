"""`sonatasim electrodes CONFIG --positions CSV -o FILE`: the `electrodes_file` of lfp reports.

Why: a SONATA `lfp` report needs, per electrode and compartment, the potential per unit of
membrane current (mV/nA); neurodamus users make that file with a separate tool. This
command builds the circuit's cells (our cell building, one rank), takes each compartment's
geometry as our bmtk ecp report does (engine/managers/reports/ecp.py: 3-d points about the
soma, rotated and moved to the node's place) and lets LFPykit compute the coefficients
(line source, or point source at the compartment's middle). Layout read by libsonata's
ElectrodeReader: `/<pop>/node_ids`, `/<pop>/offsets` (rows per node, in the lfp report's
compartment order), `/electrodes/<pop>/scaling_factors` [compartments x electrodes],
`/electrodes/<name>/{position, type, <pop>}` (<pop>: the electrode's column).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import numpy as np

from engine.cli import _report_errors
from engine.errors import UserError


def parse_minimum(value: str | None) -> float | str | None:
    """--minimum-distance: "auto" (segment radius), a number in um, or none."""
    if value is None or value == "auto":
        return value
    try:
        return max(float(value), 0.0)
    except ValueError:
        raise UserError(f"--minimum-distance must be a number or 'auto', got {value!r}") from None


def cell_factors(h: Any, circuit: Any, point: Any, electrodes: np.ndarray, options: dict) -> Any:
    """[compartments x electrodes] mV/nA of one cell, in the lfp report's compartment order."""
    from engine.managers.reports.ecp import placement, segment_geometry, transfer_matrix

    segments = [(point.section(s), x) for s, x in zip(point.section_ids, point.xs, strict=True)]
    rotation, position = placement(circuit, point.population, point.node_id)
    p0, p1, diam = segment_geometry(h, point.cell, segments, rotation, position)
    matrix = transfer_matrix(p0, p1, diam, electrodes, options["minimum"], options["sigma"],
                             options["method"])  # fmt: skip
    return matrix.T


def circuit_factors(
    setup: Any, sim: Any, electrodes: np.ndarray, options: dict, mechanisms: list[Path]
) -> dict[str, tuple[list[int], list[np.ndarray]]]:
    """Build the cells and return, per population, node ids and their factor blocks."""
    from engine.managers.cells.points import points_on_target
    from engine.simulation import RunOptions, Simulation

    simulation = Simulation(setup, sim, RunOptions(mechanisms=mechanisms, progress=False))
    simulation.build_cells()
    circuit = simulation.circuit
    sim.h.define_shape()  # as the ecp report: 3-d points for sections built without them
    points = points_on_target(circuit, circuit.simulated, sections="all", compartments="all")
    out: dict[str, tuple[list[int], list[np.ndarray]]] = {}
    for point in sorted(points, key=lambda p: (p.population, p.node_id)):
        if getattr(point.cell, "is_artificial", False) or not point.xs:
            continue
        ids, blocks = out.setdefault(point.population, ([], []))
        ids.append(point.node_id)
        blocks.append(cell_factors(sim.h, circuit, point, electrodes, options))
    return out


def write_electrodes_file(path: Path, factors: dict, electrodes: np.ndarray, kind: str) -> None:
    """The ElectrodeReader layout, written under a temporary name and renamed."""
    import h5py

    from engine.io.atomic import temporary_name

    target = temporary_name(path)
    with h5py.File(target, "w") as f:
        for population, (ids, blocks) in sorted(factors.items()):
            counts = [b.shape[0] for b in blocks]
            f[f"{population}/node_ids"] = np.asarray(ids, dtype=np.uint64)
            f[f"{population}/offsets"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint64)
            f[f"electrodes/{population}/scaling_factors"] = np.vstack(blocks).astype(np.float64)
        for k, position in enumerate(electrodes):
            group = f.create_group(f"electrodes/electrode_{k}")
            group["position"] = np.asarray(position, dtype=np.float32)
            group["type"] = kind
            for population in factors:
                group[population] = np.uint64(k)
    os.replace(target, path)


@click.command("electrodes")
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--positions",
    required=True,
    type=click.Path(path_type=Path),
    help="Electrode csv (space-separated, columns x_pos y_pos z_pos, um; bmtk's).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="The electrodes_file to write (HDF5).",
)
@click.option(
    "--sigma", default=0.3, show_default=True, type=float, help="Extracellular conductivity (S/m)."
)
@click.option(
    "--method",
    type=click.Choice(["line", "point"]),
    default="line",
    show_default=True,
    help="Line source per compartment, or a point at its middle.",
)
@click.option(
    "--minimum-distance",
    default=None,
    help="Line source: closest distance (um) or 'auto' (the compartment's radius).",
)
@click.option(
    "--mechanisms",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra .mod directories (as for run).",
)
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def electrodes(
    config: Path, positions: Path, output: Path, sigma: float, method: str,
    minimum_distance: str | None, mechanisms: tuple[Path, ...], debug: bool,
) -> None:  # fmt: skip
    """Write an lfp report's electrodes_file for CONFIG's cells (LFPykit coefficients)."""
    from engine import simulator as neuron_handle
    from engine.config import load_setup
    from engine.managers.reports.ecp import read_electrodes

    if not sigma > 0:
        raise UserError(f"--sigma must be positive (S/m), got {sigma}")
    options = {"sigma": sigma, "method": method, "minimum": parse_minimum(minimum_distance)}
    points = read_electrodes(positions, "--positions")
    if points.shape[0] == 0:
        raise UserError(f"{positions}: no electrode rows")
    if not output.parent.is_dir():
        raise UserError(f"-o {output}: folder {output.parent} does not exist")
    setup = load_setup(config)
    sim = neuron_handle.start()
    if sim.nranks > 1:
        raise UserError("electrodes runs on one rank; launch it without mpiexec")
    factors = circuit_factors(setup, sim, points, options, [Path(m) for m in mechanisms])
    if not factors:
        raise UserError(f"{config}: no simulated cell has compartments (nothing to write)")
    kind = "LineSource" if method == "line" else "PointSource"
    write_electrodes_file(output, factors, points, kind)
    cells = sum(len(ids) for ids, _ in factors.values())
    click.echo(f"wrote {output}: {len(points)} electrodes, {cells} cells ({method} source)")


COMMANDS = [electrodes]
