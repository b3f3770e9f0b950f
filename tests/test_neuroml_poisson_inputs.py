"""`convert --to sonata` of NeuroML Poisson-synapse inputs (poissonFiringSynapse,
transientPoissonFiringSynapse): the written virtual populations, edges and spike file
re-read with libsonata; the trains' statistics (rate, transient window); and the synapse's
effect: the converted model run by sonatasim against a plain-NEURON cell (pas + Exp2Syn)
fed the spike times read back from the written spike file."""

from __future__ import annotations

from pathlib import Path

import libsonata
import numpy as np
import pytest

from engine.dialects.neuroml.lems import LemsSimulation, OutputFile, write_lems
from engine.dialects.neuroml.to_sonata_simulation import convert_model
from tests.conftest import run_cli
from tests.neuroml_reference import sonatasim_voltage

CELL = {"C": 0.1, "g": 5.0, "e": -65.0}  # nF, nS, mV (tau 20 ms)
SYN = {"gbase": 2.0, "erev": 0.0, "rise": 0.5, "decay": 5.0}  # nS, mV, ms
RATE, BURST_RATE = 50.0, 100.0  # Hz


def add_synapse(doc, ident: str, gbase: float, rate: float | None = None) -> None:
    """An expTwoSynapse `ident` (SYN's kinetics, gbase nS) and, with a rate (Hz), the
    poissonFiringSynapse `background` driving it."""
    import neuroml

    doc.exp_two_synapses.append(
        neuroml.ExpTwoSynapse(
            id=ident,
            gbase=f"{gbase}nS",
            erev=f"{SYN['erev']}mV",
            tau_rise=f"{SYN['rise']}ms",
            tau_decay=f"{SYN['decay']}ms",
        )
    )
    if rate is not None:
        doc.poisson_firing_synapses.append(
            neuroml.PoissonFiringSynapse(
                id="background", average_rate=f"{rate}Hz", synapse=ident, spike_target=f"./{ident}"
            )
        )


def add_burst(doc, rate: float, window: tuple[float, float], synapse: str) -> None:
    """The transientPoissonFiringSynapse `burst` (rate Hz over window = (delay, duration) ms)."""
    import neuroml

    doc.transient_poisson_firing_synapses.append(
        neuroml.TransientPoissonFiringSynapse(
            id="burst",
            average_rate=f"{rate}Hz",
            delay=f"{window[0]}ms",
            duration=f"{window[1]}ms",
            synapse=synapse,
            spike_target=f"./{synapse}",
        )
    )


def passive_document(doc_id: str):
    """A NeuroML document with the passive iaf cell `passive_iaf` (threshold never reached)
    and the expTwoSynapse `syn_ampa_fast` of CELL and SYN."""
    import neuroml

    doc = neuroml.NeuroMLDocument(id=doc_id)
    doc.iaf_cells.append(
        neuroml.IafCell(
            id="passive_iaf",
            C=f"{CELL['C']}nF",
            thresh="100mV",
            reset="-65mV",
            leak_conductance=f"{CELL['g']}nS",
            leak_reversal=f"{CELL['e']}mV",
        )
    )
    add_synapse(doc, "syn_ampa_fast", SYN["gbase"])
    return doc


def _write_model(directory: Path, length: float, burst: tuple[float, float], seed: int = 7):
    """Three passive iaf cells (threshold never reached); a Poisson inputList onto all three
    (weights 1, 0.5, 1) and a transient one (two inputs) onto cell 2; an explicitInput; a
    spikeGeneratorPoisson population (same stream, no edges); an explicit current step
    onto cell 0."""
    import neuroml
    import neuroml.writers

    directory.mkdir(parents=True, exist_ok=True)
    doc = passive_document("poisson_inputs")
    doc.poisson_firing_synapses.append(
        neuroml.PoissonFiringSynapse(
            id="background",
            average_rate=f"{RATE}Hz",
            synapse="syn_ampa_fast",
            spike_target="./syn_ampa_fast",
        )
    )
    add_burst(doc, BURST_RATE, burst, "syn_ampa_fast")
    doc.spike_generator_poissons.append(
        neuroml.SpikeGeneratorPoisson(id="thalamic_drive", average_rate=f"{RATE}Hz")
    )
    net = neuroml.Network(id="poisson_net")
    doc.networks.append(net)
    net.populations.append(
        neuroml.Population(id="thalamus_fibres", component="thalamic_drive", size=2)
    )
    net.populations.append(neuroml.Population(id="L4_cells", component="passive_iaf", size=3))
    noise = neuroml.InputList(id="background_in", component="background", populations="L4_cells")
    for i, w in enumerate((1.0, 0.5, 1.0)):
        noise.input_ws.append(
            neuroml.InputW(id=i, target=f"../L4_cells[{i}]", destination="synapses", weight=w)
        )
    bursts = neuroml.InputList(id="burst_in", component="burst", populations="L4_cells")
    for i in range(2):
        bursts.input.append(neuroml.Input(id=i, target="../L4_cells[2]", destination="synapses"))
    net.input_lists.extend([noise, bursts])
    net.explicit_inputs.append(
        neuroml.ExplicitInput(target="L4_cells[1]", input="background", destination="synapses")
    )
    doc.pulse_generators.append(
        neuroml.PulseGenerator(id="step", delay="250ms", duration="100ms", amplitude="0.05nA")
    )
    net.explicit_inputs.append(
        neuroml.ExplicitInput(target="L4_cells[0]", input="step", destination="synapses")
    )
    net_file = directory / "poisson.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    lems = directory / "LEMS_poisson.xml"
    columns = [(f"c{i}", f"L4_cells[{i}]/v") for i in (0, 2)]
    write_lems(
        lems,
        LemsSimulation(
            "poisson_sim",
            net.id,
            length,
            0.025,
            seed,
            [net_file.name],
            [OutputFile("v", "poisson.v.dat", columns)],
            [],
        ),
    )
    return lems


def _spikes(path: Path) -> dict[str, list[np.ndarray]]:
    """population -> per node spike times, read back with libsonata."""
    reader = libsonata.SpikeReader(str(path))
    result = {}
    for name in reader.get_population_names():
        pairs = reader[name].get()
        nodes = max((int(n) for n, _ in pairs), default=-1) + 1
        result[name] = [np.sort([t for n, t in pairs if n == k]) for k in range(nodes)]
    return result


@pytest.fixture(scope="module")
def long_model(tmp_path_factory):
    base = tmp_path_factory.mktemp("poisson_long")
    lems = _write_model(base / "model", 20000.0, (2000.0, 10000.0))
    config = convert_model(lems, base / "sonata")
    return config.parent


def test_written_populations_edges_and_spikes(long_model):
    circuit = libsonata.CircuitConfig.from_file(str(long_model / "circuit_config.json"))
    assert sorted(circuit.node_populations) == [
        "L4_cells",
        "background_in",
        "burst_in",
        "explicitInput0",
        "thalamus_fibres",
    ]
    sizes = {n: circuit.node_population(n).size for n in circuit.node_populations}
    assert sizes == {
        "L4_cells": 3,
        "background_in": 3,
        "burst_in": 2,
        "explicitInput0": 1,
        "thalamus_fibres": 2,
    }
    expected = {
        "background_in_synapses": ([0, 1, 2], [1.0, 0.5, 1.0]),
        "burst_in_synapses": ([2, 2], [1.0, 1.0]),
        "explicitInput0_synapses": ([1], [1.0]),
    }
    assert sorted(circuit.edge_populations) == sorted(expected)
    for name, (targets, weights) in expected.items():
        pop = circuit.edge_population(name)
        every = libsonata.Selection([(0, pop.size)])
        assert pop.target == "L4_cells" and pop.source == name.removesuffix("_synapses")
        assert pop.target_nodes(every).tolist() == targets
        assert pop.source_nodes(every).tolist() == list(range(len(targets)))
        assert pop.get_attribute("syn_weight", every).tolist() == weights
        assert pop.get_attribute("delay", every).tolist() == [0.0] * len(targets)
        templates = set(pop.get_attribute("model_template", every))
        assert templates == {"nml:syn_ampa_fast.synapse.nml"}
    assert (long_model / "synapses/syn_ampa_fast.synapse.nml").is_file()
    spikes = _spikes(long_model / "input_spikes.h5")
    assert {k: len(v) for k, v in spikes.items()} == {
        "background_in": 3,
        "burst_in": 2,
        "explicitInput0": 1,
        "thalamus_fibres": 2,
    }
    simulation = libsonata.SimulationConfig.from_file(str(long_model / "simulation_config.json"))
    assert sorted(simulation.list_input_names) == ["explicitInput1", "neuroml_spike_sources"]
    step = simulation.input("explicitInput1")
    assert (step.delay, step.duration, step.amp_start, step.amp_end) == (250, 100, 0.05, 0.05)
    node_sets = libsonata.NodeSets.from_file(str(long_model / "node_sets.json"))
    cells = circuit.node_population("L4_cells")
    assert node_sets.materialize(step.node_set, cells).flatten().tolist() == [0]


def test_rates_and_transient_window(long_model):
    spikes = _spikes(long_model / "input_spikes.h5")
    trains = [*spikes["background_in"], *spikes["explicitInput0"], *spikes["thalamus_fibres"]]
    for train in trains:
        assert abs(train.size / (RATE * 20.0) - 1) < 0.1  # 1000 expected, sd 32
        gaps = np.diff(train)
        assert abs(gaps.std() / gaps.mean() - 1) < 0.1  # exponential intervals: CV 1
        assert train.min() >= 0 and train.max() < 20000.0
    for train in spikes["burst_in"]:
        assert train.min() >= 2000.0 and train.max() < 12000.0
        assert train.min() < 2050.0 and train.max() > 11950.0
        assert abs(train.size / (BURST_RATE * 10.0) - 1) < 0.1
    trains = [tuple(t) for trains in spikes.values() for t in trains]
    assert len(set(trains)) == len(trains)  # independent streams


def test_draws_keyed_by_seed_not_by_run(tmp_path):
    lems = _write_model(tmp_path / "model", 500.0, (100.0, 200.0))
    runs = [convert_model(lems, tmp_path / f"out{k}").parent for k in range(2)]
    first, second = (_spikes(r / "input_spikes.h5") for r in runs)
    assert all(
        np.array_equal(a, b) for k in first for a, b in zip(first[k], second[k], strict=True)
    )
    other = convert_model(
        _write_model(tmp_path / "m2", 500.0, (100.0, 200.0), seed=8), tmp_path / "out_seed8"
    ).parent
    third = _spikes(other / "input_spikes.h5")
    assert not np.array_equal(first["background_in"][0], third["background_in"][0])


def _plain_neuron(
    trains: list[tuple[np.ndarray, float]], tstop: float, dt: float, step: bool = False
) -> np.ndarray:
    """Passive point cell (pas at the cell's C and g) with NEURON's own Exp2Syn; each spike
    time queued on a NetCon of weight gbase x input weight."""
    from neuron import h

    h.load_file("stdrun.hoc")
    sec = h.Section(name="plain")
    sec.L = sec.diam = 10.0
    area_cm2 = np.pi * 10e-4 * 10e-4
    sec.cm = CELL["C"] * 1e-3 / area_cm2  # nF -> uF per cm2
    sec.insert("pas")
    sec(0.5).pas.g = CELL["g"] * 1e-9 / area_cm2
    sec(0.5).pas.e = CELL["e"]
    syn = h.Exp2Syn(sec(0.5))
    syn.tau1, syn.tau2, syn.e = SYN["rise"], SYN["decay"], SYN["erev"]
    netcons = [h.NetCon(None, syn, 0, 0, SYN["gbase"] * 1e-3 * w) for _, w in trains]
    clamp = h.IClamp(sec(0.5))
    clamp.delay, clamp.dur, clamp.amp = 250.0, 100.0, 0.05 if step else 0.0

    def queue():
        for netcon, (times, _) in zip(netcons, trains, strict=True):
            for t in times:
                netcon.event(float(t))

    handler = h.FInitializeHandler(queue)  # noqa: F841 (kept alive through the run)
    v = h.Vector().record(sec(0.5)._ref_v, dt)
    h.dt, h.tstop = dt, tstop
    h.finitialize(CELL["e"])
    h.continuerun(tstop)
    return np.array(v)


def test_synapse_effect_matches_plain_neuron(tmp_path):
    """Cell 2: background + two transient inputs; cell 0: background + the current step."""
    lems = _write_model(tmp_path / "model", 400.0, (100.0, 150.0))
    out = tmp_path / "sonata"
    run_cli("convert", lems, "--to", "sonata", "-o", out)
    run_cli("run", out / "simulation_config.json")
    spikes = _spikes(out / "input_spikes.h5")
    report = out / "output" / "v.h5"
    drives = {
        2: ([(spikes["background_in"][2], 1.0), *[(t, 1.0) for t in spikes["burst_in"]]], False),
        0: ([(spikes["background_in"][0], 1.0)], True),
    }
    ours = {}
    for cell, (trains, step) in drives.items():
        assert sum(t.size for t, _ in trains) > 15
        reference = _plain_neuron(trains, 400.0, 0.025, step)
        ours[cell] = sonatasim_voltage(report, cell)
        n = min(ours[cell].size, reference.size)
        assert n >= 15000
        rms = float(np.sqrt(np.mean((ours[cell][:n] - reference[:n]) ** 2)))
        depolarisation = float(np.max(reference[:n]) - CELL["e"])
        assert depolarisation > 5.0  # the inputs do something measurable
        print(f"cell {cell}: RMS {rms:.2e} mV, peak depolarisation {depolarisation:.2f} mV")
        assert rms < 0.01, (rms, depolarisation)  # same equations: agree to round-off
    run_cli("run", out / "simulation_config.json", ranks=2)
    for cell in drives:  # the rank count changes nothing
        assert np.array_equal(sonatasim_voltage(report, cell), ours[cell])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda doc: setattr(doc.poisson_firing_synapses[0], "synapse", "gap_link"),
            "<poissonFiringSynapse id=\"background\"> synapse 'gap_link' is gapJunction, not a"
            " supported synapse",
        ),
        (
            lambda doc: setattr(doc.networks[0].explicit_inputs[1], "target", "L4_cells[7]"),
            '<explicitInput target="L4_cells[7]"> targets no cell of the network',
        ),
        (
            lambda doc: setattr(doc.networks[0].input_lists[1], "populations", "L5_cells"),
            "<inputList id=\"burst_in\"> targets unknown population 'L5_cells'",
        ),
    ],
)
def test_bad_poisson_inputs_refused(tmp_path, change, message):
    """One line naming the file and the element, exit 2, no traceback."""
    import neuroml
    import neuroml.writers
    from neuroml.loaders import read_neuroml2_file

    lems = _write_model(tmp_path / "model", 100.0, (10.0, 20.0))
    net_file = lems.parent / "poisson.net.nml"
    doc = read_neuroml2_file(str(net_file))
    doc.gap_junctions.append(neuroml.GapJunction(id="gap_link", conductance="1nS"))
    change(doc)
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    result = run_cli("convert", lems, "--to", "sonata", "-o", tmp_path / "out", check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "poisson.net.nml" in result.stderr
    assert "Traceback" not in result.stderr
