"""Generated circuits (ring, E/I, point network, shipped examples) and our hoc template.

Everything is read back with libsonata; the template runs in NEURON with a stand-in for the
engine's morphology loader, so these tests do not depend on it.
"""

from __future__ import annotations

from pathlib import Path

import libsonata
import morphio
import numpy as np
import pytest

from engine import simulator
from engine.generate.networks import (
    RING_CONDUCTANCE_NS,
    generate_ei_network,
    generate_point_network,
    generate_ring,
    write_ball_and_stick_swc,
    write_template,
)
from engine.io.spike_file import read_spike_file

REPO = Path(__file__).resolve().parents[1]


def ids_of(selection: libsonata.Selection) -> np.ndarray:
    return np.asarray(selection.flatten(), dtype=np.int64)


# ----------------------------------------------------------------------------- generators


def check_circuit(generated, node_types: dict[str, str]) -> libsonata.CircuitConfig:
    """Everything the generator says it wrote is what libsonata reads back."""
    circuit = libsonata.CircuitConfig.from_file(str(generated.circuit_config))
    assert {p: circuit.node_population_properties(p).type for p in node_types} == node_types
    assert circuit.node_populations == set(generated.populations)
    for name, size in generated.populations.items():
        assert circuit.node_population(name).size == size
    assert circuit.edge_populations == set(generated.edges)
    for name, (src, tgt) in generated.edges.items():
        pop = circuit.edge_population(name)
        everything = pop.select_all()
        np.testing.assert_array_equal(pop.source_nodes(everything), src)
        np.testing.assert_array_equal(pop.target_nodes(everything), tgt)
        for attr, values in generated.edge_attributes[name].items():
            np.testing.assert_array_equal(pop.get_attribute(attr, everything), values)
        target = int(tgt[len(tgt) // 2])
        np.testing.assert_array_equal(ids_of(pop.afferent_edges([target])),
                                      np.flatnonzero(tgt == target))  # fmt: skip
        assert circuit.edge_population_properties(name).type == "chemical"
    sim = libsonata.SimulationConfig.from_file(str(generated.simulation_config))
    assert Path(sim.network) == generated.circuit_config
    assert sim.conditions.celsius == pytest.approx(6.3)
    if generated.spike_file is not None:
        replay = sim.input("input_spikes")
        assert replay.module.name == "synapse_replay"
        assert Path(replay.spike_file) == generated.spike_file
        spikes = read_spike_file(replay.spike_file)
        for population, (ids, times) in generated.input_spikes.items():
            np.testing.assert_array_equal(spikes[population][0], ids)
            np.testing.assert_allclose(spikes[population][1], times)
    for config in (generated.circuit_config, generated.simulation_config):
        assert str(generated.root) not in config.read_text()  # relative paths only
    return circuit


def materialize(circuit, node_sets_path, name, population):
    node_sets = libsonata.NodeSets.from_file(str(node_sets_path))
    return ids_of(node_sets.materialize(name, circuit.node_population(population)))


def test_generated_biophysical_ring(tmp_path):
    ring = generate_ring(tmp_path / "ring", n_cells=6)
    circuit = check_circuit(ring, {"ring": "biophysical", "input": "virtual"})
    src, tgt = ring.edges["ring__ring"]
    assert sorted(zip(src.tolist(), tgt.tolist(), strict=True)) == [
        (i, (i + 1) % 6) for i in range(6)
    ]
    np.testing.assert_array_equal(ring.edges["input__ring"][1], [0])
    pop = circuit.node_population("ring")
    assert set(pop.get_attribute("model_template", pop.select_all())) == {"hoc:RingCell"}
    assert set(pop.get_attribute("morphology", pop.select_all())) == {"ball_stick"}
    props = circuit.node_population_properties("ring")
    assert (Path(props.biophysical_neuron_models_dir) / "RingCell.hoc").is_file()
    morph = morphio.Morphology(str(Path(props.morphologies_dir) / "ball_stick.swc"))
    assert morph.soma_type == morphio.SomaType.SOMA_NEUROMORPHO_THREE_POINT_CYLINDERS
    assert [s.type for s in morph.root_sections] == [morphio.SectionType.basal_dendrite]
    edges = circuit.edge_population("ring__ring")
    everything = edges.select_all()
    assert set(edges.get_attribute("afferent_section_id", everything)) == {0}
    assert set(edges.get_attribute("afferent_section_pos", everything)) == {0.5}
    assert np.all(edges.get_attribute("syn_type_id", everything) >= 100)
    np.testing.assert_allclose(edges.get_attribute("syn_weight", everything) * 1e3,
                               edges.get_attribute("conductance", everything))  # fmt: skip
    assert list(materialize(circuit, ring.node_sets_file, "All", "input")) == [0]
    assert list(materialize(circuit, ring.node_sets_file, "Ring", "ring")) == list(range(6))
    assert list(materialize(circuit, ring.node_sets_file, "Input", "ring")) == []
    np.testing.assert_array_equal(ring.input_spikes["input"][1], [5.0])


def test_generated_point_ring_without_input(tmp_path):
    ring = generate_ring(tmp_path / "ring", cell_kind="point", with_virtual_input=False)
    circuit = check_circuit(ring, {"ring": "point_neuron"})
    pop = circuit.node_population("ring")
    assert set(pop.get_attribute("model_template", pop.select_all())) == {"nrn:IntFire1"}
    assert pop.dynamics_attribute_names == {"tau", "refrac"}
    weights = circuit.edge_population("ring__ring").get_attribute(
        "syn_weight", circuit.edge_population("ring__ring").select_all()
    )
    assert np.all(weights > 1.0)  # IntFire1 fires on each event
    assert ring.spike_file is None
    sim = libsonata.SimulationConfig.from_file(str(ring.simulation_config))
    assert sim.list_input_names == []


def test_generated_ei_network(tmp_path):
    ei = generate_ei_network(tmp_path / "ei", n_exc=16, n_inh=4, n_virtual=8, p_connect=0.3)
    circuit = check_circuit(ei, {"cortex": "biophysical", "thalamus": "virtual"})
    pop = circuit.node_population("cortex")
    mtype = pop.get_attribute("mtype", pop.select_all())
    assert list(mtype) == ["EXC"] * 16 + ["INH"] * 4
    src, _ = ei.edges["cortex__cortex"]
    attrs = ei.edge_attributes["cortex__cortex"]
    np.testing.assert_array_equal(attrs["syn_type_id"] < 100, src >= 16)
    assert set(np.unique(attrs["afferent_section_id"])) <= {0, 1}
    assert np.all(ei.edge_attributes["thalamus__cortex"]["syn_type_id"] >= 100)
    nodes = ei.node_sets_file
    assert list(materialize(circuit, nodes, "Inhibitory", "cortex")) == list(range(16, 20))
    assert list(materialize(circuit, nodes, "Excitatory", "thalamus")) == []
    assert len(materialize(circuit, nodes, "All", "thalamus")) == 8
    ids, times = ei.input_spikes["thalamus"]
    assert ids.size > 0 and np.all(np.diff(times) >= 0) and times.max() < 500.0


def test_generated_point_network_is_fast_enough_to_write(tmp_path):
    net = generate_point_network(tmp_path / "net")
    circuit = check_circuit(net, {"net": "point_neuron", "input": "virtual"})
    assert circuit.edge_population("net__net").size == 150_000
    assert circuit.edge_population("input__net").size == 50_000
    inh = net.edge_attributes["net__net"]["syn_weight"] < 0
    np.testing.assert_array_equal(inh, net.edge_attributes["net__net"]["syn_type_id"] < 100)


def test_shipped_example_configs_parse():
    for name, populations in (("example", {"cortex", "thalamus"}), ("ring", {"ring", "input"})):
        root = REPO / "configs" / name
        sim = libsonata.SimulationConfig.from_file(str(root / "simulation_config.json"))
        circuit = libsonata.CircuitConfig.from_file(sim.network)
        assert circuit.node_populations == populations
        assert Path(sim.input("input_spikes").spike_file).is_file()
        for h5 in root.glob("*.h5"):
            assert h5.stat().st_size < 1_000_000


# ----------------------------------------------------------------------------- NEURON


class StandInMorphology:
    """A soma and a dendrite of the ball-and-stick SWC, for checking the template text."""

    def load(self, cell, morph_dir, file_name):
        h = simulator.current().h
        h.execute1("create soma[1], dend[1]", cell)
        soma, dend = cell.soma[0], cell.dend[0]
        soma.L = soma.diam = 20.0
        dend.L, dend.diam = 200.0, 1.0
        dend.connect(soma(0.5), 0)
        for lst, sec in (("all", soma), ("all", dend), ("somatic", soma), ("basal", dend)):
            getattr(cell, lst).append(sec=sec)
        self.loaded = (str(morph_dir), str(file_name))
        return 0


@pytest.fixture
def stand_in(tmp_path):
    """Install the stand-in as hoc's sonatasim_morphology, restoring the previous one."""
    h = simulator.current().h
    if not hasattr(h, "sonatasim_morphology"):
        h("objref sonatasim_morphology")
    previous = h.sonatasim_morphology
    loader = StandInMorphology()
    h.sonatasim_morphology = loader
    for name, passive in (("IoWriterTestHH", False), ("IoWriterTestPassive", True)):
        if not hasattr(h, name):  # a template can be defined once per process
            write_template(tmp_path / f"{name}.hoc", name, passive_only=passive)
            assert h.load_file(str(tmp_path / f"{name}.hoc")) == 1
    yield h, loader
    h.sonatasim_morphology = previous


def test_template_runs_in_neuron(stand_in, tmp_path):
    h, loader = stand_in
    write_ball_and_stick_swc(tmp_path / "bs.swc")
    cell = h.IoWriterTestHH(42, str(tmp_path), "bs.swc")
    assert cell.gid == 42
    assert loader.loaded == (str(tmp_path), "bs.swc")
    assert [s.name().split(".")[-1] for s in cell.all] == ["soma[0]", "dend[0]"]
    assert cell.dend[0].nseg == 11 and cell.soma[0].nseg == 1
    assert cell.soma[0](0.5).gnabar_hh == pytest.approx(0.12)
    assert cell.dend[0](0.5).e_pas == -65.0 and cell.dend[0].Ra == 100.0
    assert not cell.dend[0].has_membrane("hh")
    passive = h.IoWriterTestPassive(1, str(tmp_path), "bs.swc")
    assert passive.soma[0].has_membrane("pas") and not passive.soma[0].has_membrane("hh")


def test_ring_conductance_fires_the_cell_exactly_once(stand_in, tmp_path):
    h, _ = stand_in
    cell = h.IoWriterTestHH(0, str(tmp_path), "bs.swc")
    soma = cell.soma[0]
    syn = h.Exp2Syn(soma(0.5))
    syn.tau1, syn.tau2, syn.e = 0.2, 2.0, 0.0
    stim = h.NetStim()
    stim.number, stim.start = 1, 5.0
    drive = h.NetCon(stim, syn)
    drive.weight[0] = RING_CONDUCTANCE_NS * 1e-3
    detector = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
    detector.threshold = -30.0
    times = h.Vector()
    detector.record(times)
    celsius = h.celsius
    try:
        h.celsius = 6.3
        h.dt = 0.025
        h.finitialize(-65.0)
        h.continuerun(60.0)
    finally:
        h.celsius = celsius
    assert len(times) == 1 and 5.0 < times[0] < 9.0
