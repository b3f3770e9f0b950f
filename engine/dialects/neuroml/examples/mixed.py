"""A NeuroML network mixing our multi-compartment HH cell and Izhikevich 2007 point cells,
written with libNeuroML: the shipped example configs/neuroml_mixed_network
(`python -m engine.dialects.neuroml.examples mixed DIR`) and the model that
tests/test_neuroml_mixed_network.py runs through sonatasim and jNeuroML's NEURON export.

Why these inputs: every cell is driven clearly across threshold (Izhikevich step currents
of 1.9-3.9 times rheobase for the whole run, dendritic volleys of 20-45 nS onto HH cells
that sit on a small bias), so each spike is a steep crossing whose time moves by a few
steps between two first-order integrators, not a grazing one whose time depends on a
sub-step difference in the drive. Every projection matters: without any one of them some
spike count changes or some spike moves by more than 0.2 ms (see the test's docstring).
Pulse inputs share one pulseGenerator, scaled per cell by inputW weights, and there is
one Izhikevich component for both populations: jNeuroML's export compiles a .mod file
per component, the reference's main cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dialects.neuroml.examples.cell import CELL_ID, cell_document
from engine.dialects.neuroml.examples.network import regular_spiking_izhikevich2007
from engine.dialects.neuroml.lems import EventOutputFile, LemsSimulation, OutputFile, write_lems

NAME = "CorticalColumnMixed"
HH_CELL = CELL_ID.replace(".", "_")
# population id, component, size (NeuroML ids allow no dots: long underscored names)
HH_POP = ("L5_thick_tufted_hh_pyramidal", HH_CELL, 3)
EXC_POP = ("L23_pyramidal_izh2007", "regular_spiking_izhikevich2007", 4)
INH_POP = ("L4_basket_interneuron_izh2007", "regular_spiking_izhikevich2007", 2)
THALAMUS_POP = ("VPM_thalamic_relay_spike_array", "thalamic_volley_spikes", 2)
# segments of the HH cell: 3-4 dend_trunk, 5 dend_left, 6-7 dend_right
DENDRITE_SEGMENTS = (3, 4, 5, 6, 7)


def add_proximal_points(doc) -> None:
    """Give every segment its proximal point (the parent's distal point: same geometry).

    jNeuroML's NEURON export cannot place a synapse on a group whose first segment has no
    proximal point (NullPointerException in getFractionAlongSegGroupLength)."""
    import neuroml

    segments = {s.id: s for s in doc.cells[0].morphology.segments}
    for seg in segments.values():
        if seg.proximal is None:
            parent = segments[seg.parent.segments].distal
            seg.proximal = neuroml.Point3DWithDiam(
                x=parent.x, y=parent.y, z=parent.z, diameter=parent.diameter
            )


def _components(doc) -> None:
    import neuroml

    doc.izhikevich2007_cells.append(regular_spiking_izhikevich2007(EXC_POP[1]))
    doc.exp_two_synapses.append(
        neuroml.ExpTwoSynapse(
            id="ampa_excitatory_syn", gbase="1nS", erev="0mV", tau_rise="0.3ms", tau_decay="3ms"
        )
    )
    doc.exp_two_synapses.append(
        neuroml.ExpTwoSynapse(
            id="gabaa_inhibitory_syn",
            gbase="1nS",
            erev="-80mV",
            tau_rise="0.5ms",
            tau_decay="8ms",
        )
    )
    doc.spike_arrays.append(
        neuroml.SpikeArray(
            id=THALAMUS_POP[1],
            spikes=[neuroml.Spike(id=k, time=f"{t}ms") for k, t in enumerate((4.0, 21.0, 37.5))],
        )
    )


def _populations(net, rng) -> dict:
    import neuroml

    pops = {}
    for layer_z, (pop_id, component, n) in enumerate((HH_POP, EXC_POP, INH_POP, THALAMUS_POP)):
        pop = neuroml.Population(id=pop_id, component=component, size=n, type="populationList")
        for i in range(n):
            x, y = (float(v) for v in np.round(rng.uniform(0, 150, 2), 3))
            location = neuroml.Location(x=x, y=y, z=-100.0 * layer_z)
            pop.instances.append(neuroml.Instance(id=i, location=location))
        net.populations.append(pop)
        pops[pop_id] = pop
    return pops


# (pre, post, synapse, [(pre cell, post cell, post segment, fractionAlong, weight, delay)]);
# the post segment is None for a point cell
PROJECTIONS = (
    (
        THALAMUS_POP,
        HH_POP,
        "ampa_excitatory_syn",
        [
            (0, 0, 5, 0.3, 30.0, 2.0),
            (1, 1, 4, 0.25, 35.0, 1.5),
            (0, 2, 7, 0.6, 45.0, 2.5),
            (1, 2, 3, 0.8, 20.0, 1.0),
        ],
    ),
    (
        THALAMUS_POP,
        EXC_POP,
        "ampa_excitatory_syn",
        [(0, 0, None, 0.5, 4.0, 1.25), (1, 1, None, 0.5, 5.0, 2.0), (0, 3, None, 0.5, 3.5, 3.0)],
    ),
    (HH_POP, HH_POP, "ampa_excitatory_syn", [(0, 2, 6, 0.5, 25.0, 3.0)]),
    (
        HH_POP,
        EXC_POP,
        "ampa_excitatory_syn",
        [(0, 1, None, 0.5, 3.0, 2.0), (2, 2, None, 0.5, 4.0, 1.5), (1, 3, None, 0.5, 3.0, 2.5)],
    ),
    (
        HH_POP,
        INH_POP,
        "ampa_excitatory_syn",
        [(1, 0, None, 0.5, 4.0, 1.0), (2, 1, None, 0.5, 3.0, 1.5)],
    ),
    (
        EXC_POP,
        HH_POP,
        "ampa_excitatory_syn",
        [(1, 0, 6, 0.4, 25.0, 3.25), (2, 1, 5, 0.9, 30.0, 2.0)],
    ),
    (
        EXC_POP,
        INH_POP,
        "ampa_excitatory_syn",
        [(0, 0, None, 0.5, 2.0, 1.0), (3, 1, None, 0.5, 2.0, 1.75)],
    ),
    (
        INH_POP,
        HH_POP,
        "gabaa_inhibitory_syn",
        [(0, 0, 0, 0.5, 20.0, 1.0), (1, 2, 3, 0.2, 25.0, 1.5), (0, 1, 4, 0.7, 15.0, 2.0)],
    ),
    (
        INH_POP,
        EXC_POP,
        "gabaa_inhibitory_syn",
        [(0, 0, None, 0.5, 3.0, 1.0), (1, 2, None, 0.5, 4.0, 1.25), (1, 3, None, 0.5, 3.0, 2.0)],
    ),
)
# step currents of one pulseGenerator (jNeuroML's export writes and compiles a .mod file per
# generator), scaled per cell by its inputW weight: (population, [(cell, weight)])
STEP = ("step_current", 0.05, 2.0, 60.0)  # id, amplitude nA, delay ms, duration ms
PULSES = (
    (HH_POP, [(0, 2.0), (1, 3.0)]),
    (EXC_POP, [(0, 3.0), (1, 4.0), (2, 2.5), (3, 3.5)]),
    (INH_POP, [(0, 2.0), (1, 2.5)]),
)


def _projections(net) -> None:
    import neuroml

    for (pre, pre_comp, _), (post, post_comp, _), synapse, rows in PROJECTIONS:
        proj = neuroml.Projection(
            id=f"{pre}__to__{post}",
            presynaptic_population=pre,
            postsynaptic_population=post,
            synapse=synapse,
        )
        for k, (i, j, segment, fraction, weight, delay) in enumerate(rows):
            where = {}
            if segment is not None:
                where = {"post_segment_id": segment, "post_fraction_along": fraction}
            proj.connection_wds.append(
                neuroml.ConnectionWD(
                    id=k,
                    pre_cell_id=f"../{pre}/{i}/{pre_comp}",
                    post_cell_id=f"../{post}/{j}/{post_comp}",
                    weight=weight,
                    delay=f"{delay}ms",
                    **where,
                )
            )
        net.projections.append(proj)


def _pulses(doc, net) -> None:
    import neuroml

    gen_id, amplitude, delay, duration = STEP
    doc.pulse_generators.append(
        neuroml.PulseGenerator(
            id=gen_id, delay=f"{delay}ms", duration=f"{duration}ms", amplitude=f"{amplitude}nA"
        )
    )
    for (pop, component, _), cells in PULSES:
        inputs = neuroml.InputList(id=f"{pop}__{gen_id}", component=gen_id, populations=pop)
        for k, (cell, weight) in enumerate(cells):
            inputs.input_ws.append(
                neuroml.InputW(
                    id=k,
                    target=f"../{pop}/{cell}/{component}",
                    destination="synapses",
                    segment_id=0,
                    fraction_along=0.5,
                    weight=weight,
                )
            )
        net.input_lists.append(inputs)


def write_mixed_network(
    directory: Path, *, length_ms: float = 50.0, step_ms: float = 0.025, seed: int = 11
) -> Path:
    """The mixed HH / Izhikevich network (cell file, network file, LEMS file, all validated
    with libNeuroML); returns the LEMS file."""
    import neuroml
    import neuroml.writers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cell_doc = cell_document()
    add_proximal_points(cell_doc)
    cell_doc.validate(recursive=True)
    cell_file = directory / f"{CELL_ID}.nml"
    neuroml.writers.NeuroMLWriter.write(cell_doc, str(cell_file))

    doc = neuroml.NeuroMLDocument(id=NAME)
    doc.includes.append(neuroml.IncludeType(href=cell_file.name))
    _components(doc)
    net = neuroml.Network(
        id=f"{NAME}_network", type="networkWithTemperature", temperature="16 degC"
    )
    doc.networks.append(net)
    _populations(net, np.random.default_rng(seed))
    _projections(net)
    _pulses(doc, net)
    doc.validate(recursive=True)
    net_file = directory / f"{NAME}.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))

    recorded = (HH_POP, EXC_POP, INH_POP)
    outputs = [
        OutputFile(
            f"{pop}_v",
            f"{NAME}.{pop}.v.dat",
            [(f"{pop}_{i}", f"{pop}/{i}/{component}/v") for i in range(n)],
        )
        for pop, component, n in recorded
    ]
    cells = [(pop, i, component) for pop, component, n in recorded for i in range(n)]
    events = [
        EventOutputFile(
            "spikes",
            f"{NAME}.spikes",
            "ID_TIME",  # jNeuroML's NEURON export needs integer selection ids
            [(str(k), f"{p}/{i}/{c}", "spike") for k, (p, i, c) in enumerate(cells)],
        )
    ]
    lems = directory / f"LEMS_{NAME}.xml"
    write_lems(
        lems,
        LemsSimulation(
            f"{NAME}_sim", net.id, length_ms, step_ms, seed, [net_file.name], outputs, events
        ),
    )
    return lems
