"""The independent route for NeuroML cells: jNeuroML's NEURON export of the same model.

Writes a one-cell NeuroML network (our cell file, a pulseGenerator at the soma centre,
a temperature) and its LEMS simulation with pyNeuroML, has jNeuroML (Java, test time only)
generate NEURON code (`pynml LEMS_*.xml -neuron -nogui`), compiles its .mod files with the
venv's nrnivmodl and runs the generated script with NEURON, all in `workdir`. Returns soma
voltage (mV, one sample per dt from t = 0) and spike times (ms).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import neuroml as nml
import numpy as np
from neuroml.writers import NeuroMLWriter

BIN = Path(sys.executable).parent


def run_jneuroml(
    workdir: Path,
    cell_file: Path,
    cell_id: str,
    *,
    amplitude_na: float,
    delay: float,
    duration: float,
    tstop: float,
    dt: float,
    celsius: float,
) -> tuple[np.ndarray, np.ndarray]:
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cell_file, workdir / cell_file.name)
    doc = nml.NeuroMLDocument(id="reference_net")
    doc.includes.append(nml.IncludeType(href=cell_file.name))
    doc.pulse_generators.append(
        nml.PulseGenerator(
            id="soma_pulse_input",
            delay=f"{delay}ms",
            duration=f"{duration}ms",
            amplitude=f"{amplitude_na}nA",
        )
    )
    net = nml.Network(id="net", type="networkWithTemperature", temperature=f"{celsius} degC")
    population = nml.Population(id="pop", component=cell_id, type="populationList", size=1)
    population.instances.append(nml.Instance(id=0, location=nml.Location(x=0.0, y=0.0, z=0.0)))
    net.populations.append(population)
    inputs = nml.InputList(id="stims", populations="pop", component="soma_pulse_input")
    inputs.input.append(
        nml.Input(
            id=0,
            target=f"../pop/0/{cell_id}",
            destination="synapses",
            segment_id=0,
            fraction_along=0.5,
        )
    )
    net.input_lists.append(inputs)
    doc.networks.append(net)
    NeuroMLWriter.write(doc, str(workdir / "reference_net.net.nml"))

    from pyneuroml.lems import LEMSSimulation

    sim = LEMSSimulation("reference", duration=tstop, dt=dt, target="net")
    sim.include_neuroml2_file("reference_net.net.nml", include_included=False)
    sim.create_output_file("soma", "soma_v.dat")
    sim.add_column_to_output_file("soma", "v", f"pop/0/{cell_id}/v")
    sim.create_event_output_file("spikes", "spikes.dat", format="TIME_ID")
    sim.add_selection_to_event_output_file("spikes", 0, f"pop/0/{cell_id}", "spike")
    lems = sim.save_to_file(str(workdir / "LEMS_reference.xml"))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    _run([str(BIN / "pynml"), Path(lems).name, "-neuron", "-nogui"], workdir, env)
    _run([str(BIN / "nrnivmodl")], workdir, env)
    _run([sys.executable, "LEMS_reference_nrn.py", "-nogui"], workdir, env)
    trace = np.loadtxt(workdir / "soma_v.dat")
    voltage = trace[:, 1] * 1000.0  # V -> mV
    spikes_file = workdir / "spikes.dat"
    times = np.loadtxt(spikes_file, ndmin=2) if spikes_file.stat().st_size else np.zeros((0, 2))
    return voltage, np.sort(times[:, 0] * 1000.0) if times.size else np.zeros(0)


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}"
        )
