"""`convert --to sonata` of NeuroML rampGenerator (with a baseline), sineGenerator with a
phase (and without) and the DL variants: the written input blocks and current traces
re-read with libsonata / h5py, and the converted model run by sonatasim against a
plain-NEURON passive cell whose IClamps play the NeuroML2 ComponentTypes' waveforms
(evaluated here from their equations on a grid 4x finer than dt, steps as double points);
the way back to NeuroML (ramps as rampGenerators, a current replay refused)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import libsonata
import numpy as np
import pytest

from engine.dialects.neuroml import units
from engine.dialects.neuroml.lems import LemsSimulation, OutputFile, write_lems
from tests.conftest import run_cli
from tests.neuroml_reference import sonatasim_voltage
from tests.test_neuroml_poisson_inputs import CELL, passive_document

LENGTH, DT = 300.0, 0.025
# (id, kind, delay, duration, parameters in nA / ms / rad)
RAMP = ("ramp_up", "ramp", 50.0, 150.0, {"start": 0.02, "finish": 0.1, "baseline": 0.01})
THETA = ("theta_phase", "sine", 0.0, 250.0, {"amplitude": 0.05, "period": 40.0, "phase": 1.2})
LATE = ("late_sine", "sine", 30.01, 200.0, {"amplitude": 0.03, "period": 25.0, "phase": -2.0})
PLAIN = ("plain_sine", "sine", 20.0, 100.0, {"amplitude": 0.02, "period": 50.0, "phase": 0.0})
# cell -> [(generator, weight)]
DRIVES = {0: [(RAMP, 1.0), (PLAIN, 1.0)], 1: [(THETA, 1.0)], 2: [(RAMP, 0.5), (LATE, 1.0)]}


def neuroml_current(generator: tuple, t: np.ndarray) -> np.ndarray:
    """The generator's current (nA) at times t, from the NeuroML2 ComponentType."""
    _, kind, delay, duration, p = generator
    inside = (t >= delay) & (t < delay + duration)
    if kind == "ramp":
        ramp = p["start"] + (p["finish"] - p["start"]) * (t - delay) / duration
        return np.where(inside, ramp, p["baseline"])
    wave = p["amplitude"] * np.sin(p["phase"] + 2 * np.pi * (t - delay) / p["period"])
    return np.where(inside, wave, 0.0)


def _generators(doc) -> None:
    import neuroml

    def timing(generator: tuple) -> dict:
        return {"id": generator[0], "delay": f"{generator[2]}ms", "duration": f"{generator[3]}ms"}

    p = RAMP[4]
    amplitudes = {
        "start_amplitude": f"{p['start'] * 1000}pA",
        "finish_amplitude": f"{p['finish']}nA",
    }
    doc.ramp_generators.append(
        neuroml.RampGenerator(**timing(RAMP), **amplitudes, baseline_amplitude=f"{p['baseline']}nA")
    )
    for generator in (THETA, LATE, PLAIN):
        p = generator[4]
        shape = {"period": f"{p['period']}ms", "phase": str(p["phase"])}
        doc.sine_generators.append(
            neuroml.SineGenerator(**timing(generator), amplitude=f"{p['amplitude']}nA", **shape)
        )
    doc.sine_generator_dls.append(
        neuroml.SineGeneratorDL(
            id="sine_dl", delay="5ms", duration="50ms", amplitude="2", period="10ms", phase="0"
        )
    )
    doc.ramp_generator_dls.append(
        neuroml.RampGeneratorDL(
            id="ramp_dl",
            delay="10ms",
            duration="20ms",
            start_amplitude="1",
            finish_amplitude="3",
            baseline_amplitude="0.5",
        )
    )


def _write_model(directory: Path) -> Path:
    """Three passive iaf cells driven as DRIVES says (input lists with weights, THETA as
    an explicitInput) and an izhikevichCell (the dimensionless cell) with a rampGeneratorDL and a sineGeneratorDL."""
    import neuroml
    import neuroml.writers

    directory.mkdir(parents=True, exist_ok=True)
    doc = passive_document("current_inputs")
    _generators(doc)
    doc.izhikevich_cells.append(
        neuroml.IzhikevichCell(
            id="izh", v0="-70mV", thresh="30mV", a="0.02", b="0.2", c="-65", d="6"
        )
    )
    net = neuroml.Network(id="current_net")
    doc.networks.append(net)
    net.populations.append(neuroml.Population(id="L5_cells", component="passive_iaf", size=3))
    net.populations.append(neuroml.Population(id="izh_cells", component="izh", size=1))
    for generator in (RAMP, LATE, PLAIN):
        inputs = neuroml.InputList(
            id=f"{generator[0]}_in", component=generator[0], populations="L5_cells"
        )
        for cell, drives in DRIVES.items():
            for gen, weight in drives:
                if gen is generator:
                    inputs.input_ws.append(
                        neuroml.InputW(
                            id=len(inputs.input_ws),
                            target=f"../L5_cells[{cell}]",
                            destination="synapses",
                            weight=weight,
                        )
                    )
        net.input_lists.append(inputs)
    net.explicit_inputs.append(
        neuroml.ExplicitInput(target="L5_cells[1]", input=THETA[0], destination="synapses")
    )
    for dl in ("ramp_dl", "sine_dl"):
        net.explicit_inputs.append(
            neuroml.ExplicitInput(target="izh_cells[0]", input=dl, destination="synapses")
        )
    net_file = directory / "currents.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    lems = directory / "LEMS_currents.xml"
    output = OutputFile("v", "v.dat", [(f"c{i}", f"L5_cells[{i}]/v") for i in DRIVES])
    write_lems(
        lems, LemsSimulation("current_sim", net.id, LENGTH, DT, 5, [net_file.name], [output])
    )
    return lems


def _plain_neuron(cell: int) -> np.ndarray:
    """Passive point cell (pas at the cell's C and g), one IClamp per generator with the
    NeuroML waveform played (interpolated) from a grid of DT/4 plus both sides of each step."""
    from neuron import h

    h.load_file("stdrun.hoc")
    sec = h.Section(name=f"plain{cell}")
    sec.L = sec.diam = 10.0
    area_cm2 = np.pi * 10e-4 * 10e-4
    sec.cm = CELL["C"] * 1e-3 / area_cm2
    sec.insert("pas")
    sec(0.5).pas.g = CELL["g"] * 1e-9 / area_cm2
    sec(0.5).pas.e = CELL["e"]
    keep = []
    for generator, weight in DRIVES[cell]:
        delay, duration = generator[2], generator[3]
        grid = np.arange(0.0, LENGTH + DT, DT / 4)
        edges = np.array([delay, delay + duration])
        times = np.sort(np.concatenate([grid[~np.isin(grid, edges)], edges, edges]))
        values = weight * neuroml_current(generator, times)
        for edge in edges:  # left point of each step: the value just before it
            left = int(np.searchsorted(times, edge))
            values[left] = weight * neuroml_current(generator, np.array([edge - 1e-9]))[0]
        clamp = h.IClamp(sec(0.5))
        clamp.delay, clamp.dur = 0.0, 1e9
        tvec, ivec = h.Vector(times), h.Vector(values)
        ivec.play(clamp._ref_amp, tvec, 1)
        keep += [clamp, tvec, ivec]
    v = h.Vector().record(sec(0.5)._ref_v, DT)
    h.dt, h.tstop = DT, LENGTH
    h.finitialize(CELL["e"])
    h.continuerun(LENGTH)
    return np.array(v)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    base = tmp_path_factory.mktemp("current_inputs")
    out = base / "sonata"
    run_cli("convert", _write_model(base / "model"), "--to", "sonata", "-o", out)
    return out


def test_written_blocks_and_traces(converted):
    simulation = libsonata.SimulationConfig.from_file(str(converted / "simulation_config.json"))
    modules = {n: str(simulation.input(n).module.name) for n in simulation.list_input_names}
    assert modules == {
        "ramp_up_in__w0": "linear",
        "ramp_up_in__w0__baseline": "linear",
        "ramp_up_in__w1": "linear",
        "ramp_up_in__w1__baseline": "linear",
        "late_sine_in": "replay",
        "plain_sine_in": "sinusoidal",
        "explicitInput0": "replay",
        "explicitInput1": "linear",
        "explicitInput1__baseline": "linear",
        "explicitInput2": "sinusoidal",
    }
    ramp = simulation.input("ramp_up_in__w0")  # weight 0.5 (sorted by weight)
    assert (ramp.delay, ramp.duration) == (50.0, 150.0)
    assert ramp.amp_start == pytest.approx(0.005) and ramp.amp_end == pytest.approx(0.045)
    base = simulation.input("ramp_up_in__w1__baseline")
    assert (base.delay, base.duration, base.amp_start, base.amp_end) == (0, LENGTH, 0.01, 0.01)
    dl = simulation.input("explicitInput1")  # DL: plain numbers, nA on the engine's side
    dl_base = simulation.input("explicitInput1__baseline").amp_start
    assert (dl.amp_start, dl.amp_end, dl_base) == (0.5, 2.5, 0.5)
    sine_dl = simulation.input("explicitInput2")
    assert (sine_dl.amp_start, sine_dl.frequency, sine_dl.delay) == (2.0, 100.0, 5.0)
    plain = simulation.input("plain_sine_in")
    assert (plain.amp_start, plain.frequency, plain.dt) == (0.02, 20.0, DT)
    node_sets = libsonata.NodeSets.from_file(str(converted / "node_sets.json"))
    circuit = libsonata.CircuitConfig.from_file(str(converted / "circuit_config.json"))
    cells = circuit.node_population("L5_cells")
    assert node_sets.materialize("late_sine_in", cells).flatten().tolist() == [2]
    assert node_sets.materialize("ramp_up_in__w1", cells).flatten().tolist() == [0]
    replay = simulation.input("explicitInput0")
    assert replay.interpolate and (replay.delay, replay.duration) == (0.0, 250.0)
    with h5py.File(replay.path) as f:
        group = f["report/L5_cells"]
        start, _, step = group["mapping/time"][:]
        trace = group["data"][:, 0]
        assert group["mapping/node_ids"][:].tolist() == [1]
        assert group["data"].attrs["units"] == "nA"
    times = start + step * np.arange(trace.size)
    assert (start, step, times[-1]) == (0.0, DT, pytest.approx(250.0))
    inside = times - 1e-12 * (times >= 250.0)  # the last sample closes the window
    assert np.allclose(trace, neuroml_current(THETA, inside), atol=1e-12)
    assert trace[0] == pytest.approx(0.05 * np.sin(1.2))  # the phase: not 0 at the delay


def test_run_matches_plain_neuron(converted):
    run_cli("run", converted / "simulation_config.json")
    report = converted / "output" / "v.h5"
    ours_1 = {cell: sonatasim_voltage(report, cell) for cell in DRIVES}
    run_cli("run", converted / "simulation_config.json", ranks=2)
    for cell in DRIVES:  # the traces and ramps reach cells on either rank alike
        assert np.array_equal(sonatasim_voltage(report, cell), ours_1[cell])
    for cell in DRIVES:
        ours = ours_1[cell]
        reference = _plain_neuron(cell)
        n = min(ours.size, reference.size)
        assert n >= LENGTH / DT
        rms = float(np.sqrt(np.mean((ours[:n] - reference[:n]) ** 2)))
        swing = float(np.ptp(reference[:n]))
        print(f"cell {cell}: RMS {rms:.2e} mV over a {swing:.2f} mV swing")
        assert swing > 3.0 and rms < 1e-4, (cell, rms, swing)


def test_export_back_to_neuroml(converted, tmp_path):
    """SONATA -> NeuroML: ramps become rampGenerators (baseline 0) and constant inputs
    pulseGenerators, so the ramp with its baseline block is the same current; a current
    `replay` (the phase-shifted sines) has no NeuroML counterpart and is refused by name."""
    from neuroml.loaders import read_neuroml2_file

    config = converted / "simulation_config.json"
    result = run_cli("convert", config, "--to", "neuroml", "-o", tmp_path / "a", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "explicitInput0 (replay)" in result.stderr and "late_sine_in (replay)" in result.stderr
    content = json.loads(config.read_text())
    content["inputs"] = {k: v for k, v in content["inputs"].items() if v["module"] != "replay"}
    trimmed = converted / "simulation_config_no_replay.json"
    trimmed.write_text(json.dumps(content))
    run_cli("convert", trimmed, "--to", "neuroml", "-o", tmp_path / "b")
    (net_file,) = (tmp_path / "b").glob("*.net.nml")
    doc = read_neuroml2_file(str(net_file))
    ramps = {g.id: g for g in doc.ramp_generators}
    pulses = {g.id: g for g in doc.pulse_generators}
    ramp = ramps["ramp_up_in__w1"]
    amplitudes = [ramp.start_amplitude, ramp.finish_amplitude, ramp.baseline_amplitude]
    assert [units.parse(a, "current") for a in amplitudes] == pytest.approx([0.01, 0.09, 0])
    assert (ramp.delay, ramp.duration) == ("50.0ms", "150.0ms")
    assert units.parse(pulses["ramp_up_in__w1__baseline"].amplitude, "current") == 0.01
    assert sorted(g.id for g in doc.sine_generators) == ["explicitInput2", "plain_sine_in"]


def test_other_inputs_refused(tmp_path):
    """A voltageClamp (no SONATA counterpart converted) in an inputList: exit 2, one line."""
    import neuroml
    from neuroml.loaders import read_neuroml2_file
    from neuroml.writers import NeuroMLWriter

    lems = _write_model(tmp_path / "model")
    net_file = lems.parent / "currents.net.nml"
    doc = read_neuroml2_file(str(net_file))
    doc.voltage_clamps.append(
        neuroml.VoltageClamp(
            id="hold",
            delay="0ms",
            duration="10ms",
            target_voltage="-70mV",
            simple_series_resistance="1e6ohm",
        )
    )
    doc.networks[0].input_lists[0].component = "hold"
    NeuroMLWriter.write(doc, str(net_file))
    result = run_cli("convert", lems, "--to", "sonata", "-o", tmp_path / "out", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "<inputList id=\"ramp_up_in\"> component 'hold' is not a pulseGenerator" in result.stderr
    assert "rampGeneratorDL, poissonFiringSynapse" in result.stderr
    assert "currents.net.nml" in result.stderr
