"""Report blocks of the simulation config, checked and turned into plain settings.

Why a separate step: every rank must reject the same config before any cell is touched by
a report, and the sampling clock (first step, stride, frame count) must be computed once,
the same way for the writer, the sampler and the time axis of the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

REPORT_TYPES = ("compartment", "summation", "synapse", "lfp", "compartment_set")
SINGLE_VARIABLE_TYPES = ("compartment", "synapse", "compartment_set")
_TOKEN = re.compile(r"^\w+(\.\w+)?$")
# Relative tolerance for "is a multiple of dt" and frame counting (times are in ms).
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Variable:
    """One item of `variable_name`: `name`, or `mechanism.name` (mechanism may be empty)."""

    text: str
    mechanism: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Variable:
        if "." in text:
            mechanism, name = text.split(".", 1)
            return cls(text, mechanism, name)
        return cls(text, "", text)


@dataclass
class ReportSpec:
    """One enabled report: what to record, where, and on which clock."""

    name: str
    type: str
    cells: str
    sections: str
    compartments: str
    scaling: str
    variables: list[Variable]
    unit: str
    dt: float
    start_time: float
    end_time: float
    path: Path
    sim_dt: float
    first_step: int
    stride: int
    n_frames: int
    compartment_set: str = ""
    electrodes_file: Path | None = None
    config_path: Path | None = field(default=None, repr=False)

    def frame_time(self, index: int) -> float:
        """Simulation time of frame `index` (a whole number of simulation steps)."""
        return (self.first_step + index * self.stride) * self.sim_dt

    def error(self, message: str, key: str) -> ConfigError:
        return ConfigError(message, file=self.config_path, key=f"reports.{self.name}.{key}")


def _enum(value: Any) -> str:
    return str(value.name) if hasattr(value, "name") else str(value)


def split_variables(text: str) -> list[str]:
    """`"ina, ik"` / `"ina ik"` -> ["ina", "ik"] (comma and/or space separated)."""
    return [t for t in re.split(r"[\s,]+", text.strip()) if t]


def output_path(file_name: str, config_output_dir: Path, output_dir: Path, name: str) -> Path:
    """libsonata resolves file_name against the config's output_dir; follow --output-dir."""
    path = Path(file_name) if file_name else config_output_dir / name
    if path.suffix != ".h5":
        path = path.with_name(path.name + ".h5")
    try:
        return output_dir / path.relative_to(config_output_dir)
    except ValueError:
        return path


def _clock(spec_dt: float, start: float, end: float, sim_dt: float) -> tuple[int, int, int]:
    """(first step, stride in steps, frame count): frames at start, start+dt, ... < end."""
    stride = round(spec_dt / sim_dt)
    first = math.ceil(start / sim_dt - _TOLERANCE)
    n_frames = max(0, math.ceil((end - start) / spec_dt - _TOLERANCE))
    return first, stride, n_frames


def _skip_frames_before(
    time: float, first: int, stride: int, n_frames: int, sim_dt: float
) -> tuple[int, int]:
    """(first step, frames) of the frames at or after `time` (those before were written)."""
    step = round(time / sim_dt)
    skip = min(n_frames, max(0, -(-(step - first) // stride)))
    return first + skip * stride, n_frames - skip


def parse_report(setup: Any, name: str) -> ReportSpec | None:
    """The checked settings of report `name`; None when it is disabled."""
    block = setup.libsonata_config.report(name)
    path = setup.config_path

    def fail(message: str, key: str) -> ConfigError:
        return ConfigError(message, file=path, key=f"reports.{name}.{key}")

    if not block.enabled:
        return None
    kind = _enum(block.type)
    if kind not in REPORT_TYPES:
        raise fail(f"unknown report type '{kind}'", "type")
    sim_dt, tstop = setup.run.dt, setup.run.tstop
    dt, start, end = float(block.dt), float(block.start_time), float(block.end_time)
    if not dt > 0:
        raise fail(f"dt must be positive, got {dt}", "dt")
    ratio = dt / sim_dt
    if ratio < 1 - _TOLERANCE or abs(ratio - round(ratio)) > 1e-6 * max(1.0, ratio):
        raise fail(f"dt {dt} ms must be a whole multiple of the simulation dt {sim_dt} ms", "dt")
    if start < 0:
        raise fail(f"start_time must not be negative, got {start}", "start_time")
    if end < start:
        raise fail(f"end_time {end} is before start_time {start}", "end_time")
    if start >= tstop:
        raise fail(f"start_time {start} is not before tstop {tstop}", "start_time")
    end = min(end, tstop)
    tokens = split_variables(block.variable_name)
    if kind == "lfp":
        if tokens:
            raise fail(
                "lfp reports always record i_membrane; remove variable_name", "variable_name"
            )
        tokens = ["i_membrane"]
    if not tokens:
        raise fail("variable_name is empty", "variable_name")
    for token in tokens:
        if not _TOKEN.match(token):
            raise fail(f"'{token}' is not a variable name (name or MECH.name)", "variable_name")
    if kind in SINGLE_VARIABLE_TYPES and len(tokens) != 1:
        raise fail(f"a {kind} report records exactly one variable, got {tokens}", "variable_name")
    electrodes = None
    if kind == "lfp":
        if not block.electrodes_file:
            raise fail("lfp reports need an electrodes_file", "electrodes_file")
        electrodes = Path(block.electrodes_file)
        if not electrodes.is_file():
            raise fail(f"electrodes file {electrodes} does not exist", "electrodes_file")
    if kind == "compartment_set" and not block.compartment_set:
        raise fail("compartment_set reports need a compartment_set name", "compartment_set")
    sections = _enum(block.sections)
    compartments = _enum(block.compartments)
    if kind == "summation" and sections == "soma":
        compartments = "all"  # the whole cell is summed into one value (element id 0)
    first, stride, n_frames = _clock(dt, start, end, sim_dt)
    if setup.restart_time > 0:  # a restored run writes the frames from its start on
        first, n_frames = _skip_frames_before(setup.restart_time, first, stride, n_frames, sim_dt)
        start = first * sim_dt
    config_out = Path(setup.libsonata_config.output.output_dir)
    return ReportSpec(
        name=name,
        type=kind,
        cells=block.cells or (setup.node_set or ""),
        sections=sections,
        compartments=compartments,
        scaling=_enum(block.scaling),
        variables=[Variable.parse(t) for t in tokens],
        unit=block.unit or "mV",
        dt=dt,
        start_time=start,
        end_time=end,
        path=output_path(block.file_name, config_out, setup.output.output_dir, name),
        sim_dt=sim_dt,
        first_step=first,
        stride=stride,
        n_frames=n_frames,
        compartment_set=block.compartment_set or "",
        electrodes_file=electrodes,
        config_path=path,
    )


def parse_reports(setup: Any) -> list[ReportSpec]:
    """Every enabled report, sorted by name (the order never depends on the rank)."""
    specs = []
    for name in sorted(setup.libsonata_config.list_report_names):
        spec = parse_report(setup, name)
        if spec is not None:
            specs.append(spec)
    paths = [s.path for s in specs]
    for spec in specs:
        if paths.count(spec.path) > 1:
            raise spec.error(f"another report writes the same file {spec.path}", "file_name")
    return specs
