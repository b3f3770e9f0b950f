"""bmtk gap junctions: `is_gap_junction` edge types (mixed with chemical ones in one edge
population, as bmtk's builder writes them) run as junctions, not synapses.

bmtk's BioCell puts both sides of a junction at sec(0.5) of the edge's
afferent_section_id, each on its own cell, with g = syn_weight (uS). The independent
route: the same junctions written as a SONATA `electrical` population (target and source
locations explicit, conductance in the file), whose coupling tests/test_gap_junctions.py
checks against a plain-NEURON pair. Both circuits must give the same voltages, on 1 and 2
ranks; the undriven partner cells must feel their driven partners.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.generate.allen import GAP_EDGE_TYPE, generate_allen_network
from engine.io.sonata_writer import write_edges
from tests.conftest import REPO, run_python

SIDES = REPO / "tests" / "drivers" / "gap_sides.py"
G_US = 0.02


def _gap_circuit(root, preselected=True):
    circuit = generate_allen_network(
        root, n_exc=3, n_inh=1, n_lgn=1, lgn_rate_hz=0.0, tstop=80.0,
        gap_junctions=G_US, preselected=preselected,
    )  # fmt: skip
    sets = json.loads((root / "node_sets.json").read_text())
    sets["drivers"] = {"population": "cortex", "node_id": [0, 2]}
    (root / "node_sets.json").write_text(json.dumps(sets))
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"] = {
        "drive": {"input_type": "current_clamp", "module": "IClamp", "node_set": "drivers",
                  "amp": 0.4, "delay": 10.0, "duration": 50.0},
    }  # fmt: skip
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    return circuit


def _as_sonata_electrical(circuit, root):
    """A copy with the junctions moved into an `electrical` population (edge files
    rewritten from the generator's own arrays)."""
    shutil.copytree(circuit.root, root)
    edges = circuit.edges["cortex_to_cortex"]
    gap = edges["edge_type_id"] == GAP_EDGE_TYPE
    attrs = {
        k: np.asarray(v)[~gap]
        for k, v in edges.items()
        if k not in ("source", "target", "edge_type_id")
    }
    n = circuit.populations["cortex"]
    write_edges(
        root / "network" / "cortex_to_cortex_edges.h5", "cortex_to_cortex", "cortex", "cortex",
        edges["source"][~gap], edges["target"][~gap], attrs,
        edge_type_id=edges["edge_type_id"][~gap], n_source_nodes=n, n_target_nodes=n, mode="w",
    )  # fmt: skip
    sections = np.asarray(edges["afferent_section_id"])[gap]
    write_edges(
        root / "network" / "gaps.h5", "cortex_gaps", "cortex", "cortex",
        edges["source"][gap], edges["target"][gap],
        {"afferent_section_id": sections, "afferent_section_pos": np.full(sections.size, 0.5),
         "efferent_section_id": sections, "efferent_section_pos": np.full(sections.size, 0.5),
         "conductance": np.full(sections.size, G_US * 1e3)},
        n_source_nodes=n, n_target_nodes=n, mode="w",
    )  # fmt: skip
    config = json.loads((root / "circuit_config.json").read_text())
    config["networks"].pop("gap_juncs")
    config["networks"]["edges"].append(
        {
            "edges_file": "$NETWORK_DIR/gaps.h5",
            "populations": {"cortex_gaps": {"type": "electrical"}},
        }
    )
    (root / "circuit_config.json").write_text(json.dumps(config))
    return root / "simulation_config.json"


def _run(config, out, ranks):
    run_python(SIDES, config, out, ranks=ranks)
    data = dict(np.load(out))
    return json.loads(str(data.pop("sides"))), data


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_bmtk_gap_junctions_equal_sonata_electrical_edges(tmp_path, mechanisms_built, ranks):
    circuit = _gap_circuit(tmp_path / "bmtk")
    sides, bmtk_style = _run(circuit.simulation_config, tmp_path / "bmtk.npz", ranks)
    edges = circuit.edges["cortex_to_cortex"]
    gap = edges["edge_type_id"] == GAP_EDGE_TYPE
    expected = []
    for src, tgt, sid in zip(edges["source"][gap], edges["target"][gap],
                             np.asarray(edges["afferent_section_id"])[gap], strict=True):  # fmt: skip
        section = "soma[0]" if sid == 0 else "dend[0]"
        expected += [(int(src), section), (int(tgt), section)]
    assert sorted((s["node_id"], s["section"]) for s in sides) == sorted(expected)
    assert all(s["x"] == 0.5 and s["g"] == pytest.approx(G_US * 1e3) for s in sides)
    sonata = _as_sonata_electrical(circuit, tmp_path / "sonata")
    _, reference = _run(sonata, tmp_path / "sonata.npz", ranks)
    for node in range(4):
        np.testing.assert_array_equal(bmtk_style[f"v_cortex_{node}"], reference[f"v_cortex_{node}"])
    rest = bmtk_style["v_cortex_1"][0]
    assert bmtk_style["v_cortex_1"].max() > rest + 2.0  # felt its driven partner (node 0)
    assert bmtk_style["v_cortex_3"].max() > rest + 2.0


def test_bmtk_gap_junctions_drawn_sides_are_rank_independent(tmp_path, mechanisms_built):
    """Edges without a location: each side on a section drawn from target_sections /
    distance_range (soma or basal within 150 um), at its centre, same on 1 and 2 ranks."""
    circuit = _gap_circuit(tmp_path / "net", preselected=False)
    one, v1 = _run(circuit.simulation_config, tmp_path / "one.npz", 1)
    assert len(one) == 4 and all(s["x"] == 0.5 for s in one)
    assert {s["section"] for s in one} <= {"soma[0]", "dend[0]"}
    assert v1["v_cortex_1"].max() > v1["v_cortex_1"][0] + 1.0
    if shutil.which(str(REPO / ".venv" / "bin" / "mpiexec")):
        two, v2 = _run(circuit.simulation_config, tmp_path / "two.npz", 2)
        key = lambda s: (s["node_id"], s["section"])  # noqa: E731
        assert sorted(map(key, two)) == sorted(map(key, one))
        for node in range(4):
            np.testing.assert_array_equal(v1[f"v_cortex_{node}"], v2[f"v_cortex_{node}"])
