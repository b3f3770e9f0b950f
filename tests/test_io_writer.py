"""Our SONATA writer, spike files and atomic writes, checked by reading back with libsonata."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import libsonata
import numpy as np
import pytest

from engine.errors import CircuitError
from engine.io.atomic import atomic_path, temporary_name
from engine.io.sonata_writer import (
    write_circuit_config,
    write_edges,
    write_node_sets,
    write_nodes,
    write_simulation_config,
)
from engine.io.spike_file import read_spike_file, write_spike_file


def ids_of(selection: libsonata.Selection) -> np.ndarray:
    return np.asarray(selection.flatten(), dtype=np.int64)


# ----------------------------------------------------------------------------- nodes


def test_nodes_round_trip_through_libsonata(tmp_path):
    path = tmp_path / "nodes.h5"
    names = np.array(["hoc:Cell", "hoc:Zelle ü", "nrn:IntFire1"])
    write_nodes(
        path,
        "a",
        {"x": np.array([1.5, 2.5, 3.5]), "layer": np.array([1, 2, 3], np.int32), "t": names},
        dynamics={"tau": np.array([10.0, 20.0, 30.0])},
        node_type_id=np.array([7, 8, 9]),
    )
    write_nodes(path, "b", {"model_type": np.array(["virtual"] * 2, dtype=object)})
    storage = libsonata.NodeStorage(str(path))
    assert storage.population_names == {"a", "b"}
    pop = storage.open_population("a")
    everything = pop.select_all()
    assert pop.size == 3
    assert pop.attribute_names == {"x", "layer", "t"}
    np.testing.assert_array_equal(pop.get_attribute("x", everything), [1.5, 2.5, 3.5])
    assert pop.get_attribute("layer", everything).dtype == np.int32
    assert list(pop.get_attribute("t", libsonata.Selection([1, 2]))) == list(names[1:])
    assert pop.dynamics_attribute_names == {"tau"}
    np.testing.assert_array_equal(pop.get_dynamics_attribute("tau", everything), [10, 20, 30])
    assert storage.open_population("b").size == 2
    with h5py.File(path, "r") as f:
        group = f["nodes/a"]
        assert group["node_type_id"].dtype == np.int64
        np.testing.assert_array_equal(group["node_type_id"][:], [7, 8, 9])
        np.testing.assert_array_equal(group["node_group_id"][:], [0, 0, 0])
        np.testing.assert_array_equal(group["node_group_index"][:], [0, 1, 2])


def test_nodes_mode_replaces_population_or_file(tmp_path):
    path = tmp_path / "nodes.h5"
    write_nodes(path, "a", {"x": np.zeros(2)})
    write_nodes(path, "b", {"x": np.zeros(4)})
    write_nodes(path, "a", {"x": np.ones(5)})  # same name: replaced, "b" kept
    storage = libsonata.NodeStorage(str(path))
    assert storage.population_names == {"a", "b"}
    assert storage.open_population("a").size == 5
    write_nodes(path, "c", {"x": np.zeros(1)}, mode="w")
    assert libsonata.NodeStorage(str(path)).population_names == {"c"}


def test_bad_nodes_raise_and_leave_the_file_alone(tmp_path):
    path = tmp_path / "nodes.h5"
    write_nodes(path, "a", {"x": np.zeros(2)})
    before = path.read_bytes()
    with pytest.raises(CircuitError, match="size"):
        write_nodes(path, "b", {"x": np.zeros(2), "y": np.zeros(3)})
    with pytest.raises(CircuitError, match="shape") as info:
        write_nodes(path, "b", {"x": np.zeros(2)}, dynamics={"tau": np.zeros((2, 2))})
    assert info.value.file == str(path)
    assert path.read_bytes() == before
    assert not temporary_name(path).exists()


# ----------------------------------------------------------------------------- edges


def test_edges_sorted_with_indices_matching_numpy(tmp_path):
    rng = np.random.default_rng(3)
    n_src, n_tgt, n = 30, 20, 300
    src = rng.integers(0, n_src - 5, n)  # the last 5 sources have no edges
    tgt = rng.integers(0, n_tgt, n)
    original = np.arange(n)
    path = tmp_path / "edges.h5"
    write_edges(
        path,
        "pre__post",
        "pre",
        "post",
        src,
        tgt,
        {"original": original, "w": original * 0.5, "kind": np.array(["e", "i"] * (n // 2))},
        dynamics={"u": original * 2.0},
        edge_type_id=np.full(n, 4),
        n_source_nodes=n_src,
        n_target_nodes=n_tgt,
    )
    pop = libsonata.EdgeStorage(str(path)).open_population("pre__post")
    assert (pop.source, pop.target, pop.size) == ("pre", "post", n)
    everything = pop.select_all()
    s, t = pop.source_nodes(everything), pop.target_nodes(everything)
    assert np.all(np.diff(t.astype(np.int64)) >= 0)
    same_target = t[1:] == t[:-1]
    assert np.all(s[1:][same_target] >= s[:-1][same_target])
    # Attributes moved with their edges.
    orig = pop.get_attribute("original", everything)
    np.testing.assert_array_equal(s, src[orig])
    np.testing.assert_array_equal(t, tgt[orig])
    np.testing.assert_array_equal(pop.get_attribute("w", everything), orig * 0.5)
    np.testing.assert_array_equal(pop.get_dynamics_attribute("u", everything), orig * 2.0)
    assert list(pop.get_attribute("kind", libsonata.Selection([0]))) == [["e", "i"][orig[0] % 2]]
    for node in range(n_tgt):
        np.testing.assert_array_equal(ids_of(pop.afferent_edges([node])), np.flatnonzero(t == node))
    for node in range(n_src):
        np.testing.assert_array_equal(ids_of(pop.efferent_edges([node])), np.flatnonzero(s == node))
    both = ids_of(pop.afferent_edges([2, 5]))
    np.testing.assert_array_equal(both, np.flatnonzero((t == 2) | (t == 5)))
    with h5py.File(path, "r") as f:
        group = f["edges/pre__post"]
        assert group["source_node_id"].dtype == np.uint64
        assert group["source_node_id"].attrs["node_population"] == "pre"
        assert group["target_node_id"].attrs["node_population"] == "post"
        assert "indices/source_to_target/node_id_to_ranges" in group
        assert "indices/target_to_source/range_to_edge_id" in group


def test_edges_unsorted_keep_order_and_bad_ids_raise(tmp_path):
    path = tmp_path / "edges.h5"
    src, tgt = np.array([2, 0, 1]), np.array([0, 1, 0])
    write_edges(path, "e", "p", "p", src, tgt, {"w": np.array([1.0, 2.0, 3.0])},
                n_source_nodes=3, n_target_nodes=3, sort_by_target=False)  # fmt: skip
    pop = libsonata.EdgeStorage(str(path)).open_population("e")
    np.testing.assert_array_equal(pop.source_nodes(pop.select_all()), src)
    np.testing.assert_array_equal(ids_of(pop.afferent_edges([0])), [0, 2])
    with pytest.raises(CircuitError, match="out of range"):
        write_edges(path, "f", "p", "p", [5], [0], {}, n_source_nodes=3, n_target_nodes=3)


# ----------------------------------------------------------------------------- configs


def test_configs_parse_with_relative_paths_and_survive_a_move(tmp_path):
    root = tmp_path / "circuit"
    (root / "morph").mkdir(parents=True)
    write_nodes(root / "nodes.h5", "cells", {"x": np.zeros(3)})
    write_nodes(root / "nodes.h5", "virt", {"x": np.zeros(1)})
    write_edges(root / "edges.h5", "virt__cells", "virt", "cells", [0], [2], {"delay": [1.0]},
                n_source_nodes=1, n_target_nodes=3)  # fmt: skip
    write_node_sets(root / "node_sets.json", {"Cells": {"population": "cells"}})
    write_spike_file(root / "in.h5", {"virt": (np.array([0]), np.array([1.0]))})
    outside = tmp_path / "elsewhere"
    write_circuit_config(
        root / "circuit_config.json",
        nodes=[{"nodes_file": root / "nodes.h5",
                "populations": {"cells": {"type": "biophysical"}, "virt": {"type": "virtual"}}}],
        edges=[{"edges_file": str(root / "edges.h5"),
                "populations": {"virt__cells": {"type": "chemical"}}}],
        components={"morphologies_dir": root / "morph", "biophysical_neuron_models_dir": outside},
        node_sets_file=str(root / "node_sets.json"),
    )  # fmt: skip
    write_simulation_config(
        root / "simulation_config.json",
        network=str(root / "circuit_config.json"),
        run={"tstop": 50.0, "dt": 0.025, "random_seed": 7},
        output={"output_dir": str(root / "out")},
        conditions={"celsius": 6.3, "v_init": -70.0},
        inputs={"replay": {"module": "synapse_replay", "input_type": "spikes", "delay": 0.0,
                           "duration": 50.0, "node_set": "Cells", "spike_file": root / "in.h5"}},
        node_set="Cells",
        extra={"metadata": {"note": "test"}},
    )  # fmt: skip
    raw = json.loads((root / "circuit_config.json").read_text())
    assert raw["networks"]["nodes"][0]["nodes_file"] == "./nodes.h5"
    assert raw["components"]["morphologies_dir"] == "./morph"
    assert raw["components"]["biophysical_neuron_models_dir"] == str(outside)  # not under root
    assert json.loads((root / "simulation_config.json").read_text())["network"] == (
        "./circuit_config.json"
    )
    moved = tmp_path / "moved"
    shutil.move(root, moved)
    circuit = libsonata.CircuitConfig.from_file(str(moved / "circuit_config.json"))
    assert circuit.node_populations == {"cells", "virt"}
    assert circuit.edge_populations == {"virt__cells"}
    props = circuit.node_population_properties("cells")
    assert props.type == "biophysical"
    assert Path(props.morphologies_dir) == moved / "morph"
    assert Path(props.elements_path) == moved / "nodes.h5"
    assert circuit.node_population_properties("virt").type == "virtual"
    assert circuit.edge_population_properties("virt__cells").type == "chemical"
    assert circuit.edge_population("virt__cells").size == 1
    assert Path(circuit.node_sets_path) == moved / "node_sets.json"
    sim = libsonata.SimulationConfig.from_file(str(moved / "simulation_config.json"))
    assert (sim.run.tstop, sim.run.dt, sim.run.random_seed) == (50.0, 0.025, 7)
    assert (sim.conditions.celsius, sim.conditions.v_init) == (6.3, -70.0)
    assert Path(sim.network) == moved / "circuit_config.json"
    assert Path(sim.output.output_dir) == moved / "out"
    assert sim.node_set == "Cells"
    assert sim.list_input_names == ["replay"]
    assert Path(sim.input("replay").spike_file) == moved / "in.h5"
    assert sim.metadata == {"note": "test"}


def test_config_without_required_keys_raises(tmp_path):
    with pytest.raises(CircuitError, match="dt"):
        write_simulation_config(tmp_path / "s.json", network="c.json", run={"tstop": 1.0})
    with pytest.raises(CircuitError, match="nodes_file"):
        write_circuit_config(tmp_path / "c.json", nodes=[{"populations": {"a": {}}}], edges=[])
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- spikes

SPIKE_IDS = np.array([3, 1, 2, 1, 0])
SPIKE_TIMES = np.array([1.0, 5.0, 1.0, 0.5, 9.0])


@pytest.mark.parametrize("order", ["by_time", "by_id", "none"])
def test_spike_file_sorting_read_by_libsonata(tmp_path, order):
    path = tmp_path / "spikes.h5"
    write_spike_file(path, {"pop": (SPIKE_IDS, SPIKE_TIMES), "empty": ([], [])}, order)
    reader = libsonata.SpikeReader(str(path))
    assert reader.get_population_names() == ["empty", "pop"]
    pop = reader["pop"]
    assert pop.sorting == order
    assert pop.time_units == "ms"
    data = pop.get_dict()
    ids, times = data["node_ids"], data["timestamps"]
    if order == "by_time":
        expected = sorted(zip(SPIKE_TIMES, SPIKE_IDS, strict=True))
        assert list(zip(times, ids, strict=True)) == expected
    elif order == "by_id":
        expected = sorted(zip(SPIKE_IDS, SPIKE_TIMES, strict=True))
        assert list(zip(ids, times, strict=True)) == expected
    else:
        np.testing.assert_array_equal(ids, SPIKE_IDS)
        np.testing.assert_array_equal(times, SPIKE_TIMES)
    assert reader["empty"].get_dict()["node_ids"].size == 0
    with h5py.File(path, "r") as f:
        attr_type = f["spikes/pop"].attrs.get_id("sorting").dtype
        assert h5py.check_enum_dtype(attr_type) == {"none": 0, "by_id": 1, "by_time": 2}
        assert attr_type == np.uint8
        assert f["spikes/pop/node_ids"].dtype == np.uint64
        assert f["spikes/pop/timestamps"].attrs["units"] == "ms"
    back = read_spike_file(path)
    np.testing.assert_array_equal(back["pop"][0], ids)
    np.testing.assert_array_equal(back["pop"][1], times)
    assert back["empty"][0].size == 0


def test_legacy_allen_spike_layout(tmp_path):
    path = tmp_path / "legacy.h5"
    with h5py.File(path, "w") as f:
        f["spikes/gids"] = SPIKE_IDS.astype(np.uint32)
        f["spikes/timestamps"] = SPIKE_TIMES
    result = read_spike_file(path, default_population="v1")
    assert list(result) == ["v1"]
    np.testing.assert_array_equal(result["v1"][0], SPIKE_IDS)
    np.testing.assert_array_equal(result["v1"][1], SPIKE_TIMES)


def test_bad_spike_files_name_the_file(tmp_path):
    missing = tmp_path / "missing.h5"
    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("not hdf5")
    no_times = tmp_path / "no_times.h5"
    with h5py.File(no_times, "w") as f:
        f["spikes/pop/node_ids"] = np.arange(3, dtype=np.uint64)
    no_spikes = tmp_path / "no_spikes.h5"
    h5py.File(no_spikes, "w").close()
    for path in (missing, not_hdf5, no_times, no_spikes):
        with pytest.raises(CircuitError) as info:
            read_spike_file(path)
        assert info.value.file == str(path)
        assert str(path) in str(info.value)


# ----------------------------------------------------------------------------- atomic


def test_atomic_path_renames_on_success_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.name == f"out.txt.tmp-{os.getpid()}"
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "new"
    fresh = tmp_path / "never.txt"
    with pytest.raises(RuntimeError), atomic_path(fresh) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out.txt", "sub"]


def test_failed_spike_write_leaves_no_file(tmp_path):
    path = tmp_path / "spikes.h5"
    with pytest.raises(ValueError):
        write_spike_file(path, {"pop": (np.arange(3), np.arange(2.0))})
    assert list(tmp_path.iterdir()) == []
