"""Circuits and helpers shared by the tests/test_stimuli_*.py files.

The default test cell is a passive single compartment (a 20 um x 20 um soma cylinder,
g_pas 3e-5 S/cm2, e_pas -65 mV, cm 1 uF/cm2) so that the membrane voltage under any
injected current has a closed-form discrete solution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine.generate.networks import GeneratedCircuit, generate_ring
from engine.generate.templates import PASSIVE, write_template
from tests.conftest import REPO, run_python

RECORD = REPO / "tests" / "drivers" / "stimuli_record.py"
G_PAS, E_PAS, CM = PASSIVE["g_pas"], PASSIVE["e_pas"], PASSIVE["cm"]
SOMA_ONLY_SWC = "1 1 0 0 0 10 -1\n2 1 0 -10 0 10 1\n3 1 0 10 0 10 1\n"


def stimulus_circuit(
    root: Path,
    n_cells: int = 4,
    *,
    tstop: float = 60.0,
    dt: float = 0.025,
    dynamics: dict[str, np.ndarray] | None = None,
    soma_only: bool = True,
    passive: bool = True,
) -> GeneratedCircuit:
    """A ring of biophysical cells whose synapses have weight 0 (inputs act alone),
    with node sets c0..c{n-1} (one cell each) and optional @dynamics attributes."""
    circuit = generate_ring(
        root,
        n_cells,
        cell_kind="biophysical",
        with_virtual_input=False,
        weight=0.0,
        tstop=tstop,
        dt=dt,
    )
    if soma_only:
        (circuit.root / "morphologies" / "ball_stick.swc").write_text(SOMA_ONLY_SWC)
    if passive:
        write_template(circuit.root / "templates" / "RingCell.hoc", "RingCell", passive_only=True)
    if dynamics:
        with h5py.File(circuit.root / "nodes.h5", "r+") as f:
            group = f["nodes/ring/0"].require_group("dynamics_params")
            for name, values in dynamics.items():
                group.create_dataset(name, data=np.asarray(values, dtype=np.float64))
    node_sets = json.loads(circuit.node_sets_file.read_text())
    for i in range(n_cells):
        node_sets[f"c{i}"] = {"population": "ring", "node_id": [i]}
    circuit.node_sets_file.write_text(json.dumps(node_sets, indent=1))
    return circuit


def set_inputs(circuit: GeneratedCircuit, inputs: dict[str, dict[str, Any]], **run: Any) -> Path:
    """Replace the config's inputs (and update `run` keys); returns the config path."""
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"] = inputs
    config["run"].update(run)
    config["conditions"]["v_init"] = E_PAS
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    return circuit.simulation_config


def record(config: Path, out: Path, *flags: str, ranks: int = 1) -> dict[str, np.ndarray]:
    """Run the recording driver; returns its arrays (loaded eagerly)."""
    run_python(RECORD, config, out, *flags, ranks=ranks)
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def passive_voltage(t: np.ndarray, current_mid: np.ndarray, area: float) -> np.ndarray:
    """Backward-Euler membrane voltage of the passive compartment, NEURON's scheme.

    current_mid[n] is the injected current (nA, depolarising positive) during step n
    (NEURON evaluates it at the step's midpoint); area in um2.
    """
    v = np.empty(t.size)
    v[0] = E_PAS
    rate = 1000.0 * G_PAS / CM  # 1/ms
    drive = 1e5 / (CM * area)  # mV/ms per nA
    for n in range(t.size - 1):
        dt = t[n + 1] - t[n]
        v[n + 1] = (v[n] + dt * (rate * E_PAS + drive * current_mid[n])) / (1 + dt * rate)
    return v


def injected(data: dict[str, np.ndarray], name: str, gid: int, k: int = 0) -> np.ndarray:
    """The depolarising current of a current source as recorded (IClamp i or -i)."""
    return -data[f"{name}__{gid}__{k}__i"]
