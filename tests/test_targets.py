"""TargetManager: node sets against an independent evaluation, errors, compartment sets.

Node sets are resolved by libsonata inside the engine; the reference here re-implements the
documented rules over the raw HDF5 columns (h5py), so both must agree on every set. The
compartment-set targets are checked on 1 and 2 ranks through the engine's own build.
"""

from __future__ import annotations

import json
import logging
import re
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.config import load_setup
from engine.errors import ConfigError
from engine.generate.networks import generate_ring, write_ball_and_stick_swc
from engine.io.sonata_writer import write_circuit_config, write_nodes, write_simulation_config
from engine.managers.circuit import open_node_population
from engine.managers.targets import Target, TargetManager
from tests.conftest import run_python

CIRCUIT_SETS = {
    "Layer2": {"layer": 2},
    "Layers23": {"layer": [2, 3]},
    "TPC5": {"mtype": "L5_TPC", "layer": 5},
    "Regex": {"mtype": {"$regex": "L[23]_.*"}},  # also matches XL2_X (unanchored)
    "Anchored": {"mtype": {"$regex": "^L[23]_.*$"}},
    "FarX": {"x": {"$gt": 60.0}},
    "NearX": {"x": {"$lt": 15.0}},
    "Deep": {"layer": {"$gte": 5}},
    "Shallow": {"layer": {"$lte": 2}},
    "Alpha": {"population": "alpha"},
    "AlphaGamma": {"population": ["alpha", "gamma"]},
    "SomeIds": {"node_id": [0, 3, 5]},
    "AlphaIds": {"population": "alpha", "node_id": [1, 2, 7]},
    "North": {"region": "north"},
    "Regions": {"population": "alpha", "region": ["north", "south"]},
    "BetaDeep": {"population": "beta", "layer": {"$gt": 3}, "mtype": {"$regex": ".*PC"}},
    "Union": ["Layer2", "AlphaIds"],
    "Nested": ["Union", "FarX"],
    "Override": {"layer": 1},
    "CircuitOnly": {"mtype": "L6_BPC"},
}
SIMULATION_SETS = {"Override": {"layer": 6}, "SimOnly": ["Deep", "SomeIds"]}
MTYPES = np.array(["L2_IPC", "L3_TPC", "L5_TPC", "L6_BPC", "L5_MC", "XL2_X"], dtype=object)


def _write_multi_population_circuit(root: Path) -> Path:
    """alpha (has `region`), beta (no `region`), gamma (virtual, no `x`)."""
    rng = np.random.default_rng(3)
    nodes = root / "nodes.h5"
    for name, n in (("alpha", 40), ("beta", 30)):
        attrs = {
            "model_type": np.full(n, "point_neuron", dtype=object),
            "mtype": rng.choice(MTYPES, n),
            "layer": rng.integers(1, 7, n),
            "x": np.round(rng.uniform(0.0, 100.0, n), 2),
        }
        if name == "alpha":
            attrs["region"] = rng.choice(np.array(["north", "south", "east"], object), n)
        write_nodes(nodes, name, attrs)
    write_nodes(
        nodes,
        "gamma",
        {
            "model_type": np.full(12, "virtual", dtype=object),
            "mtype": rng.choice(MTYPES, 12),
            "layer": rng.integers(1, 7, 12),
        },
    )
    (root / "circuit_node_sets.json").write_text(json.dumps(CIRCUIT_SETS))
    (root / "sim_node_sets.json").write_text(json.dumps(SIMULATION_SETS))
    write_circuit_config(
        root / "circuit_config.json",
        nodes=[
            {
                "nodes_file": str(nodes),
                "populations": {
                    "alpha": {"type": "point_neuron"},
                    "beta": {"type": "point_neuron"},
                    "gamma": {"type": "virtual"},
                },
            }
        ],
        edges=[],
        node_sets_file=str(root / "circuit_node_sets.json"),
    )
    config = root / "simulation_config.json"
    write_simulation_config(
        config,
        network=str(root / "circuit_config.json"),
        run={"tstop": 10.0, "dt": 0.025, "random_seed": 1},
        node_sets_file=str(root / "sim_node_sets.json"),
    )
    return config


def _reference(nodes_file: Path, sets: dict, name: str) -> dict[str, set[int]]:
    """The documented node-set rules evaluated directly on the HDF5 columns."""
    rule = sets[name]
    if isinstance(rule, list):
        out: dict[str, set[int]] = {}
        for member in rule:
            for pop, ids in _reference(nodes_file, sets, member).items():
                out.setdefault(pop, set()).update(ids)
        return {p: ids for p, ids in out.items() if ids}
    out = {}
    with h5py.File(nodes_file, "r") as f:
        for pop in f["nodes"]:
            group = f["nodes"][pop]["0"]
            n = f["nodes"][pop]["node_type_id"].shape[0]
            mask = np.ones(n, bool)
            for key, value in rule.items():
                if key == "population":
                    mask &= pop in ([value] if isinstance(value, str) else value)
                elif key == "node_id":
                    mask &= np.isin(np.arange(n), value)
                elif key not in group:
                    mask &= False  # an attribute the population lacks matches nothing
                else:
                    mask &= _match(group[key][:], value)
            if mask.any():
                out[pop] = set(np.nonzero(mask)[0].tolist())
    return out


def _match(column: np.ndarray, value: object) -> np.ndarray:
    if column.dtype.kind == "O":
        column = np.array([v.decode() if isinstance(v, bytes) else v for v in column], object)
    if isinstance(value, list):
        return np.isin(column, value)
    if isinstance(value, dict):
        ((op, operand),) = value.items()
        if op == "$regex":  # a search, not a full match: anchor with ^...$ to match whole
            return np.array([re.search(operand, str(v)) is not None for v in column])
        compare = {"$gt": np.greater, "$gte": np.greater_equal, "$lt": np.less}
        return compare.get(op, np.less_equal)(column, operand)
    return column == value


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    setup = load_setup(_write_multi_population_circuit(root))
    storages = {n: open_node_population(i.nodes_file, n) for n, i in setup.node_populations.items()}
    return root, setup, TargetManager(setup.node_sets_files, storages)


def test_node_sets_match_an_independent_evaluation_with_simulation_overrides(multi):
    root, setup, targets = multi
    merged = {**CIRCUIT_SETS, **SIMULATION_SETS}
    assert targets.names == sorted(merged)
    for name in merged:
        got = {p: set(map(int, ids)) for p, ids in targets.target(name).ids.items()}
        assert got == _reference(root / "nodes.h5", merged, name), name
    # The simulation file wins for "Override"; circuit-only names survive the merge.
    override = targets.target("Override")
    assert override.size() > 0
    with h5py.File(root / "nodes.h5") as f:
        for pop, ids in override.ids.items():
            assert set(f[f"nodes/{pop}/0/layer"][:][ids]) == {6}
    assert targets.target("CircuitOnly").size() > 0
    assert targets.target("North").populations == ["alpha"]


def test_local_view_and_pairs(multi):
    _, _, targets = multi
    targets.set_local_cells({"alpha": np.array([1, 2, 3]), "beta": np.array([0])})
    local = targets.local("AlphaIds")
    assert local.ids.keys() == {"alpha"}
    assert local.get("alpha").tolist() == [1, 2]
    assert Target("t", {"b": np.array([2]), "a": np.array([5, 1])}).pairs()[0] == ("a", 5)


def test_unknown_names_and_populations_are_errors_naming_the_set(tmp_path, multi):
    _, setup, targets = multi
    with pytest.raises(ConfigError, match="node set 'Nope' is not defined"):
        targets.target("Nope", key="inputs.x.node_set")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"Ghost": {"population": "delta"}, "Mixed": ["Alpha", "Ghost"]}))
    storages = {n: open_node_population(i.nodes_file, n) for n, i in setup.node_populations.items()}
    manager = TargetManager([*setup.node_sets_files, extra], storages)
    for name in ("Ghost", "Mixed"):
        with pytest.raises(ConfigError, match=rf"node set '{name}' names population\(s\) delta"):
            manager.target(name)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"Dangling": ["Missing"]}))
    with pytest.raises(ConfigError, match="Missing"):
        TargetManager([broken], storages)


def test_a_node_set_matching_nothing_is_a_warning_naming_it(tmp_path, multi):
    _, setup, _ = multi
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"Layer9": {"layer": 9}}))
    storages = {n: open_node_population(i.nodes_file, n) for n, i in setup.node_populations.items()}
    manager = TargetManager([empty], storages)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("sonatasim").addHandler(handler)
    try:
        assert manager.target("Layer9").size() == 0
    finally:
        logging.getLogger("sonatasim").removeHandler(handler)
    assert any(
        "'Layer9'" in r.getMessage() and "matches no node" in r.getMessage() for r in records
    )


def test_compartment_set_checks(tmp_path, multi):
    _, setup, _ = multi
    storages = {n: open_node_population(i.nodes_file, n) for n, i in setup.node_populations.items()}
    path = tmp_path / "cs.json"
    path.write_text(
        json.dumps(
            {
                "good": {"population": "alpha", "compartment_set": [[1, 0, 0.5], [4, 2, 0.1]]},
                "elsewhere": {"population": "delta", "compartment_set": [[0, 0, 0.5]]},
                "too_far": {"population": "beta", "compartment_set": [[30, 0, 0.5]]},
            }
        )
    )
    manager = TargetManager(setup.node_sets_files, storages, compartment_sets_file=path)
    good = manager.compartment_set("good")
    assert good.population == "alpha" and good.node_ids().tolist() == [1, 4]
    assert good.local(np.array([4, 9])) == {4: [(2, pytest.approx(0.1))]}
    assert good.local(np.array([], dtype=np.uint64)) == {}
    with pytest.raises(ConfigError, match="compartment set 'nope' is not defined"):
        manager.compartment_set("nope")
    with pytest.raises(ConfigError, match="'elsewhere' is on population 'delta'"):
        manager.compartment_set("elsewhere")
    with pytest.raises(ConfigError, match="'too_far' names node 30 .* which has 30 nodes"):
        manager.compartment_set("too_far")
    unsorted = tmp_path / "unsorted.json"
    unsorted.write_text(
        json.dumps({"u": {"population": "alpha", "compartment_set": [[3, 0, 0.5], [1, 0, 0.5]]}})
    )
    with pytest.raises(ConfigError, match="invalid compartment sets file.*sorted"):
        TargetManager([], storages, compartment_sets_file=unsorted)
    with pytest.raises(ConfigError, match="no compartment_sets_file"):
        TargetManager([], storages).compartment_set("good")


COMPARTMENTS_DRIVER = textwrap.dedent(
    """
    import json, sys
    from engine import simulator
    from engine.config import load_setup
    from engine.errors import ConfigError
    from engine.logs import setup_logging
    from engine.managers.cells.points import local_compartment_set_points
    from engine.simulation import RunOptions, Simulation

    config, out, name, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    setup = load_setup(config)
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False, lb_mode=mode))
    simulation.build()
    try:
        points = local_compartment_set_points(simulation.circuit, name)
        rows = [
            [p.population, p.node_id, p.gid, sim.rank,
             [[s, x, seg.sec.name().split(".")[-1], seg.x, seg.sec.nseg]
              for s, x, seg in zip(p.section_ids, p.xs, p.segments())]]
            for p in points
        ]
    except ConfigError as exc:
        rows = [["error", str(exc)]]
    parts = sim.gather(rows, 0)
    if sim.is_root:
        json.dump(parts, open(out, "w"))
    """
)
SECTION_NAMES = {0: "soma[0]", 1: "dend[0]", 2: "axon[0]"}
SECTION_NSEG = {0: 1, 1: 11, 2: 3}  # template rule 1 + 2*int(L/40): soma, 200 um, 60 um


@pytest.fixture(scope="module")
def ring_with_compartment_sets(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("cs")
    circuit = generate_ring(root / "ring", n_cells=6, cell_kind="biophysical")
    # Sections: 0 soma, 1 dendrite (200 um), 2 axon (60 um).
    write_ball_and_stick_swc(circuit.root / "morphologies" / "ball_stick.swc", axon_length=60.0)
    entries = [[n, s, x] for n in (0, 1, 3, 4, 5) for s, x in ((0, 0.5), (1, 0.25), (2, 0.9))]
    sets = {
        "cs": {"population": "ring", "compartment_set": entries},
        "bad": {"population": "ring", "compartment_set": [[2, 0, 0.5], [2, 7, 0.5]]},
    }
    (circuit.root / "compartment_sets.json").write_text(json.dumps(sets))
    config = json.loads(circuit.simulation_config.read_text())
    config["compartment_sets_file"] = "./compartment_sets.json"
    circuit.simulation_config.write_text(json.dumps(config))
    driver = root / "compartments_driver.py"
    driver.write_text(COMPARTMENTS_DRIVER)
    return circuit, driver, entries


def _points(driver: Path, circuit, out: Path, name: str, mode: str, ranks: int) -> list:
    run_python(driver, circuit.simulation_config, out, name, mode, ranks=ranks)
    return json.loads(out.read_text())


@pytest.mark.mpi
def test_compartment_set_points_on_one_and_two_ranks(tmp_path, ring_with_compartment_sets):
    circuit, driver, entries = ring_with_compartment_sets
    expected = {}
    for node_id, section_id, x in entries:
        name, nseg = SECTION_NAMES[section_id], SECTION_NSEG[section_id]
        expected.setdefault(node_id, []).append([section_id, x, name, x, nseg])
    results = {}
    for ranks, mode in ((1, "round-robin"), (2, "round-robin"), (2, "whole-cell")):
        parts = _points(driver, circuit, tmp_path / f"{ranks}{mode}.json", "cs", mode, ranks)
        assert len(parts) == ranks
        rows = [row for part in parts for row in part]
        for rank, part in enumerate(parts):
            assert all(row[3] == rank for row in part)
            assert [row[2] for row in part] == sorted(row[2] for row in part)  # by gid
            if ranks == 2:
                assert part, "each rank owns some cells of the set"
        got = {row[1]: row[4] for row in rows}
        assert len(got) == len(rows), "each cell is local on exactly one rank"
        assert got == expected
        results[(ranks, mode)] = sorted(rows, key=lambda r: r[1])
    strip = [[r[0], r[1], r[2], r[4]] for r in results[(1, "round-robin")]]
    for key, rows in results.items():
        assert [[r[0], r[1], r[2], r[4]] for r in rows] == strip, key


@pytest.mark.mpi
def test_a_compartment_set_entry_on_a_missing_section_names_the_set(
    tmp_path, ring_with_compartment_sets
):
    circuit, driver, _ = ring_with_compartment_sets
    parts = _points(driver, circuit, tmp_path / "bad.json", "bad", "round-robin", 2)
    errors = [row[1] for part in parts for row in part if row[0] == "error"]
    assert len(errors) == 1, "only the rank owning node 2 sees the bad entry"
    assert "compartment set 'bad' names section 7 of node 2" in errors[0]
    assert "which has 3 sections" in errors[0]
