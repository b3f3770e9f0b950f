"""`sonatasim convert --to sonata` of a network of multi-compartment NeuroML cells, run by
sonatasim on 1 and 2 ranks and by jNeuroML's NEURON export of the same LEMS file.

The network (written with libNeuroML here): three of our HH cells (engine.dialects.neuroml.
examples.cell: soma, axon, branching dendrite, NeuroML HH channels with q10), a spikeArray
driving cells 0 and 2 through expTwoSynapse connections on dendrite segments at a
fractionAlong, cell 0 driving cells 1 and 2 the same way with delays from two pre
segments (its distal axon, a distal dendrite: spike detectors of their own), a dendro-dendritic
gapJunction between cells 0 and 1, and a pulseGenerator input list onto a soma and a
dendrite segment (a compartment set input: placed at the soma, the spikes move by 0.9
ms and the comparison fails). The LEMS file records the somata and one dendritic
segment of each cell. Post (and junction pre) segments map to section ids and positions
with the segment -> section layout our `nml:` builder uses and jNeuroML's export lays out;
segment columns become a compartment_set report at each segment's centre, where jNeuroML
records. dt = 2.5 us as in tests/test_neuroml_cells.py (jNeuroML lags its gating a step).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.dialects.neuroml.examples.cell import CELL_ID, cell_document
from engine.dialects.neuroml.examples.mixed import add_proximal_points
from engine.dialects.neuroml.lems import EventOutputFile, LemsSimulation, OutputFile, write_lems
from tests.conftest import run_cli
from tests.neuroml_reference import (
    assert_same_spike_trains,
    compare_spikes,
    run_jneuroml,
    sonatasim_spikes,
    sonatasim_voltage,
)
from tests.test_neuroml_convert import _nodes

pytestmark = [pytest.mark.slow]

CELL = CELL_ID.replace(".", "_")
POP, SOURCE = "L5_hh_pyramidal", "thalamic_drive"
LOCATION = ("neuroml_post_segment_id", "afferent_section_id", "afferent_section_pos")
LENGTH, STEP = 30.0, 0.0025
# (pre population, pre cell, (pre segment, fractionAlong), post cell, post segment,
# fractionAlong, weight, delay ms); segments of the example cell: 0 soma, 1-2 axon_group,
# 3-4 dend_trunk, 5 dend_left, 6-7 dend_right. Cell 0 drives cell 1 (on the other rank
# of a 2-rank run) from its distal axon and cell 2 from a distal dendrite (a
# dendro-dendritic synapse): each place is a spike detector of its own, cell 0's spikes
# are still recorded at its soma
CONNECTIONS = (
    (SOURCE, 0, None, 0, 5, 0.3, 15.0, 2.0),
    (SOURCE, 0, None, 2, 7, 0.6, 40.0, 1.5),
    (POP, 0, (2, 0.5), 1, 4, 0.25, 25.0, 3.0),
    (POP, 0, (7, 0.9), 2, 3, 0.5, 40.0, 1.0),
)
# their (section, position), where jNeuroML's export watches too: axon_group segments 1,
# 2 are 60 and 80 um (segment 1 starts at the soma's distal point: no proximal point);
# dend_right segments 6, 7 as in the tests below
_RIGHT = (float(np.hypot(np.hypot(50, 70), 10)), float(np.hypot(40, 50)))
PRE_PLACES = ((1, (60 + 0.5 * 80) / 140), (4, (_RIGHT[0] + 0.9 * _RIGHT[1]) / sum(_RIGHT)))
# a dendro-dendritic gapJunction (5 nS x weight): (id, pre cell, segment, fractionAlong,
# post cell, segment, fractionAlong, weight), across the ranks of a 2-rank run
GAP = ("dendro_dendritic", 0, 6, 0.5, 1, 7, 0.3, 4.0)
# a pulseGenerator input list: (cell, segment, fractionAlong) of each input; one on a
# soma, one on a dendrite segment (a compartment set, where jNeuroML's export injects)
STEP_INPUT = ("dendritic_step_current", "step_0p2nA", ((1, 0, 0.5), (2, 6, 0.5)))
# OutputFile columns of dendritic segments' v: (column id, cell, segment)
DEND_COLUMNS = (("dend_right_0", 0, 6), ("dend_right_1", 1, 7), ("dend_right_2", 2, 7))


def _write_model(directory: Path) -> Path:
    """The LEMS file of the network (NeuroML written and validated with libNeuroML)."""
    import neuroml
    import neuroml.writers

    doc = cell_document()
    doc.id = "hh_network"
    add_proximal_points(doc)  # jNeuroML's export needs them to place a synapse
    doc.exp_two_synapses.append(
        neuroml.ExpTwoSynapse(
            id="ampa_dend", gbase="1nS", erev="0mV", tau_rise="0.3ms", tau_decay="3ms"
        )
    )
    doc.spike_arrays.append(
        neuroml.SpikeArray(
            id="drive_spikes",
            spikes=[neuroml.Spike(id=k, time=f"{t}ms") for k, t in enumerate((3.0, 10.0, 19.0))],
        )
    )
    net = neuroml.Network(id="hh_net", type="networkWithTemperature", temperature="16 degC")
    doc.networks.append(net)
    for pop_id, component, n in ((POP, CELL, 3), (SOURCE, "drive_spikes", 1)):
        pop = neuroml.Population(id=pop_id, component=component, size=n, type="populationList")
        for i in range(n):
            location = neuroml.Location(x=100.0 * i, y=0.0, z=0.0)
            pop.instances.append(neuroml.Instance(id=i, location=location))
        net.populations.append(pop)
    components = {POP: CELL, SOURCE: "drive_spikes"}
    for pre in (SOURCE, POP):
        proj = neuroml.Projection(
            id=f"{pre}__{POP}",
            presynaptic_population=pre,
            postsynaptic_population=POP,
            synapse="ampa_dend",
        )
        for k, (_, i, at, j, segment, fraction, w, d) in enumerate(
            c for c in CONNECTIONS if c[0] == pre
        ):
            pre_segment, pre_fraction = at or (0, 0.5)
            proj.connection_wds.append(
                neuroml.ConnectionWD(
                    id=k,
                    pre_cell_id=f"../{pre}/{i}/{components[pre]}",
                    pre_segment_id=pre_segment,
                    pre_fraction_along=pre_fraction,
                    post_cell_id=f"../{POP}/{j}/{CELL}",
                    post_segment_id=segment,
                    post_fraction_along=fraction,
                    weight=w,
                    delay=f"{d}ms",
                )
            )
        net.projections.append(proj)
    doc.gap_junctions.append(neuroml.GapJunction(id="gap_dend", conductance="5nS"))
    name, i, pre_seg, pre_fraction, j, post_seg, post_fraction, weight = GAP
    electrical = neuroml.ElectricalProjection(
        id=name, presynaptic_population=POP, postsynaptic_population=POP
    )
    electrical.electrical_connection_instance_ws.append(
        neuroml.ElectricalConnectionInstanceW(
            id=0,
            pre_cell=f"../{POP}/{i}/{CELL}",
            post_cell=f"../{POP}/{j}/{CELL}",
            pre_segment=pre_seg,
            pre_fraction_along=pre_fraction,
            post_segment=post_seg,
            post_fraction_along=post_fraction,
            synapse="gap_dend",
            weight=weight,
        )
    )
    net.electrical_projections.append(electrical)
    list_id, pulse_id, targets = STEP_INPUT
    doc.pulse_generators.append(
        neuroml.PulseGenerator(id=pulse_id, delay="20ms", duration="6ms", amplitude="0.2nA")
    )
    step = neuroml.InputList(id=list_id, populations=POP, component=pulse_id)
    for k, (cell, segment, fraction) in enumerate(targets):
        step.input.append(
            neuroml.Input(
                id=k,
                target=f"../{POP}/{cell}/{CELL}",
                destination="synapses",
                segment_id=segment,
                fraction_along=fraction,
            )
        )
    net.input_lists.append(step)
    doc.validate(recursive=True)
    directory.mkdir(parents=True, exist_ok=True)
    net_file = directory / "hh_network.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    lems = directory / "LEMS_hh_network.xml"
    columns = [(f"v{i}", f"{POP}/{i}/{CELL}/v") for i in range(3)]
    dend = [(c, f"{POP}/{i}/{CELL}/{seg}/v") for c, i, seg in DEND_COLUMNS]
    selections = [(str(i), f"{POP}/{i}/{CELL}", "spike") for i in range(3)]
    write_lems(
        lems,
        LemsSimulation(
            "hh_network_sim",
            net.id,
            LENGTH,
            STEP,
            1,
            [net_file.name],
            [
                OutputFile("soma_v", "hh_network.v.dat", columns),
                OutputFile("dend_v", "hh_network.dend_v.dat", dend),
            ],
            [EventOutputFile("spikes", "hh_network.spikes", "ID_TIME", selections)],
        ),
    )
    return lems


def convert_model(base: Path) -> tuple[Path, Path]:
    """(LEMS file, converted simulation config) of the network under `base`."""
    lems = _write_model(base / "model")
    config = base / "sonata" / "simulation_config.json"
    run_cli("convert", lems, "--to", "sonata", "-o", config.parent)
    return lems, config


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    base = tmp_path_factory.mktemp("nml_mc_convert")
    lems, config = convert_model(base)
    reference = base / "reference"
    reference.mkdir()
    for path in (base / "model").iterdir():
        (reference / path.name).write_bytes(path.read_bytes())
    return config, run_jneuroml(reference / lems.name)


def test_dendritic_synapses_keep_their_location(converted):
    """Nodes are nml: biophysical cells; every edge sits on the section jNeuroML's layout
    gives the post segment, at the length-weighted position of its fractionAlong."""
    config, _ = converted
    nodes, edges = _nodes(config)
    assert nodes[POP]["model_type"] == ["biophysical"] * 3
    assert set(nodes[POP]["model_template"]) == {f"nml:{CELL}.cell.nml"}
    assert (config.parent / "cells" / f"{CELL}.cell.nml").is_file()
    found = {}
    for _source, _target, names, rows in edges.values():
        columns = [names.index(a) + 2 for a in LOCATION]
        found.update({(r[1], r[columns[0]]): (r[columns[1]], r[columns[2]]) for r in rows})
    # sections of the example cell: 0 soma, 1 axon, 2 dend_trunk (segments 3, 4: 60 and
    # 60 um), 3 dend_left (segment 5), 4 dend_right (segments 6, 7); positions by length
    right = (float(np.hypot(np.hypot(50, 70), 10)), float(np.hypot(40, 50)))
    assert found[(0, 5)] == (3, pytest.approx(0.3))
    assert found[(2, 7)] == (4, pytest.approx((right[0] + 0.6 * right[1]) / sum(right)))
    assert found[(1, 4)] == (2, pytest.approx((60 + 0.25 * 60) / 120))
    # the converted circuit also passes `validate` and `dry-run` (generated channels loaded)
    run_cli("validate", config)
    assert "estimated peak memory per rank" in run_cli("dry-run", config).stdout


def test_segment_columns_and_junction_keep_their_location(converted):
    """The segment columns are a compartment_set report at the centre of each segment on
    the section our builder makes of it (libsonata reads the set), where jNeuroML's export
    records; the junction's ends sit at its pre and post segment and fractionAlong."""
    import libsonata

    config, _ = converted
    sim = libsonata.SimulationConfig.from_file(str(config))
    assert sim.report("soma_v").type.name == "compartment"
    report = sim.report("dend_v")
    assert report.type.name == "compartment_set" and report.compartment_set == "dend_v"
    sets = libsonata.CompartmentSets.from_file(sim.compartment_sets_file)
    entries = [(c.node_id, c.section_id, c.offset) for c in sets["dend_v"].filtered_iter()]
    right = (float(np.hypot(np.hypot(50, 70), 10)), float(np.hypot(40, 50)))  # segments 6, 7
    centre_7 = pytest.approx((right[0] + 0.5 * right[1]) / sum(right))
    assert entries == [(0, 4, pytest.approx(0.5 * right[0] / sum(right))), (1, 4, centre_7),
                       (2, 4, centre_7)]  # fmt: skip
    list_id = STEP_INPUT[0]
    assert sim.input(list_id).compartment_set == list_id
    entries = [(c.node_id, c.section_id, c.offset) for c in sets[list_id].filtered_iter()]
    assert entries == [(1, 0, 0.5), (2, 4, pytest.approx(0.5 * right[0] / sum(right)))]
    edges = libsonata.EdgeStorage(str(config.parent / "edges.h5")).open_population(GAP[0])
    everything = libsonata.Selection([(0, edges.size)])
    names = ("efferent_section_id", "efferent_section_pos", "afferent_section_id",
             "afferent_section_pos", "conductance", "syn_weight")  # fmt: skip
    found = {n: float(edges.get_attribute(n, everything)[0]) for n in names}
    assert found == {
        "efferent_section_id": 4,
        "efferent_section_pos": pytest.approx(GAP[3] * right[0] / sum(right)),
        "afferent_section_id": 4,
        "afferent_section_pos": pytest.approx((right[0] + GAP[6] * right[1]) / sum(right)),
        "conductance": 5.0 * GAP[7],
        "syn_weight": GAP[7],
    }


def _dendrite_columns(report: Path) -> dict[str, np.ndarray]:
    """The dend_v traces by OutputColumn id (elements in compartment set order)."""
    import libsonata

    reader = libsonata.ElementReportReader(str(report))
    frame = reader[reader.get_population_names()[0]].get()
    assert [node for node, _ in frame.ids] == [cell for _, cell, _ in DEND_COLUMNS]
    data = np.asarray(frame.data)
    return {name: data[:, k] for k, (name, _, _) in enumerate(DEND_COLUMNS)}


def _rms(mine: np.ndarray, theirs: np.ndarray) -> float:
    n = min(theirs.size, mine.size)
    assert n >= int(LENGTH / STEP) - 1
    return float(np.sqrt(np.mean((mine[:n] - theirs[:n]) ** 2)))


def _check_against_jneuroml(out: Path, reference) -> dict:
    reference_spikes, reference_v = reference
    spikes = sonatasim_spikes(out)
    cells = [(POP, i) for i in range(3)]
    assert all(reference_spikes[c].size >= 1 for c in cells), reference_spikes
    ours = {c: spikes.get(c, np.zeros(0)) for c in cells}
    compare_spikes(ours, reference_spikes, cells, 0.2)
    for i in range(3):
        rms = _rms(sonatasim_voltage(out / "soma_v.h5", i), reference_v[f"v{i}"])
        assert rms < 1.0, (i, rms)
    for name, mine in _dendrite_columns(out / "dend_v.h5").items():
        rms = _rms(mine, reference_v[name])
        assert rms < 1.0, (name, rms)
    with h5py.File(out / "spikes.h5") as f:
        assert sorted(f["spikes"]) == [POP]  # the spike source is replayed, not recorded
    return spikes


@pytest.fixture(scope="module")
def one_rank(converted, tmp_path_factory):
    out = tmp_path_factory.mktemp("nml_mc_run1") / "out"
    run_cli("run", converted[0], "--output-dir", out, "--no-progress")
    return out


def test_converted_network_matches_jneuroml(converted, one_rank):
    _check_against_jneuroml(one_rank, converted[1])


@pytest.mark.mpi
def test_two_ranks_give_the_same_spikes(converted, one_rank, tmp_path):
    out = tmp_path / "out"
    run_cli("run", converted[0], "--output-dir", out, "--no-progress", ranks=2)
    two = _check_against_jneuroml(out, converted[1])
    assert_same_spike_trains(sonatasim_spikes(one_rank), two)
    theirs = _dendrite_columns(out / "dend_v.h5")
    for name, trace in _dendrite_columns(one_rank / "dend_v.h5").items():
        np.testing.assert_array_equal(theirs[name], trace)


def _junctions(network) -> list:
    return [
        (c.pre_cell, c.post_cell, c.pre_segment, c.post_segment, c.pre_fraction_along,
         c.post_fraction_along, float(c.weight), c.synapse)
        for p in network.electrical_projections
        for c in p.electrical_connection_instance_ws
    ]  # fmt: skip


def _compartment_sets(config: Path) -> str:
    import libsonata

    sim = libsonata.SimulationConfig.from_file(str(config))
    return libsonata.CompartmentSets.from_file(sim.compartment_sets_file).toJSON()


def test_round_trips_keep_the_network(converted, tmp_path):
    """NeuroML -> SONATA -> NeuroML keeps populations, positions, connections and the
    junction (with their segments and fractionAlong) and the OutputFile columns (a soma
    column as the cell's v); SONATA -> NeuroML -> SONATA keeps every node and edge
    attribute and the compartment sets; every written file validates."""
    from neuroml.utils import validate_neuroml2

    from engine.dialects.neuroml.lems import read_lems
    from tests.test_neuroml_convert import _connections, _network, _populations

    config = converted[0]
    run_cli("convert", config, "--to", "neuroml", "-o", tmp_path / "nml")
    back = next((tmp_path / "nml").glob("LEMS_*.xml"))
    run_cli("convert", back, "--to", "sonata", "-o", tmp_path / "sonata")
    original = _network(config.parent.parent / "model" / "LEMS_hh_network.xml")
    returned = _network(back)
    assert _populations(returned) == _populations(original)
    assert _connections(returned) == _connections(original)
    assert sum(len(rows) for rows in _connections(original).values()) == len(CONNECTIONS)
    assert _junctions(returned) == _junctions(original) and len(_junctions(original)) == 1
    lems = config.parent.parent / "model" / "LEMS_hh_network.xml"
    columns = {o.id: sorted(q for _, q in o.columns) for o in read_lems(lems).outputs}
    assert {o.id: sorted(q for _, q in o.columns) for o in read_lems(back).outputs} == columns
    assert _nodes(tmp_path / "sonata" / "simulation_config.json") == _nodes(config)
    # the same compartment sets; an exported input list's id gets its population's id
    returned_sets = json.loads(_compartment_sets(tmp_path / "sonata" / "simulation_config.json"))
    renamed = {name.removesuffix(f"_{POP}"): value for name, value in returned_sets.items()}
    assert renamed == json.loads(_compartment_sets(config))
    assert STEP_INPUT[0] in renamed  # the input on a dendrite segment went there and back
    step_inputs = next(i for i in returned.input_lists if i.id.startswith(STEP_INPUT[0])).input
    places = [(int(i.get_target_cell_id()), i.get_segment_id(), i.get_fraction_along())
              for i in step_inputs]  # fmt: skip
    assert places == list(STEP_INPUT[2])
    files = [*(tmp_path / "nml").glob("*.nml"), *(config.parent / "cells").glob("*.nml")]
    assert len(files) >= 4
    for path in files:
        validate_neuroml2(str(path))
    # a compartment set entry off every segment's centre has no NeuroML column
    off = tmp_path / "off_centre"
    shutil.copytree(config.parent, off)
    sets = json.loads((off / "compartment_sets.json").read_text())
    sets["dend_v"]["compartment_set"][0][2] = 0.1
    (off / "compartment_sets.json").write_text(json.dumps(sets))
    result = run_cli(
        "convert", off / config.name, "--to", "neuroml", "-o", off / "nml", check=False
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    message = "compartment_set report entries off a NeuroML segment's centre: dend_v (node 0, section 4, 0.1)"
    assert message in result.stderr, result.stderr
