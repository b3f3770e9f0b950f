"""bmtk synapse rules (engine.managers.synapses.allen): weights, nsyns, placement.

Placement is checked on real cells and the real EdgeManager attribute reads, in a
subprocess: every synapse lies in the edge type's target_sections within its
distance_range, each edge has nsyns synapses, and a cell's synapses do not depend on which
other cells are on the rank.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.errors import CircuitError
from engine.generate.allen import generate_allen_network
from engine.io.types_csv import write_types_csv
from engine.managers.synapses.allen import gaussian_ll, parse_range, parse_sections
from tests.conftest import REPO, cli_env


def test_parse_target_sections_and_distance_range():
    assert parse_sections("['somatic', 'basal']") == {"soma", "dend"}
    assert parse_sections("apical") == {"apic"}
    assert parse_sections(None) == {"soma", "dend", "apic", "axon"}
    with pytest.raises(CircuitError, match="unknown target_sections"):
        parse_sections("['dendrites']")
    assert parse_range("[0.0, 150.0]") == (0.0, 150.0)
    assert parse_range(None) == (0.0, float("inf"))
    with pytest.raises(CircuitError, match="distance_range"):
        parse_range("150")


def test_gaussian_ll_folds_tuning_angles():
    w = np.array([2.0, 2.0, 2.0])
    values = {"weight_sigma": np.full(3, 10.0)}
    src = {"tuning_angle": np.array([30.0, 0.0, 0.0])}
    tgt = {"tuning_angle": np.array([40.0, 350.0, 90.0])}
    out = gaussian_ll(w, values.__getitem__, src.__getitem__, tgt.__getitem__)
    np.testing.assert_allclose(out, [2 * np.exp(-1), 2 * np.exp(-1), 2 * np.exp(-81)])


def dump_plans(config: str, out: str) -> None:
    """Subprocess entry: plan the synapses of every edge population, all cells and one cell."""
    from engine import simulator
    from engine.config import load_setup
    from engine.io.attributes import selection
    from engine.managers.cells.allen import section_type
    from engine.managers.cells.morphology import MorphologyLoader
    from engine.managers.circuit import BuildContext, CircuitManager, open_edge_population
    from engine.managers.synapses import allen as allen_synapses
    from engine.managers.synapses.edges import EdgeManager

    setup = load_setup(config, Path(out).parent / "output")
    sim = simulator.start(use_mpi=False)
    circuit = CircuitManager(setup, sim)
    circuit.create_cells(BuildContext(MorphologyLoader().install(sim.h)))
    h, result = sim.h, {}
    for name, info in sorted(setup.edge_populations.items()):
        storage = open_edge_population(info.edges_file, name)
        managers = circuit.node_managers
        em = EdgeManager(info, storage, managers[info.source], managers[info.target])
        local = em.read_local_edges(setup.run.dt)
        plan = allen_synapses.plan_synapses(em, selection(local.edge_ids), local, setup, h, False)
        chosen = int(local.target_ids[len(local) // 2])  # a cell with afferent edges
        keep = local.target_ids == chosen
        fields = ("edge_ids", "source_ids", "target_ids", "synapse_ids", "delays", "weights")
        sub = replace(local, **{f: getattr(local, f)[keep] for f in fields})
        only_one = allen_synapses.plan_synapses(em, selection(sub.edge_ids), sub, setup, h, False)
        kinds, distances, halves = [], [], []
        for row, sid, x in zip(plan.rows, plan.section_ids, plan.positions, strict=True):
            cell = em.target.cells[int(local.target_ids[row])]
            sec = cell.sections[int(sid)]
            kinds.append(section_type(sec))
            distances.append(h.distance(cell.soma(0), sec(float(x))))  # bmtk: from soma(0)
            halves.append(sec.L / sec.nseg / 2)
        result[name] = {
            "edge_ids": local.edge_ids.tolist(),
            "target_ids": local.target_ids.tolist(),
            "rows": plan.rows.tolist(),
            "weights": plan.weights.tolist(),
            "section_ids": plan.section_ids.tolist(),
            "positions": plan.positions.tolist(),
            "kinds": kinds,
            "distances": distances,
            "halves": halves,
            "chosen": chosen,
            "only_one": {
                "section_ids": only_one.section_ids.tolist(),
                "positions": only_one.positions.tolist(),
            },
        }
    Path(out).write_text(json.dumps(result))


def plans(config: Path, out: Path) -> dict:
    code = f"from tests.test_allen_synapses import dump_plans; dump_plans({str(config)!r}, {str(out)!r})"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def test_synapses_placed_by_section_type_and_distance(tmp_path):
    circuit = generate_allen_network(tmp_path / "net", preselected=False)
    rows = circuit.edge_types["cortex_to_cortex"]
    for row in rows:
        row["distance_range"] = "[50.0, 100.0]"
        row["target_sections"] = "['basal']"
    write_types_csv(
        circuit.root / "network" / "cortex_to_cortex_edge_types.csv", "edge_type_id", rows
    )
    first = plans(circuit.simulation_config, tmp_path / "a.json")
    again = plans(circuit.simulation_config, tmp_path / "b.json")
    assert first == again
    for name, plan in first.items():
        nsyns = circuit.edges[name]["nsyns"]
        np.testing.assert_array_equal(plan["rows"], np.repeat(np.arange(nsyns.size), nsyns))
        weights = {r["edge_type_id"]: r["syn_weight"] for r in circuit.edge_types[name]}
        types = circuit.edges[name]["edge_type_id"][plan["rows"]]
        np.testing.assert_array_equal(plan["weights"], [weights[t] for t in types])
        kinds, distances = np.array(plan["kinds"]), np.array(plan["distances"])
        start, end = distances - np.array(plan["halves"]), distances + np.array(plan["halves"])
        # bmtk's rule: the segment's span [d - l/2, d + l/2] overlaps the distance range
        if name == "lgn_to_cortex":  # somatic + basal within 150 um
            assert set(kinds) == {"soma", "dend"}
            assert start.min() >= 0.0 and start.max() < 150.0
        else:
            assert set(kinds) == {"dend"}
            assert end.min() > 50.0 and start.max() < 100.0
        on_one = np.array(plan["target_ids"])[plan["rows"]] == plan["chosen"]
        assert np.array(plan["section_ids"])[on_one].tolist() == plan["only_one"]["section_ids"]
        assert np.array(plan["positions"])[on_one].tolist() == plan["only_one"]["positions"]
