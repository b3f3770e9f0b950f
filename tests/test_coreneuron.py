"""CoreNEURON runs the model NEURON built: same spikes, same reports, clear refusals.

Each generated circuit is run twice by the real CLI, `--simulator neuron` and
`--simulator coreneuron` (the wheel's CoreNEURON in memory, mechanisms compiled with
`nrnivmodl -coreneuron`). The NEURON run is the independent route: CoreNEURON integrates
its own copy of the model with its own kernels, so matching spike trains (same count,
same cells, times within 1e-6 ms) and reports (float32 values within 1e-5 relative; the
double values differ by ~1e-10 where the compilers ordered floating point differently)
show that the model, its random streams (stochastic synapses, minis, noise, shot noise),
replayed spikes and gap junctions reached CoreNEURON whole. What CoreNEURON cannot run is
refused before the run with one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.generate.networks import generate_ring
from tests.conftest import run_cli
from tests.test_bbp_support import write_gap_circuit
from tests.test_overrides_support import write_probe_circuit
from tests.test_reports import REPORTS, ring_with_reports, write_electrodes
from tests.test_reproducibility import write_every_stream_circuit

SPIKE_TOLERANCE_MS = 1e-6
RANKS = [1, pytest.param(2, marks=pytest.mark.mpi)]


def run_both(config: Path, root: Path, ranks: int = 1) -> dict[str, Path]:
    outputs = {}
    for simulator in ("neuron", "coreneuron"):
        out = root / f"{simulator}_{ranks}"
        result = run_cli("run", config, "--output-dir", out, "--simulator", simulator, ranks=ranks)
        if simulator == "coreneuron":
            assert "CoreNEURON" in result.stdout + result.stderr
        outputs[simulator] = out
    return outputs


def read_spikes(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(node ids, times) per population, in (time, id) order."""
    with h5py.File(path, "r") as f:
        spikes = {}
        for population, group in f["spikes"].items():
            ids, times = group["node_ids"][...], group["timestamps"][...]
            order = np.lexsort((ids, times))
            spikes[population] = (ids[order], times[order])
        return spikes


def assert_same_spikes(outputs: dict[str, Path], minimum: int = 1) -> int:
    neuron = read_spikes(outputs["neuron"] / "spikes.h5")
    core = read_spikes(outputs["coreneuron"] / "spikes.h5")
    assert sorted(core) == sorted(neuron)
    total = 0
    for population, (ids, times) in neuron.items():
        core_ids, core_times = core[population]
        assert core_ids.size == ids.size, population
        np.testing.assert_array_equal(core_ids, ids, err_msg=population)
        assert np.abs(core_times - times).max(initial=0.0) <= SPIKE_TOLERANCE_MS, population
        total += ids.size
    assert total >= minimum, "the circuit should fire"
    return total


def report_arrays(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[...]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return arrays


def assert_same_reports(outputs: dict[str, Path]) -> list[str]:
    names = sorted(
        str(p.relative_to(outputs["neuron"]))
        for p in outputs["neuron"].rglob("*.h5")
        if p.name != "spikes.h5"
    )
    for name in names:
        neuron = report_arrays(outputs["neuron"] / name)
        core = report_arrays(outputs["coreneuron"] / name)
        assert sorted(core) == sorted(neuron), name
        for key, values in neuron.items():
            if key.endswith("/data"):
                scale = max(1e-12, float(np.abs(values).max(initial=0.0)))
                np.testing.assert_allclose(
                    core[key], values, rtol=1e-5, atol=1e-5 * scale, err_msg=f"{name} {key}"
                )
            else:
                np.testing.assert_array_equal(core[key], values, err_msg=f"{name} {key}")
    return names


def test_ball_and_stick_spikes_and_every_report_type(tmp_path, mechanisms_built):
    config = ring_with_reports(tmp_path / "ring", REPORTS)
    write_electrodes(tmp_path / "ring" / "electrodes.h5", 5)
    outputs = run_both(config, tmp_path)
    assert_same_spikes(outputs, minimum=5)
    names = assert_same_reports(outputs)
    expected = {n for n, r in REPORTS.items() if r.get("enabled", True)}
    assert len(names) == len(expected)


@pytest.mark.parametrize("ranks", RANKS)
def test_bbp_stochastic_synapses_minis_and_noise(tmp_path, mechanisms_built, ranks):
    circuit = write_every_stream_circuit(tmp_path / "bbp")
    outputs = run_both(circuit.simulation_config, tmp_path, ranks)
    assert_same_spikes(outputs, minimum=10)
    assert_same_reports(outputs)


@pytest.mark.parametrize("ranks", RANKS)
def test_replayed_spikes_reach_coreneuron(tmp_path, mechanisms_built, ranks):
    """Virtual fibres' spikes (SonataVecStim: its times cross in bbcore_write/read)."""
    circuit = write_probe_circuit(tmp_path / "probe", mini_rates=([3.0] * 5, [2.0] * 5))
    config = json.loads(circuit.simulation_config.read_text())
    config["run"]["minis_seed"] = 3
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    outputs = run_both(circuit.simulation_config, tmp_path, ranks)
    assert_same_spikes(outputs, minimum=3)


@pytest.mark.parametrize("ranks", RANKS)
def test_gap_junctions(tmp_path, mechanisms_built, ranks):
    circuit = write_gap_circuit(tmp_path / "gap", junction_ids=True)
    outputs = run_both(circuit.simulation_config, tmp_path, ranks)
    spikes = read_spikes(outputs["coreneuron"] / "spikes.h5")
    assert 1 in spikes["pair"][0], "cell 1 fires only through the gap junction"
    assert_same_spikes(outputs)


def assert_refused(config: Path, out: Path, *needles: str) -> None:
    result = run_cli("run", config, "--output-dir", out, "--simulator", "coreneuron", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("sonatasim:")]
    assert len(message) == 1, result.stderr
    for needle in needles:
        assert needle in message[0], message[0]
    assert "Traceback" not in result.stderr
    assert not (out / "spikes.h5").exists()


def test_point_neurons_without_coreneuron_mechanism_are_refused(tmp_path, mechanisms_built):
    circuit = generate_ring(tmp_path / "ring", n_cells=3, cell_kind="point")
    assert_refused(circuit.simulation_config, tmp_path / "out", "IntFire1", "target_simulator")


def test_e_field_is_refused_before_the_run(tmp_path, mechanisms_built):
    circuit = generate_ring(tmp_path / "ring", n_cells=2)
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"]["field"] = {
        "module": "spatially_uniform_e_field", "input_type": "extracellular_stimulation",
        "node_set": "Ring", "delay": 5.0, "duration": 20.0,
        "fields": [{"Ex": 10.0, "Ey": 0.0, "Ez": 0.0}],
    }  # fmt: skip
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    assert_refused(circuit.simulation_config, tmp_path / "out", "spatially_uniform_e_field")


def test_target_simulator_in_the_config_selects_coreneuron(tmp_path, mechanisms_built):
    circuit = generate_ring(tmp_path / "ring", n_cells=3)
    config = json.loads(circuit.simulation_config.read_text())
    config["target_simulator"] = "CORENEURON"
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    result = run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "core")
    assert "CoreNEURON" in result.stdout + result.stderr
    neuron = run_cli(
        "run", circuit.simulation_config, "--output-dir", tmp_path / "nrn", "--simulator", "neuron"
    )
    assert "CoreNEURON" not in neuron.stdout + neuron.stderr
    assert_same_spikes({"neuron": tmp_path / "nrn", "coreneuron": tmp_path / "core"})


def test_coreneuron_builds_are_keyed_apart_from_neuron_builds():
    from engine import mechanisms

    sources = mechanisms.collect_sources([])
    assert mechanisms.build_key(sources, coreneuron=True) != mechanisms.build_key(sources)
    assert mechanisms.build_key(sources, coreneuron=False) == mechanisms.build_key(sources)


def test_coreneuron_compiler_flags_key_their_own_builds(monkeypatch):
    from engine import mechanisms

    sources = mechanisms.collect_sources([])
    generic = mechanisms.build_key(sources, coreneuron=True)
    monkeypatch.setenv(mechanisms.CORENEURON_FLAGS_ENV, " -O3   -march=native ")
    assert mechanisms.coreneuron_flags() == "-O3 -march=native"
    tuned = mechanisms.build_key(sources, coreneuron=True)
    assert tuned not in (generic, mechanisms.build_key(sources))
    monkeypatch.setenv(mechanisms.CORENEURON_FLAGS_ENV, "-O3")
    assert mechanisms.build_key(sources, coreneuron=True) not in (generic, tuned)
