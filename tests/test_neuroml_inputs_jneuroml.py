"""NeuroML inputs through both routes: one LEMS file run by jNeuroML's NEURON export and,
converted, by sonatasim.

- rampGenerator (with a baseline) and sineGenerator with a phase: the same current, so
  the same soma voltage of a passive cell.
- spikeGeneratorPoisson / spikeGeneratorRandom / spikeGeneratorRefPoisson populations:
  the draws differ (jNeuroML's Random123 streams, ours numpy), so their statistics are
  compared: per-population spike counts within 4 sd of the renewal-count variance
  (T sigma^2 / mu^3 per node, both routes), the interval distributions by a two-sample
  Kolmogorov-Smirnov distance (jNeuroML's trains come from its EventOutputFile).
- poissonFiringSynapse / transientPoissonFiringSynapse inputs: jNeuroML exposes no spikes
  of inputs, so the target cell's mean depolarisation (over the run, resp. the window) is
  compared; it is the input count times one PSP's area over T, so each route's relative sd
  is 1/sqrt(expected count) (Campbell; the conductance synapse is sublinear, which only
  narrows it). Outside the transient window both cells rest alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.dialects.neuroml.lems import EventOutputFile, LemsSimulation, OutputFile, write_lems
from tests.conftest import run_cli
from tests.neuroml_reference import run_jneuroml, sonatasim_voltage
from tests.test_neuroml_current_inputs import RAMP, THETA, _generators
from tests.test_neuroml_poisson_inputs import (
    CELL,
    _spikes,
    add_burst,
    add_synapse,
    passive_document,
)
from tests.test_neuroml_spike_generators import add_generators

LENGTH, DT = 5000.0, 0.05
NODES = 4
# population -> (component, mean ISI ms, ISI variance ms2)
GENERATORS = {
    "VPM_poisson_fibres": ("poisson_drive", 20.0, 400.0),
    "L23_jittered_fibres": ("jittered_drive", 20.0, 400.0 / 12),
    "POm_refractory_fibres": ("refractory_drive", 25.0, 400.0),
}
N_SYNAPSE_INPUTS, SYNAPSE_RATE = 20, 50.0  # poissonFiringSynapse inputs onto cell 2 (Hz)
# transientPoissonFiringSynapse inputs onto cell 1 (after its sine): count, Hz, window ms
N_BURST_INPUTS, BURST_RATE, BURST = 10, 100.0, (1000.0, 2000.0)


def _write_model(directory: Path) -> Path:
    import neuroml
    import neuroml.writers

    directory.mkdir(parents=True, exist_ok=True)
    doc = passive_document("inputs_vs_jneuroml")
    _generators(doc)
    add_synapse(doc, "syn_weak", 0.2, SYNAPSE_RATE)
    add_generators(doc)
    add_burst(doc, BURST_RATE, BURST, "syn_weak")
    doc.spike_generator_poissons.append(
        neuroml.SpikeGeneratorPoisson(id="poisson_drive", average_rate="50Hz")
    )
    net = neuroml.Network(id="inputs_net")
    doc.networks.append(net)
    for pop, (component, _, _) in GENERATORS.items():
        net.populations.append(neuroml.Population(id=pop, component=component, size=NODES))
    net.populations.append(neuroml.Population(id="L5_cells", component="passive_iaf", size=3))
    ramps = neuroml.InputList(id="ramp_in", component=RAMP[0], populations="L5_cells")
    ramps.input.append(neuroml.Input(id=0, target="../L5_cells[0]", destination="synapses"))
    noise = neuroml.InputList(id="background_in", component="background", populations="L5_cells")
    for i in range(N_SYNAPSE_INPUTS):
        noise.input.append(neuroml.Input(id=i, target="../L5_cells[2]", destination="synapses"))
    bursts = neuroml.InputList(id="burst_in", component="burst", populations="L5_cells")
    for i in range(N_BURST_INPUTS):
        bursts.input.append(neuroml.Input(id=i, target="../L5_cells[1]", destination="synapses"))
    net.input_lists.extend([ramps, noise, bursts])
    net.explicit_inputs.append(
        neuroml.ExplicitInput(target="L5_cells[1]", input=THETA[0], destination="synapses")
    )
    net_file = directory / "inputs.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    selections = [
        (str(NODES * k + i), f"{pop}[{i}]", "spike")  # jNeuroML needs numeric ids
        for k, pop in enumerate(GENERATORS)
        for i in range(NODES)
    ]
    lems = directory / "LEMS_inputs.xml"
    write_lems(
        lems,
        LemsSimulation(
            "inputs_sim",
            net.id,
            LENGTH,
            DT,
            3,
            [net_file.name],
            [OutputFile("v", "v.dat", [(f"c{i}", f"L5_cells[{i}]/v") for i in range(3)])],
            [EventOutputFile("sources", "sources.spikes", "ID_TIME", selections)],
        ),
    )
    return lems


def _ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


@pytest.fixture(scope="module")
def both_routes(tmp_path_factory):
    base = tmp_path_factory.mktemp("inputs_jneuroml")
    lems = _write_model(base / "model")
    out = base / "sonata"
    run_cli("convert", lems, "--to", "sonata", "-o", out)
    run_cli("run", out / "simulation_config.json")
    reference = run_jneuroml(lems)
    ours_v = {f"c{i}": sonatasim_voltage(out / "output" / "v.h5", i) for i in range(3)}
    return _spikes(out / "input_spikes.h5"), ours_v, reference


def test_ramp_and_phase_sine_same_voltage(both_routes):
    _, ours, (_, theirs) = both_routes
    window = int(400.0 / DT)  # both inputs end by 250 ms; then both cells relax to rest
    for column in ("c0", "c1"):
        a, b = ours[column][:window], theirs[column][:window]
        rms = float(np.sqrt(np.mean((a - b) ** 2)))
        swing = float(np.ptp(b))
        print(f"{column}: RMS {rms:.2e} mV over a {swing:.2f} mV swing")
        assert swing > 3.0 and rms < 1e-3, (column, rms, swing)


def test_spike_generator_statistics(both_routes):
    ours, _, (theirs, _) = both_routes
    for pop, (_, mean, variance) in GENERATORS.items():
        a = ours[pop]
        b = [theirs.get((pop, i), np.zeros(0)) for i in range(NODES)]
        count_a, count_b = sum(t.size for t in a), sum(t.size for t in b)
        sd = np.sqrt(2 * NODES * LENGTH * variance / mean**3)
        gaps_a = np.concatenate([np.diff(t) for t in a])
        gaps_b = np.concatenate([np.diff(t) for t in b])
        ks = _ks_distance(gaps_a, gaps_b)
        critical = 1.95 * np.sqrt((gaps_a.size + gaps_b.size) / (gaps_a.size * gaps_b.size))
        print(
            f"{pop}: {count_a} vs {count_b} spikes (4 sd {4 * sd:.0f}), mean ISI"
            f" {gaps_a.mean():.2f} vs {gaps_b.mean():.2f} ms, KS {ks:.3f} (p=0.001: {critical:.3f})"
        )
        assert abs(count_a - count_b) < 4 * sd
        assert abs(count_a - NODES * LENGTH / mean) < 4 * sd / np.sqrt(2)
        assert ks < critical


def test_poisson_synapse_mean_depolarisation(both_routes):
    _, ours, (_, theirs) = both_routes
    settle = int(200.0 / DT)
    dep_a = float(np.mean(ours["c2"][settle:]) - CELL["e"])
    dep_b = float(np.mean(theirs["c2"][settle:]) - CELL["e"])
    expected_count = N_SYNAPSE_INPUTS * SYNAPSE_RATE * (LENGTH - 200.0) / 1000.0
    sd = dep_b * np.sqrt(2.0 / expected_count)
    print(f"mean depolarisation {dep_a:.3f} vs {dep_b:.3f} mV (4 sd {4 * sd:.3f} mV)")
    assert dep_b > 2.0 and abs(dep_a - dep_b) < 4 * sd


def test_transient_poisson_synapse_window(both_routes):
    """Cell 1 after its sine: at rest, the same v to round-off, before the window and from
    200 ms after it (no input outside [delay, delay + duration) in either route); inside,
    the mean depolarisations agree within 4 sd of the Poisson count."""
    _, ours, (_, theirs) = both_routes
    start, stop = (int(t / DT) for t in (BURST[0], BURST[0] + BURST[1]))
    for lo, hi in ((int(400.0 / DT), start), (stop + int(200.0 / DT), int(LENGTH / DT))):
        assert np.max(np.abs(ours["c1"][lo:hi] - theirs["c1"][lo:hi])) < 1e-3
        assert np.max(np.abs(theirs["c1"][lo:hi] - CELL["e"])) < 0.05
    settle = start + int(100.0 / DT)
    dep_a = float(np.mean(ours["c1"][settle:stop]) - CELL["e"])
    dep_b = float(np.mean(theirs["c1"][settle:stop]) - CELL["e"])
    expected_count = N_BURST_INPUTS * BURST_RATE * (BURST[1] - 100.0) / 1000.0
    sd = dep_b * np.sqrt(2.0 / expected_count)
    print(f"transient: mean depolarisation {dep_a:.3f} vs {dep_b:.3f} mV (4 sd {4 * sd:.3f})")
    assert dep_b > 2.0 and abs(dep_a - dep_b) < 4 * sd
