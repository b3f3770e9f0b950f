"""Allen/bmtk dialect, config side: types CSV, attribute merge, translation to SONATA.

No NEURON here: the generated circuit is checked against what the generator wrote
(AllenCircuit records the CSV rows and the h5 columns) and against libsonata's reading of
the translated configs.
"""

from __future__ import annotations

import json
import shutil

import h5py
import libsonata
import numpy as np
import pytest

from engine.config import load_setup
from engine.dialects.allen.config import translate_if_allen
from engine.errors import CircuitError, ConfigError
from engine.generate.allen import generate_allen_network
from engine.io.attributes import AttributeReader, TypesSource
from engine.io.types_csv import parse_types_csv, read_types_csv, write_types_csv
from tests.conftest import REPO


@pytest.fixture(scope="module")
def allen(tmp_path_factory):
    root = tmp_path_factory.mktemp("allen")
    iclamp = {"amp": [0.3, 0.2], "delay": [20.0, 120.0], "duration": [50.0, 30.0]}
    return generate_allen_network(root / "net", iclamp=iclamp)


def test_types_csv_space_separated_quoted_and_null(tmp_path):
    text = (
        "edge_type_id syn_weight delay target_sections weight_function nsyns\n"
        "100 0.5 2 \"['basal', 'apical']\" wmax NULL\n"
        "101 1e-3 1.5 somatic NULL 3\n"
    )
    table = parse_types_csv(text, tmp_path / "t.csv", "edge_type_id")
    assert table.ids.tolist() == [100, 101]
    assert table.columns["syn_weight"].dtype == np.float64
    assert table.columns["target_sections"].tolist() == ["['basal', 'apical']", "somatic"]
    assert table.columns["weight_function"].tolist() == ["wmax", None]
    assert np.isnan(table.columns["nsyns"][0]) and table.columns["nsyns"][1] == 3
    np.testing.assert_array_equal(table.values("delay", np.array([101, 100, 101])), [1.5, 2, 1.5])
    with pytest.raises(CircuitError, match="edge_type_id 7 not in the types file"):
        table.values("delay", np.array([7]))


def test_types_csv_commas_round_trip_and_errors(tmp_path):
    table = parse_types_csv(
        "node_type_id,model_type\n1,virtual\n", tmp_path / "c.csv", "node_type_id"
    )
    assert table.columns["model_type"].tolist() == ["virtual"]
    rows = [{"node_type_id": 3, "morphology": "a b.swc", "x": 1.5}, {"node_type_id": 4, "x": None}]
    write_types_csv(tmp_path / "w.csv", "node_type_id", rows)
    back = read_types_csv(tmp_path / "w.csv", "node_type_id")
    assert back.columns["morphology"].tolist() == ["a b.swc", None]
    assert back.columns["x"][0] == 1.5 and np.isnan(back.columns["x"][1])
    with pytest.raises(CircuitError, match="row 2 has 3 fields"):
        parse_types_csv("node_type_id a\n1 x y\n", tmp_path / "bad.csv", "node_type_id")
    with pytest.raises(CircuitError, match="appears twice"):
        parse_types_csv("node_type_id a\n1 x\n1 y\n", tmp_path / "dup.csv", "node_type_id")


def test_populations_and_attributes_merged_from_the_csv(allen, tmp_path):
    setup = load_setup(allen.simulation_config, tmp_path / "out")
    assert setup.dialect == "allen"
    assert {p: i.type for p, i in setup.node_populations.items()} == {
        "cortex": "biophysical",
        "lgn": "virtual",
    }
    cortex = setup.node_populations["cortex"]
    assert cortex.types_file == allen.root / "network" / "cortex_node_types.csv"
    assert setup.run.dL == allen.dL and setup.run.random_seed == 0
    assert setup.run.spike_threshold == -15.0
    assert setup.output.spikes_sort_order == "by_time"
    storage = libsonata.NodeStorage(str(cortex.nodes_file)).open_population("cortex")
    reader = AttributeReader(storage, cortex.nodes_file)  # finds the CSV through load_setup
    ids = np.arange(storage.size)
    rows = {r["node_type_id"]: r for r in allen.node_types["cortex"]}
    expected_types = allen.node_type_ids["cortex"]
    for column in ("model_template", "model_processing", "dynamics_params", "morphology", "ei"):
        assert reader.has(column)
        expected = [rows[int(t)][column] for t in expected_types]
        assert reader.read(column, ids).tolist() == expected
    with h5py.File(cortex.nodes_file) as f:  # h5 values stay as they are
        np.testing.assert_array_equal(reader.read("x", ids), f["nodes/cortex/0/x"][...])
    assert "model_template" in reader.names() and "x" in reader.names()
    assert reader.from_types_file("model_template") and not reader.from_types_file("x")


def test_edge_attributes_and_dynamics_json_merged(allen, tmp_path):
    setup = load_setup(allen.simulation_config, tmp_path / "out")
    info = setup.edge_populations["cortex_to_cortex"]
    assert info.synaptic_models_dir == allen.root / "components" / "synaptic_models"
    storage = libsonata.EdgeStorage(str(info.edges_file)).open_population("cortex_to_cortex")
    reader = AttributeReader(storage, info.edges_file)
    ids = np.arange(storage.size)
    rows = {r["edge_type_id"]: r for r in allen.edge_types["cortex_to_cortex"]}
    types = allen.edges["cortex_to_cortex"]["edge_type_id"]
    np.testing.assert_array_equal(
        reader.read("syn_weight", ids), [rows[t]["syn_weight"] for t in types]
    )
    np.testing.assert_array_equal(reader.read("delay", ids), [rows[t]["delay"] for t in types])
    synapse_json = {
        t: json.loads((info.synaptic_models_dir / rows[t]["dynamics_params"]).read_text())
        for t in rows
    }
    for param in ("tau1", "tau2", "erev"):
        assert reader.has(f"@dynamics:{param}")
        expected = [synapse_json[t][param] for t in types]
        np.testing.assert_array_equal(reader.read(f"@dynamics:{param}", ids), expected)
    assert not reader.has("@dynamics:level_of_detail")  # strings are not parameters


def test_h5_attribute_wins_over_the_csv_column(allen, tmp_path):
    csv = tmp_path / "types.csv"
    write_types_csv(csv, "node_type_id", [{"node_type_id": t, "x": -1.0} for t in (100, 101)])
    path = allen.root / "network" / "cortex_nodes.h5"
    storage = libsonata.NodeStorage(str(path)).open_population("cortex")
    reader = AttributeReader(storage, path, TypesSource(csv))
    with h5py.File(path) as f:
        np.testing.assert_array_equal(reader.read("x", np.arange(6)), f["nodes/cortex/0/x"][...])


def test_translation_of_inputs_reports_and_node_sets(allen, tmp_path):
    translation = translate_if_allen(allen.simulation_config, tmp_path / "out")
    assert translation is not None
    text = "\n".join(translation.notes)
    for expected in ("random_seed missing", "spike_threshold missing", "nsteps_block ignored"):
        assert expected in text
    sim = libsonata.SimulationConfig.from_file(str(translation.simulation_config))
    assert sorted(sim.list_input_names) == ["current_clamp", "current_clamp_1", "lgn_spikes"]
    second = sim.input("current_clamp_1")
    assert (second.amp_start, second.delay, second.duration) == (0.2, 120.0, 30.0)
    assert second.represents_physical_electrode and second.node_set == "exc"
    replay = sim.input("lgn_spikes")
    assert replay.module.name == "synapse_replay"
    spikes = libsonata.SpikeReader(replay.spike_file)["lgn"].get_dict()
    order = np.lexsort((spikes["node_ids"], spikes["timestamps"]))
    expected = np.lexsort((allen.lgn_spikes[0], allen.lgn_spikes[1]))
    np.testing.assert_array_equal(spikes["node_ids"][order], allen.lgn_spikes[0][expected])
    np.testing.assert_array_equal(spikes["timestamps"][order], allen.lgn_spikes[1][expected])
    report = sim.report("membrane_potential")
    assert report.type.name == "compartment" and report.variable_name == "v"
    assert report.cells == "exc" and report.sections.name == "soma"
    node_sets = json.loads((translation.simulation_config.parent / "node_sets.json").read_text())
    exc_rows = [i for i, t in enumerate(allen.node_type_ids["cortex"]) if t == 100]
    assert node_sets["exc"] == {"population": "cortex", "node_id": exc_rows}
    assert node_sets["cortex"] == {"population": "cortex"}


def test_combined_config_and_csv_spikes_translate_alike(allen, tmp_path):
    plain = load_setup(allen.simulation_config, tmp_path / "a")
    combined = load_setup(allen.combined_config, tmp_path / "b")
    assert combined.dialect == "allen"
    assert set(combined.node_populations) == set(plain.node_populations)
    config = json.loads(allen.simulation_config.read_text())
    config["inputs"]["lgn_spikes"].update(
        module="csv", input_file="$BASE_DIR/inputs/lgn_spikes.csv"
    )
    csv_config = allen.root / "csv_config.json"
    csv_config.write_text(json.dumps(config))
    with_csv = load_setup(csv_config, tmp_path / "c")
    read = [
        libsonata.SpikeReader(s.input("lgn_spikes").spike_file)["lgn"].get_dict()
        for s in (plain, with_csv)
    ]
    np.testing.assert_array_equal(read[0]["node_ids"], read[1]["node_ids"])
    np.testing.assert_array_equal(read[0]["timestamps"], read[1]["timestamps"])


def test_unsupported_allen_input_is_an_error(allen, tmp_path):
    config = json.loads(allen.simulation_config.read_text())
    config["inputs"]["waves"] = {"input_type": "e_field", "module": "xstim", "node_set": "lgn"}
    path = allen.root / "xstim_config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="input module 'xstim'"):
        load_setup(path, tmp_path / "out")


def test_sonata_configs_are_not_translated():
    config = REPO / "configs" / "example" / "simulation_config.json"
    assert translate_if_allen(config) is None
    setup = load_setup(config)
    assert setup.dialect == "sonata" and setup.notes == []


def test_sonata_simulation_config_on_an_allen_circuit_is_translated(allen, tmp_path):
    config = tmp_path / "simulation_config.json"
    config.write_text(
        json.dumps(
            {
                "manifest": {"$BASE": str(allen.root)},
                "network": "$BASE/circuit_config.json",
                "run": {"tstop": 10.0, "dt": 0.025, "random_seed": 4},
            }
        )
    )
    setup = load_setup(config)
    assert "circuit entries without 'populations'" in setup.notes[0]
    assert setup.run.random_seed == 4 and setup.run.spike_threshold == -30.0  # SONATA default
    assert set(setup.node_populations) == {"cortex", "lgn"}


def test_an_iclamp_on_a_section_the_cell_lacks_names_it(allen, tmp_path):
    """bmtk's section_name/section_index/section_dist must exist on every target cell."""
    config = json.loads(allen.simulation_config.read_text())
    config["inputs"]["dendritic"] = {
        "input_type": "current_clamp", "module": "IClamp", "node_set": "cortex",
        "amp": 0.1, "delay": 10.0, "duration": 5.0, "section_name": "dend",
        "section_index": 30, "section_dist": 0.2,
    }  # fmt: skip
    path = allen.root / "dendritic_config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"IClamp at dend\[30\]: node 0 .* has no such section"):
        load_setup(path, tmp_path / "out")


def test_bmtk_gap_junction_id_file_is_accepted_with_a_note(allen, tmp_path):
    """bmtk's networks.gap_juncs file only pairs its own ids; the engine keys junctions by
    edge id (tests/test_allen_gap_junctions.py runs them)."""
    copy = tmp_path / "net"
    shutil.copytree(allen.root, copy)
    config = copy / allen.simulation_config.relative_to(allen.root)
    circuit = json.loads((copy / "circuit_config.json").read_text())
    circuit["networks"]["gap_juncs"] = [{"gap_juncs_file": "cortex_gap_juncs.h5"}]
    (copy / "circuit_config.json").write_text(json.dumps(circuit))
    setup = load_setup(config, tmp_path / "out")
    assert any("gap_juncs[0] (cortex_gap_juncs.h5): not needed" in n for n in setup.notes)
