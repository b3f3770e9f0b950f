"""`convert --to sonata` of spikeGeneratorRandom and spikeGeneratorRefPoisson populations:
the trains re-read with libsonata against the NeuroML2 ComponentTypes' interval laws over a
long window (uniform in [minISI, maxISI]; minimumISI + exponential of mean averageIsi -
minimumISI), keyed by the seed and the population/node ids (not the document order), and a
run whose cell receives them through projections against a plain-NEURON passive cell with
NEURON's Exp2Syn fed the same spike times. NeuroML's inputList takes only point currents,
so a spike generator there is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.dialects.neuroml.lems import LemsSimulation, OutputFile, write_lems
from engine.dialects.neuroml.to_sonata_simulation import convert_model
from engine.errors import ConfigError
from tests.conftest import run_cli
from tests.neuroml_reference import sonatasim_voltage
from tests.test_neuroml_poisson_inputs import CELL, _plain_neuron, _spikes, passive_document

MIN_ISI, MAX_ISI = 10.0, 30.0  # ms, spikeGeneratorRandom
REF_RATE, REF_MIN = 40.0, 5.0  # Hz, ms, spikeGeneratorRefPoisson (mean ISI 25 ms)


def add_generators(doc) -> None:
    """spikeGeneratorRandom `jittered_drive` and spikeGeneratorRefPoisson `refractory_drive`
    (maxISI in seconds: units are converted)."""
    import neuroml

    doc.spike_generator_randoms.append(
        neuroml.SpikeGeneratorRandom(id="jittered_drive", min_isi="10ms", max_isi="0.03s")
    )
    doc.spike_generator_ref_poissons.append(
        neuroml.SpikeGeneratorRefPoisson(
            id="refractory_drive", average_rate=f"{REF_RATE}Hz", minimum_isi=f"{REF_MIN}ms"
        )
    )


def _write_model(directory: Path, length: float, seed: int = 11, swap: bool = False) -> Path:
    """Two generator populations (3 nodes each) projecting onto one passive iaf cell (weights
    1 and 0.5); `swap` lists them in the other order."""
    import neuroml
    import neuroml.writers

    directory.mkdir(parents=True, exist_ok=True)
    doc = passive_document("generators")
    add_generators(doc)
    net = neuroml.Network(id="generator_net")
    doc.networks.append(net)
    sources = [
        neuroml.Population(id="L23_jittered_fibres", component="jittered_drive", size=3),
        neuroml.Population(id="VPM_refractory_fibres", component="refractory_drive", size=3),
    ]
    net.populations.extend([*(sources[::-1] if swap else sources)])
    net.populations.append(neuroml.Population(id="L4_cells", component="passive_iaf", size=1))
    for pop, weight in zip(sources, (1.0, 0.5), strict=True):
        proj = neuroml.Projection(
            id=f"{pop.id}_to_L4",
            presynaptic_population=pop.id,
            postsynaptic_population="L4_cells",
            synapse="syn_ampa_fast",
        )
        for i in range(3):
            proj.connection_wds.append(
                neuroml.ConnectionWD(
                    id=i,
                    pre_cell_id=f"../{pop.id}[{i}]",
                    post_cell_id="../L4_cells[0]",
                    weight=weight,
                    delay="0ms",
                )
            )
        net.projections.append(proj)
    net_file = directory / "generators.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    lems = directory / "LEMS_generators.xml"
    output = OutputFile("v", "generators.v.dat", [("c0", "L4_cells[0]/v")])
    write_lems(
        lems,
        LemsSimulation("generator_sim", net.id, length, 0.025, seed, [net_file.name], [output]),
    )
    return lems


@pytest.fixture(scope="module")
def long_trains(tmp_path_factory):
    base = tmp_path_factory.mktemp("generators_long")
    out = convert_model(_write_model(base / "model", 20000.0), base / "sonata").parent
    return _spikes(out / "input_spikes.h5")


def test_uniform_intervals(long_trains):
    """ISIs uniform in [10, 30] ms: bounds respected and reached, mean 20 and sd 20/sqrt(12)
    ms within 4 standard errors; the first spike is one interval after t = 0."""
    trains = long_trains["L23_jittered_fibres"]
    assert len(trains) == 3
    sd = (MAX_ISI - MIN_ISI) / np.sqrt(12.0)
    for train in trains:
        gaps = np.diff(train)
        assert MIN_ISI <= gaps.min() < MIN_ISI + 0.2 and MAX_ISI - 0.2 < gaps.max() <= MAX_ISI
        assert MIN_ISI <= train[0] <= MAX_ISI and train[-1] < 20000.0
        assert abs(gaps.mean() - 20.0) < 4 * sd / np.sqrt(gaps.size), gaps.mean()
        assert abs(gaps.std() / sd - 1) < 0.1
        assert abs(train.size - 1000) < 4 * np.sqrt(20000.0 * sd**2 / 20.0**3)  # count sd 9.1


def test_refractory_poisson_intervals(long_trains):
    """ISI = 5 ms + exponential of mean 20 ms: none shorter than 5 ms, the excess
    exponential (mean and sd 20 ms), the count 800 within 4 sd."""
    trains = long_trains["VPM_refractory_fibres"]
    assert len(trains) == 3
    scale = 1000.0 / REF_RATE - REF_MIN
    for train in trains:
        gaps = np.diff(train)
        assert REF_MIN <= gaps.min() < REF_MIN + 0.2 and train[0] >= REF_MIN
        excess = gaps - REF_MIN
        assert abs(excess.mean() - scale) < 4 * scale / np.sqrt(gaps.size), excess.mean()
        assert abs(excess.std() / excess.mean() - 1) < 0.1
        assert abs(train.size - 800) < 4 * np.sqrt(800 * 0.64)  # CV^2 = 0.64
    all_trains = [tuple(t) for ts in long_trains.values() for t in ts]
    assert len(set(all_trains)) == len(all_trains)  # one stream per node


def test_trains_keyed_by_seed_and_ids(tmp_path):
    first = _spikes(
        convert_model(_write_model(tmp_path / "a", 500.0), tmp_path / "oa").parent
        / "input_spikes.h5"
    )
    swapped = convert_model(_write_model(tmp_path / "b", 500.0, swap=True), tmp_path / "ob")
    second = _spikes(swapped.parent / "input_spikes.h5")
    reseeded = convert_model(_write_model(tmp_path / "c", 500.0, seed=12), tmp_path / "oc")
    third = _spikes(reseeded.parent / "input_spikes.h5")
    for name, trains in first.items():
        assert all(np.array_equal(a, b) for a, b in zip(trains, second[name], strict=True))
        assert not any(np.array_equal(a, b) for a, b in zip(trains, third[name], strict=True))


def test_run_receives_the_trains(tmp_path):
    """The cell's soma voltage against plain NEURON fed the spike times read back."""
    lems = _write_model(tmp_path / "model", 400.0)
    out = tmp_path / "sonata"
    run_cli("convert", lems, "--to", "sonata", "-o", out)
    run_cli("run", out / "simulation_config.json")
    spikes = _spikes(out / "input_spikes.h5")
    trains = [(t, 1.0) for t in spikes["L23_jittered_fibres"]]
    trains += [(t, 0.5) for t in spikes["VPM_refractory_fibres"]]
    assert sum(t.size for t, _ in trains) > 80
    reference = _plain_neuron(trains, 400.0, 0.025)
    ours = sonatasim_voltage(out / "output" / "v.h5", 0)
    n = min(ours.size, reference.size)
    assert n >= 15000
    rms = float(np.sqrt(np.mean((ours[:n] - reference[:n]) ** 2)))
    depolarisation = float(np.mean(reference[n // 2 : n]) - CELL["e"])
    print(f"RMS {rms:.2e} mV, mean depolarisation {depolarisation:.2f} mV")
    assert depolarisation > 5.0 and rms < 0.01


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda doc: setattr(doc.spike_generator_randoms[0], "min_isi", "40ms"),
            '<spikeGeneratorRandom id="jittered_drive">: needs 0 <= minISI <= maxISI',
        ),
        (
            lambda doc: setattr(doc.spike_generator_ref_poissons[0], "minimum_isi", "30ms"),
            '<spikeGeneratorRefPoisson id="refractory_drive">: needs averageRate > 0 and 0 <='
            " minimumISI <= 1/averageRate",
        ),
        (
            lambda doc: doc.networks[0].input_lists.append(
                __import__("neuroml").InputList(
                    id="drive_in", component="jittered_drive", populations="L4_cells"
                )
            ),
            "<inputList id=\"drive_in\"> component 'jittered_drive' is a spikeGeneratorRandom,"
            " a spike source: an inputList takes a current",
        ),
    ],
    ids=["min_above_max", "refractory_above_mean", "generator_in_input_list"],
)
def test_bad_generators_refused(tmp_path, change, message):
    from neuroml.loaders import read_neuroml2_file
    from neuroml.writers import NeuroMLWriter

    lems = _write_model(tmp_path / "model", 100.0)
    net_file = lems.parent / "generators.net.nml"
    doc = read_neuroml2_file(str(net_file))
    change(doc)
    NeuroMLWriter.write(doc, str(net_file))
    if "inputList" not in message:  # in-process (cheap): the refusal's text and file
        with pytest.raises(ConfigError) as refused:
            convert_model(lems, tmp_path / "out")
        assert message in refused.value.describe()
        assert "generators.net.nml" in refused.value.describe()
        return
    result = run_cli("convert", lems, "--to", "sonata", "-o", tmp_path / "out", check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "generators.net.nml" in result.stderr
    assert "Traceback" not in result.stderr
