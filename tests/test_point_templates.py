"""Point neurons as neurodamus' AllenPoint route runs them, and populations mixing types.

* A `point_process` population whose model_template is `hoc:<Template>`: our own hoc
  templates wrap an artificial cell as `pointcell` (called as neurodamus calls them: node
  id, morphology dir and file, the `_NeededAttributes` values), next to `nrn:IntFire1`
  nodes; edges of type `point_process` whose NetCon weight is `conductance` as given.
* A `biophysical` population whose nodes mix model_type biophysical (our ball-and-stick
  template) and point_process (a wrapped IntFire1, and nrn:IntFire1): each node is built by
  its own type; one edge population reaches both kinds.

Both against plain-NEURON builds of the same network (tests/drivers/plain_intfire.py,
tests/reference/plain_mixed.py), spikes bit for bit, on 1 and on 2 ranks.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from engine.generate.base import (
    MORPHOLOGY,
    NODES_FILE,
    TEMPLATE_DIR,
    add_edges,
    new_circuit,
    virtual_nodes,
    write_cell_files,
)
from engine.io.sonata_writer import write_nodes
from engine.io.spike_file import write_spike_file
from tests.conftest import REPO, run_cli, run_python
from tests.test_bbp_support import _write_configs

PLAIN_INTFIRE = REPO / "tests" / "drivers" / "plain_intfire.py"
PLAIN_MIXED = REPO / "tests" / "reference" / "plain_mixed.py"
RUN = {"tstop": 300.0, "dt": 0.025, "random_seed": 1, "spike_threshold": -30.0}
CONDITIONS = {"celsius": 6.3, "v_init": -65.0}
WRAPPED_IF1 = {"tau": 8.0, "refrac": 2.5}  # fixed inside the IntFire1 wrapper


def wrapper_templates() -> dict[str, str]:
    """Our hoc templates wrapping artificial cells as `pointcell` (neurodamus' convention)."""
    return {
        "SonataWrappedIntFire2": """// IntFire2 as `pointcell`; taum and ib from @dynamics
strdef SonataWrappedIntFire2_NeededAttributes
SonataWrappedIntFire2_NeededAttributes = "taum;ib"
begintemplate SonataWrappedIntFire2
public pointcell, gid, re_init_rng, clear
objref pointcell
proc init() {
    gid = $1  // $s2, $s3: morphology directory and file, which a point cell ignores
    pointcell = new IntFire2()
    pointcell.taum = $4
    pointcell.ib = $5
}
// neurodamus calls these on every template
proc re_init_rng() {}
proc clear() {}
endtemplate SonataWrappedIntFire2
""",
        "SonataWrappedIntFire1": f"""// IntFire1 as `pointcell`; without _NeededAttributes
// the template gets one extra argument (0)
begintemplate SonataWrappedIntFire1
public pointcell, gid, re_init_rng, clear
objref pointcell
proc init() {{
    gid = $1
    pointcell = new IntFire1()
    pointcell.tau = {WRAPPED_IF1["tau"]} + $4
    pointcell.refrac = {WRAPPED_IF1["refrac"]}
}}
proc re_init_rng() {{}}
proc clear() {{}}
endtemplate SonataWrappedIntFire1
""",
    }


def write_templates(root) -> str:
    folder = root / TEMPLATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in wrapper_templates().items():
        (folder / f"{name}.hoc").write_text(text)
    return str(folder)


def _fibre_spikes(circuit, rng, n_fibres: int, rate: float) -> None:
    counts = rng.poisson(rate * RUN["tstop"] / 1000.0, n_fibres)
    ids = np.repeat(np.arange(n_fibres), counts).astype(np.uint64)
    times = np.round(rng.uniform(1.0, RUN["tstop"] - 5.0, ids.size), 3)
    circuit.input_spikes = {"src": (ids, times)}
    write_spike_file(circuit.spike_file, circuit.input_spikes)


def _edges_spec(circuit, names: list[str], weight: str) -> list:
    ids, times = circuit.input_spikes["src"]
    out = []
    for group, name in enumerate(names):
        src, tgt = circuit.edges[name]
        a = circuit.edge_attributes[name]
        virtual = name.startswith("src__")
        for s, t, w, d in zip(src, tgt, a[weight], a["delay"], strict=True):
            source = {"input": times[ids == s].tolist()} if virtual else int(s)
            out.append([source, int(t), float(w), float(d), group])
    return out


# ------------------------------------------------------------ hoc point_process templates

POINT_TEMPLATES = ["SonataWrappedIntFire2", "SonataWrappedIntFire1", "nrn:IntFire1"] * 2
TAUM = [12.0, np.nan, np.nan, 20.0, np.nan, np.nan]
IB = [0.6, np.nan, np.nan, 0.9, np.nan, np.nan]


def write_point_template_circuit(root, kinds: list[str] = POINT_TEMPLATES):
    """`kinds`: per node a wrapper template name or `nrn:IntFire1`."""
    rng = np.random.default_rng(5)
    circuit = new_circuit(root)
    n, n_fibres = len(kinds), 4
    circuit.populations = {"net": n, "src": n_fibres}
    templates = [t if t.startswith("nrn:") else f"hoc:{t}" for t in kinds]
    x, y, z = rng.uniform(0.0, 100.0, (3, n))
    attrs = {
        "model_type": np.full(n, "point_process", dtype=object),
        "model_template": np.array(templates, dtype=object),
        "morphology": np.full(n, "", dtype=object),
        "mtype": np.full(n, "L5_LIF", dtype=object),
        "x": x,
        "y": y,
        "z": z,
    }
    dynamics = {"taum": np.array(TAUM), "ib": np.array(IB), "tau": np.full(n, 15.0),
                "refrac": np.full(n, 3.0)}  # fmt: skip
    write_nodes(circuit.root / NODES_FILE, "net", attrs, dynamics=dynamics)
    write_nodes(circuit.root / NODES_FILE, "src", virtual_nodes(n_fibres))
    src, tgt = np.repeat(np.arange(n_fibres), n), np.tile(np.arange(n), n_fibres)
    weight = np.round(rng.uniform(0.3, 0.7, src.size), 3)  # conductance, as the NetCon weight
    delay = np.round(rng.uniform(0.5, 3.0, src.size), 3)

    # neurodamus reads a synapse position even for point cells (which ignore it)
    def where(m: int) -> dict:
        return {
            "afferent_section_id": np.zeros(m, np.int64),
            "afferent_section_pos": np.full(m, 0.5),
        }

    add_edges(circuit, "src__net", "src", "net", src, tgt,
              {"conductance": weight, "delay": delay, **where(src.size)})  # fmt: skip
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and rng.random() < 0.5]
    rs, rt = (np.array(c) for c in zip(*pairs, strict=True))
    rw = np.where(rs == 2, -0.6, 0.25)  # node 2 inhibits
    rd = np.round(rng.uniform(1.0, 4.0, rs.size), 3)
    add_edges(circuit, "net__net", "net", "net", rs, rt,
              {"conductance": rw, "delay": rd, **where(rs.size)})  # fmt: skip
    _fibre_spikes(circuit, rng, n_fibres, 30.0)
    components = {"biophysical_neuron_models_dir": write_templates(circuit.root)}
    _write_configs(circuit, {"net": "point_process", "src": "virtual"},
                   {"src__net": "point_process", "net__net": "point_process"}, components,
                   "Net", CONDITIONS, RUN)  # fmt: skip
    return circuit


def point_template_spec(circuit, kinds: list[str] = POINT_TEMPLATES) -> dict:
    cells = []
    for i, template in enumerate(kinds):
        if template == "SonataWrappedIntFire2":
            cells.append({"class": "IntFire2", "params": {"taum": TAUM[i], "ib": IB[i]}})
        elif template == "SonataWrappedIntFire1":
            cells.append({"class": "IntFire1", "params": WRAPPED_IF1})
        else:
            cells.append({"class": "IntFire1", "params": {"tau": 15.0, "refrac": 3.0}})
    edges = [e[:4] for e in _edges_spec(circuit, ["src__net", "net__net"], "conductance")]
    return {"dt": RUN["dt"], "tstop": RUN["tstop"], "cells": cells, "edges": edges}


def engine_spikes(out, population: str) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(out / "spikes.h5") as f:
        return _by_time(f[f"spikes/{population}/node_ids"][...],
                        f[f"spikes/{population}/timestamps"][...])  # fmt: skip


def _by_time(gids, times):
    gids, times = np.asarray(gids, np.int64), np.asarray(times, np.float64)
    order = np.lexsort((gids, times))
    return gids[order], times[order]


def plain_spikes(script, root, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(gids, times) of a plain-NEURON reference script run on `spec`, by time."""
    path = root / "spec.json"
    path.write_text(json.dumps(spec))
    run_python(script, path, root / "plain.json")
    plain = json.loads((root / "plain.json").read_text())
    return _by_time(plain["gids"], plain["times"])


@pytest.fixture(scope="module")
def point_templates(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("point_templates")
    circuit = write_point_template_circuit(root / "circuit")
    return circuit, root, plain_spikes(PLAIN_INTFIRE, root, point_template_spec(circuit))


@pytest.mark.parametrize("ranks", [1, 2])
def test_hoc_point_templates_spike_as_plain_neuron(point_templates, ranks):
    circuit, root, (plain_gids, plain_times) = point_templates
    out = root / f"out{ranks}"
    run_cli("run", circuit.simulation_config, "--output-dir", out, "--no-progress", ranks=ranks)
    gids, times = engine_spikes(out, "net")
    assert set(gids.tolist()) == set(range(len(POINT_TEMPLATES))), "every cell should fire"
    assert gids.size > 30
    np.testing.assert_array_equal(gids, plain_gids)
    np.testing.assert_array_equal(times, plain_times)


def test_a_point_template_without_pointcell_is_refused(tmp_path, mechanisms_built):
    circuit = write_point_template_circuit(tmp_path / "circuit")
    path = circuit.root / TEMPLATE_DIR / "SonataWrappedIntFire1.hoc"
    path.write_text(path.read_text().replace("pointcell", "cell"))
    result = run_cli("run", circuit.simulation_config, "--output-dir", tmp_path / "out",
                     check=False)  # fmt: skip
    message = result.stdout + result.stderr
    assert result.returncode == 2, message
    assert "SonataWrappedIntFire1" in message and "pointcell" in message
    assert "Traceback" not in message


# ---------------------------------------------------------------- mixed model types

MIXED = ["biophysical", "point_process", "biophysical", "point_process", "biophysical",
         "point_process"]  # fmt: skip
MIXED_TEMPLATES = ["hoc:MixedBall", "hoc:SonataWrappedIntFire1", "hoc:MixedBall",
                   "nrn:IntFire1", "hoc:MixedBall", "hoc:SonataWrappedIntFire1"]  # fmt: skip


def write_mixed_circuit(root):
    rng = np.random.default_rng(9)
    circuit = new_circuit(root)
    n, n_fibres = len(MIXED), 3
    circuit.populations = {"cortex": n, "src": n_fibres}
    components = write_cell_files(circuit.root, "MixedBall")
    write_templates(circuit.root)
    point = np.array(MIXED) == "point_process"
    attrs = {
        "model_type": np.array(MIXED, dtype=object),
        "model_template": np.array(MIXED_TEMPLATES, dtype=object),
        "morphology": np.where(point, "", MORPHOLOGY).astype(object),
    }
    dynamics = {"tau": np.where(point, 10.0, np.nan), "refrac": np.where(point, 2.0, np.nan)}
    write_nodes(circuit.root / NODES_FILE, "cortex", attrs, dynamics=dynamics)
    write_nodes(circuit.root / NODES_FILE, "src", virtual_nodes(n_fibres))

    def synapses(s, t, weights, delays):  # uS onto the balls, as given onto point cells
        m = s.size
        return {"syn_weight": weights, "delay": delays,
                "model_template": np.full(m, "Exp2Syn", dtype=object),
                "afferent_section_id": np.zeros(m, np.int64),
                "afferent_section_pos": np.full(m, 0.5)}  # fmt: skip

    src, tgt = np.repeat(np.arange(n_fibres), n), np.tile(np.arange(n), n_fibres)
    weight = np.where(point[tgt], 0.6, 0.004)
    delay = np.round(rng.uniform(0.5, 3.0, src.size), 3)
    add_edges(circuit, "src__cortex", "src", "cortex", src, tgt,
              synapses(src, tgt, weight, delay))  # fmt: skip
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and rng.random() < 0.6]
    rs, rt = (np.array(c) for c in zip(*pairs, strict=True))
    rw = np.where(point[rt], 0.5, 0.006)
    rd = np.round(rng.uniform(1.0, 4.0, rs.size), 3)
    add_edges(circuit, "cortex__cortex", "cortex", "cortex", rs, rt, synapses(rs, rt, rw, rd))
    _fibre_spikes(circuit, rng, n_fibres, 40.0)
    _write_configs(circuit, {"cortex": "biophysical", "src": "virtual"},
                   {"src__cortex": "chemical", "cortex__cortex": "chemical"}, components,
                   "Cortex", CONDITIONS, RUN)  # fmt: skip
    return circuit


def mixed_spec(circuit) -> dict:
    cells = []
    for kind, template in zip(MIXED, MIXED_TEMPLATES, strict=True):
        if kind == "biophysical":
            cells.append({"class": "ball_and_stick"})
        elif template == "nrn:IntFire1":
            cells.append({"class": "IntFire1", "params": {"tau": 10.0, "refrac": 2.0}})
        else:
            cells.append({"class": "IntFire1", "params": WRAPPED_IF1})
    edges = _edges_spec(circuit, ["src__cortex", "cortex__cortex"], "syn_weight")
    return {"dt": RUN["dt"], "tstop": RUN["tstop"], "cells": cells, "edges": edges,
            "celsius": CONDITIONS["celsius"], "v_init": CONDITIONS["v_init"],
            "threshold": RUN["spike_threshold"]}  # fmt: skip


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("mixed")
    circuit = write_mixed_circuit(root / "circuit")
    return circuit, root, plain_spikes(PLAIN_MIXED, root, mixed_spec(circuit))


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_population_mixing_model_types_spikes_as_plain_neuron(mixed, ranks):
    circuit, root, (plain_gids, plain_times) = mixed
    out = root / f"out{ranks}"
    run_cli("run", circuit.simulation_config, "--output-dir", out, "--no-progress", ranks=ranks)
    gids, times = engine_spikes(out, "cortex")
    assert set(gids.tolist()) == set(range(len(MIXED))), "every cell should fire"
    np.testing.assert_array_equal(gids, plain_gids)
    np.testing.assert_array_equal(times, plain_times)


def test_validate_knows_point_templates_and_mixed_populations(tmp_path, point_templates, mixed):
    for circuit in (point_templates[0], mixed[0]):
        result = run_cli("validate", circuit.simulation_config, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    circuit = point_templates[0]
    moved = tmp_path / "SonataWrappedIntFire2.hoc"
    template = circuit.root / TEMPLATE_DIR / "SonataWrappedIntFire2.hoc"
    template.rename(moved)
    try:
        result = run_cli("validate", circuit.simulation_config, check=False)
    finally:
        moved.rename(template)
    assert result.returncode != 0
    assert "SonataWrappedIntFire2.hoc" in result.stdout + result.stderr


def test_allen_translation_keeps_a_population_mixing_model_types(tmp_path):
    """bmtk allows one population with biophysical and point_process node types: the
    translation gives it the detailed type (noted) and the engine builds it mixed."""
    from engine.dialects.allen.circuit import open_reader, population_type
    from engine.io.types_csv import write_types_csv
    from engine.managers.cells.mixed import MixedNodeManager, model_types

    nodes, types = tmp_path / "v1_nodes.h5", tmp_path / "v1_node_types.csv"
    write_nodes(nodes, "v1", {}, node_type_id=np.array([100, 200, 100, 200]), mode="w")
    write_types_csv(types, "node_type_id", [
        {"node_type_id": 100, "model_type": "biophysical", "model_template": "ctdb:Biophys1"},
        {"node_type_id": 200, "model_type": "point_process", "model_template": "nrn:IntFire1"},
    ])  # fmt: skip
    notes: list[str] = []
    reader = open_reader(nodes, "v1", str(types))
    assert population_type(reader, "v1", nodes, notes) == "biophysical"
    assert notes == ["population v1 mixes model types biophysical, point_process"]
    from engine.config import NodePopulationInfo
    from engine.io.attributes import TypesSource, register_types_source
    from engine.managers.cells.nodes import make_node_manager

    register_types_source(nodes, "v1", TypesSource(types))  # as load_setup does
    info = NodePopulationInfo("v1", "biophysical", nodes, types_file=types, dialect="allen")
    manager = make_node_manager(info, reader.storage, 0)
    assert isinstance(manager, MixedNodeManager)
    np.testing.assert_array_equal(model_types(manager), ["biophysical", "point_process"] * 2)
    np.testing.assert_array_equal(manager.detailed_mask(np.arange(4)), [True, False] * 2)
