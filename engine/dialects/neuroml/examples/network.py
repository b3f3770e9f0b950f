"""NeuroML point-neuron models written with libNeuroML: the shipped example, the tests'
models and the benchmark's network.

Why generated: every model we compare against jNeuroML is our own, written from the
NeuroML element definitions; `python -m engine.dialects.neuroml.examples network DIR` writes
the example under configs/neuroml_network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dialects.neuroml.lems import EventOutputFile, LemsSimulation, OutputFile, write_lems


def regular_spiking_izhikevich2007(cell_id: str):
    """Izhikevich (2007)'s regular-spiking cortical cell as a NeuroML izhikevich2007Cell."""
    import neuroml

    return neuroml.Izhikevich2007Cell(
        id=cell_id,
        C="100pF",
        v0="-60mV",
        k="0.7nS_per_mV",
        vr="-60mV",
        vt="-40mV",
        vpeak="35mV",
        a="0.03per_ms",
        b="-2nS",
        c="-50.0mV",
        d="100pA",
    )


def _cells(doc):
    import neuroml

    doc.izhikevich2007_cells.append(regular_spiking_izhikevich2007("rs_izhikevich2007"))
    doc.iaf_ref_cells.append(
        neuroml.IafRefCell(
            id="fs_iafRef",
            C="0.2nF",
            thresh="-52mV",
            reset="-68mV",
            leak_conductance="10nS",
            leak_reversal="-65mV",
            refract="2ms",
        )
    )
    doc.iaf_cells.append(
        neuroml.IafCell(
            id="plain_iaf",
            C="1.0nF",
            thresh="-50mV",
            reset="-65mV",
            leak_conductance="20nS",
            leak_reversal="-65mV",
        )
    )
    doc.ad_ex_ia_f_cells.append(
        neuroml.AdExIaFCell(
            id="burst_adex",
            C="281pF",
            g_l="30nS",
            EL="-70.6mV",
            reset="-48.5mV",
            VT="-50.4mV",
            thresh="-40.4mV",
            del_t="2mV",
            tauw="40ms",
            refract="0.5ms",
            a="4nS",
            b="0.08nA",
        )
    )
    doc.izhikevich_cells.append(
        neuroml.IzhikevichCell(
            id="tonic_izh2003", v0="-70mV", thresh="30mV", a="0.02", b="0.2", c="-65.0", d="6"
        )
    )


def _synapses(doc):
    import neuroml

    doc.exp_two_synapses.append(
        neuroml.ExpTwoSynapse(
            id="ampa_exc", gbase="2nS", erev="0mV", tau_rise="0.5ms", tau_decay="5ms"
        )
    )
    doc.exp_two_synapses.append(
        neuroml.ExpTwoSynapse(
            id="gaba_inh", gbase="3nS", erev="-80mV", tau_rise="1ms", tau_decay="10ms"
        )
    )
    doc.exp_one_synapses.append(
        neuroml.ExpOneSynapse(id="fast_exp1", gbase="1.5nS", erev="0mV", tau_decay="3ms")
    )
    doc.alpha_synapses.append(
        neuroml.AlphaSynapse(id="slow_alpha", gbase="1nS", erev="0mV", tau="4ms")
    )


def _population(net, pop_id, component, n, rng):
    import neuroml

    pop = neuroml.Population(id=pop_id, component=component, size=n, type="populationList")
    for i in range(n):
        x, y, z = (float(v) for v in np.round(rng.uniform(0, 200, 3), 3))
        pop.instances.append(neuroml.Instance(id=i, location=neuroml.Location(x=x, y=y, z=z)))
    net.populations.append(pop)
    return pop


def _projection(net, proj_id, pre, post, synapse, pairs, weights, delays):
    import neuroml

    proj = neuroml.Projection(
        id=proj_id, presynaptic_population=pre.id, postsynaptic_population=post.id, synapse=synapse
    )
    for k, ((i, j), w, d) in enumerate(zip(pairs, weights, delays, strict=True)):
        proj.connection_wds.append(
            neuroml.ConnectionWD(
                id=k,
                pre_cell_id=f"../{pre.id}/{i}/{pre.component}",
                post_cell_id=f"../{post.id}/{j}/{post.component}",
                weight=float(w),
                delay=f"{d}ms",
            )
        )
    net.projections.append(proj)


def _pulses(doc, net, pop, amplitudes, delay=20.0, duration=150.0, gen_id=None):
    import neuroml

    for i, amp in enumerate(amplitudes):
        gen = neuroml.PulseGenerator(
            id=f"{gen_id or pop.id}_pulse{i}",
            delay=f"{delay}ms",
            duration=f"{duration}ms",
            amplitude=f"{amp}nA",
        )
        doc.pulse_generators.append(gen)
        inputs = neuroml.InputList(id=f"{gen.id}_input", component=gen.id, populations=pop.id)
        inputs.input.append(
            neuroml.Input(id=0, target=f"../{pop.id}/{i}/{pop.component}", destination="synapses")
        )
        net.input_lists.append(inputs)


def write_network(
    directory: Path,
    *,
    scale: int = 1,
    length_ms: float = 200.0,
    step_ms: float = 0.025,
    seed: int = 7,
    name: str = "PointNet",
) -> Path:
    """A network of Izhikevich, iaf and AdEx cells, spike sources, excitatory and inhibitory
    double-exponential synapses with delays, and pulse inputs; returns the LEMS file."""
    import neuroml
    import neuroml.writers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    doc = neuroml.NeuroMLDocument(id=name)
    _cells(doc)
    _synapses(doc)
    doc.spike_arrays.append(
        neuroml.SpikeArray(
            id="drive_spikes",
            spikes=[
                neuroml.Spike(id=k, time=f"{t}ms")
                for k, t in enumerate((15.0, 32.5, 60.0, 61.0, 95.0))
            ],
        )
    )
    net = neuroml.Network(
        id=f"{name}_network", type="networkWithTemperature", temperature="34.0 degC"
    )
    doc.networks.append(net)
    izh = _population(net, "L23_exc_izh", "rs_izhikevich2007", 6 * scale, rng)
    fs = _population(net, "L23_inh_iafRef", "fs_iafRef", 3 * scale, rng)
    adex = _population(net, "L5_burst_adex", "burst_adex", 2 * scale, rng)
    drive = _population(net, "thalamus_drive", "drive_spikes", 2 * scale, rng)
    n = 2 * scale
    delay_choices = np.array([1.0, 1.5, 2.0, 3.25])

    def random_pairs(pre, post, count):
        return [(int(rng.integers(pre.size)), int(rng.integers(post.size))) for _ in range(count)]

    for proj_id, pre, post, syn, count, wlim in (
        ("thalamus_drive__L23_exc_izh", drive, izh, "ampa_exc", 8 * n, (3.0, 6.0)),
        ("L23_exc_izh__L23_inh_iafRef", izh, fs, "ampa_exc", 6 * n, (2.0, 5.0)),
        ("L23_inh_iafRef__L23_exc_izh", fs, izh, "gaba_inh", 6 * n, (0.5, 1.5)),
        ("L23_exc_izh__L5_burst_adex", izh, adex, "fast_exp1", 4 * n, (1.0, 3.0)),
        ("thalamus_drive__L5_burst_adex", drive, adex, "slow_alpha", 2 * n, (2.0, 4.0)),
    ):
        pairs = random_pairs(pre, post, count)
        weights = np.round(rng.uniform(*wlim, count), 4)
        delays = rng.choice(delay_choices, count)
        _projection(net, proj_id, pre, post, syn, pairs, weights, delays)
    _pulses(doc, net, izh, [0.08 + 0.01 * (i % 4) for i in range(izh.size // 2)])
    _pulses(doc, net, adex, [0.6] * adex.size, delay=30.0, duration=120.0)
    net_file = directory / f"{name}.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    populations = [izh, fs, adex]
    outputs = [
        OutputFile(
            "voltages",
            f"{name}.v.dat",
            [
                (f"{p.id}_{i}", f"{p.id}/{i}/{p.component}/v")
                for p in populations
                for i in range(min(2, p.size))
            ],
        )
    ]
    cells = [(p, i) for p in populations for i in range(p.size)]
    events = [
        EventOutputFile(
            "spikes",
            f"{name}.spikes",
            "ID_TIME",  # jNeuroML's NEURON export needs integer selection ids
            [(str(k), f"{p.id}/{i}/{p.component}", "spike") for k, (p, i) in enumerate(cells)],
        )
    ]
    lems = directory / f"LEMS_{name}.xml"
    write_lems(
        lems,
        LemsSimulation(
            f"{name}_sim", net.id, length_ms, step_ms, seed, [net_file.name], outputs, events
        ),
    )
    return lems


def write_single_cell(
    directory: Path,
    cell: str,
    amplitude_na: float,
    *,
    length_ms: float = 200.0,
    step_ms: float = 0.025,
    dl_input: bool = False,
) -> Path:
    """One cell of component `cell` (from the example cells) with one pulse input."""
    import neuroml
    import neuroml.writers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"single_{cell}"
    doc = neuroml.NeuroMLDocument(id=name)
    _cells(doc)
    net = neuroml.Network(id=f"{name}_network")
    doc.networks.append(net)
    pop = _population(net, "cell", cell, 1, np.random.default_rng(1))
    if dl_input:
        gen = neuroml.PulseGeneratorDL(
            id="pulse", delay="20ms", duration="150ms", amplitude=str(amplitude_na)
        )
        doc.pulse_generator_dls.append(gen)
        inputs = neuroml.InputList(id="pulse_input", component=gen.id, populations=pop.id)
        inputs.input.append(
            neuroml.Input(id=0, target=f"../{pop.id}/0/{cell}", destination="synapses")
        )
        net.input_lists.append(inputs)
    else:
        _pulses(doc, net, pop, [amplitude_na])
    net_file = directory / f"{name}.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    lems = directory / f"LEMS_{name}.xml"
    write_lems(
        lems,
        LemsSimulation(
            f"{name}_sim",
            net.id,
            length_ms,
            step_ms,
            1,
            [net_file.name],
            [OutputFile("v", f"{name}.v.dat", [("v", f"cell/0/{cell}/v")])],
            [
                EventOutputFile(
                    "spikes", f"{name}.spikes", "ID_TIME", [("0", f"cell/0/{cell}", "spike")]
                )
            ],
        ),
    )
    return lems
