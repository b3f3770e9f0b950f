"""`convert --to sonata` onto multi-compartment NeuroML cells: Poisson inputs and projections
land on the section and position our `nml:` builder makes of their segment and fractionAlong
(worked out by hand from the segment lengths), and a converted cell feels where the synapse
is (a far-dendrite EPSP is smaller and later at the soma)."""

from __future__ import annotations

import libsonata
import numpy as np

from engine.dialects.neuroml.lems import LemsSimulation, OutputFile, write_lems
from engine.dialects.neuroml.to_sonata_simulation import convert_model
from tests.conftest import run_cli
from tests.neuroml_reference import sonatasim_voltage


def _detailed_network(n_cells: int, connections: list[tuple[int, int, float]], spike_ms: float):
    """Our multi-compartment cell x n_cells, a spikeArray source and a projection
    `drive_to_pyramids` of (cell, post segment, fractionAlong) connections (syn_dend)."""
    import neuroml

    from engine.dialects.neuroml.examples.cell import cell_document

    doc = cell_document()
    cell_id = doc.cells[0].id
    doc.exp_two_synapses.append(
        neuroml.ExpTwoSynapse(
            id="syn_dend", gbase="0.5nS", erev="0mV", tau_rise="0.2ms", tau_decay="2ms"
        )
    )
    doc.spike_arrays.append(
        neuroml.SpikeArray(id="drive", spikes=[neuroml.Spike(id=0, time=f"{spike_ms}ms")])
    )
    net = neuroml.Network(id="detailed_net")
    doc.networks.append(net)
    net.populations.append(neuroml.Population(id="pyramids", component=cell_id, size=n_cells))
    net.populations.append(neuroml.Population(id="drivers", component="drive", size=1))
    projection = neuroml.Projection(
        id="drive_to_pyramids",
        presynaptic_population="drivers",
        postsynaptic_population="pyramids",
        synapse="syn_dend",
    )
    for k, (cell, segment, fraction) in enumerate(connections):
        projection.connection_wds.append(
            neuroml.ConnectionWD(
                id=k,
                pre_cell_id="../drivers/0/drive",
                post_cell_id=f"../pyramids/{cell}/{cell_id}",
                post_segment_id=segment,
                post_fraction_along=fraction,
                weight=1.0,
                delay="1ms",
            )
        )
    net.projections.append(projection)
    return doc, net, cell_id


def test_input_segment_mapped_to_section_of_detailed_cell(tmp_path):
    """Inputs (and projections) on segments of our multi-compartment cell land where its
    sections put them: sections soma, axon, dend_trunk, dend_left, dend_right (root first,
    file order); positions from the segment lengths worked out by hand below."""
    import neuroml
    import neuroml.writers

    doc, net, cell_id = _detailed_network(1, [(0, 4, 0.25), (0, 6, 1.0)], 5.0)
    doc.poisson_firing_synapses.append(
        neuroml.PoissonFiringSynapse(
            id="dend_noise", average_rate="20Hz", synapse="syn_dend", spike_target="./syn_dend"
        )
    )
    inputs = neuroml.InputList(id="dend_noise_in", component="dend_noise", populations="pyramids")
    for k, (segment, fraction) in enumerate(((2, 0.5), (4, 0.25), (7, 0.5), (0, 0.5))):
        inputs.input.append(
            neuroml.Input(
                id=k,
                target="../pyramids/0/" + cell_id,
                destination="synapses",
                segment_id=segment,
                fraction_along=fraction,
            )
        )
    net.input_lists.append(inputs)
    net_file = tmp_path / "detailed.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    out = convert_model(net_file, tmp_path / "sonata").parent
    edges = libsonata.EdgeStorage(str(out / "edges.h5")).open_population("dend_noise_in_synapses")
    every = libsonata.Selection([(0, edges.size)])
    assert edges.get_attribute("afferent_section_id", every).tolist() == [1, 2, 4, 0]
    # a segment without proximal point starts at its parent's distal point (NeuroML), so
    # the axon's first segment runs from y=20 to y=-40 (60 um), its second 80 um
    right = [np.hypot(50, np.hypot(70, 10)), np.hypot(40, 50)]  # dend_right segment lengths
    expected = [(60 + 40) / 140, (60 + 15) / 120, (right[0] + right[1] / 2) / sum(right), 0.5]
    positions = edges.get_attribute("afferent_section_pos", every)
    np.testing.assert_allclose(positions, expected, rtol=1e-12)
    assert edges.get_attribute("neuroml_post_segment_id", every).tolist() == [2, 4, 7, 0]
    edges = libsonata.EdgeStorage(str(out / "edges.h5")).open_population("drive_to_pyramids")
    every = libsonata.Selection([(0, edges.size)])
    assert edges.get_attribute("afferent_section_id", every).tolist() == [2, 4]
    positions = edges.get_attribute("afferent_section_pos", every)
    np.testing.assert_allclose(positions, [(60 + 15) / 120, right[0] / sum(right)], rtol=1e-12)


def test_converted_detailed_cell_feels_where_the_synapse_is(tmp_path):
    """The converted multi-compartment network runs, and the post segment reaches the run:
    one spike onto the soma of cell 1 and onto the far end of dend_right of cell 0 gives
    at cell 0's soma a smaller, later EPSP (cable filtering)."""
    import neuroml.writers

    doc, net, cell_id = _detailed_network(2, [(0, 7, 1.0), (1, 0, 0.5)], 20.0)
    net_file = tmp_path / "detailed.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    columns = [(f"c{i}", f"pyramids/{i}/{cell_id}/v") for i in (0, 1)]
    lems = tmp_path / "LEMS_detailed.xml"
    simulation = LemsSimulation(
        "detailed_sim",
        net.id,
        60.0,
        0.025,
        1,
        [net_file.name],
        [OutputFile("v", "v.dat", columns)],
        [],
    )
    write_lems(lems, simulation)
    out = tmp_path / "sonata"
    run_cli("convert", lems, "--to", "sonata", "-o", out)
    run_cli("run", out / "simulation_config.json")
    dend, soma = (sonatasim_voltage(out / "output" / "v.h5", i) for i in (0, 1))
    rest = soma[int(19 / 0.025)]
    assert abs(dend[int(19 / 0.025)] - rest) < 1e-9  # same cell, same state before the spike
    peak_dend, peak_soma = float(dend.max() - rest), float(soma.max() - rest)
    print(f"EPSP at the soma: {peak_soma:.3f} mV (soma synapse), {peak_dend:.3f} mV (dendrite)")
    assert peak_soma > 0.05 and 0.02 * peak_soma < peak_dend < 0.8 * peak_soma
    assert int(np.argmax(dend)) > int(np.argmax(soma))
