"""bmtk `hoc:` templates in the Allen dialect: bmtk's calling convention, found in
`components.templates_dir`, segmented by run.dL; against a plain-NEURON build.

bmtk (loadHOC) calls a template with the dynamics json's "params" when it has one (a list
is spread), else with the morphology file's path. Two node types use our own template
(written here; it reads the morphology with Import3d): one without params, one with
params [path, 2.0] (twice the leak). The cells feel an IClamp; the engine's soma voltage
report and spikes must equal tests/reference/plain_bmtk_hoc.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np

from engine.generate.allen import generate_allen_network
from engine.io.types_csv import write_types_csv
from tests.conftest import REPO, morphology_file, run_cli, run_python

PLAIN = REPO / "tests" / "reference" / "plain_bmtk_hoc.py"
MORPHOLOGY = "gen:allen_spiny.swc"
ICLAMP = {"amp": 0.25, "delay": 20.0, "duration": 60.0}
DL, TSTOP, DT = 15.0, 120.0, 0.025
TEMPLATE = """
begintemplate BmtkSwcCell
public soma, dend, apic, axon, all, somatic, basal, apical, axonal
create soma[1], dend[1], apic[1], axon[1]
objref all, somatic, basal, apical, axonal, this, reader, gui
proc init() { local scale
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    reader = new Import3d_SWC_read()
    reader.quiet = 1
    reader.input($s1)
    gui = new Import3d_GUI(reader, 0)
    gui.instantiate(this)
    scale = 1
    if (numarg() > 1) { scale = $2 }
    forsec all {
        insert pas
        g_pas = 3e-5 * scale
        e_pas = -65
        Ra = 100
        cm = 1
    }
    forsec somatic { insert hh }
}
endtemplate BmtkSwcCell
"""


def test_bmtk_hoc_templates_match_a_plain_neuron_build(tmp_path, mechanisms_built):
    swc = morphology_file(MORPHOLOGY, tmp_path)
    circuit = generate_allen_network(
        tmp_path / "net", n_exc=2, n_inh=1, n_lgn=1, morphology=swc, dL=DL, tstop=TSTOP,
        iclamp=ICLAMP,
    )  # fmt: skip
    root = circuit.root
    templates = root / "components" / "templates"
    templates.mkdir(parents=True)
    (templates / "bmtk_swc_cell.hoc").write_text(TEMPLATE)  # the name differs on purpose
    models = root / "components" / "biophysical_neuron_models"
    config = json.loads(circuit.circuit_config.read_text())
    morphology = Path(config["components"]["morphologies_dir"]) / swc.name
    assert morphology.exists()
    (models / "no_params.json").write_text(json.dumps({}))
    (models / "leaky.json").write_text(json.dumps({"params": [str(morphology), 2.0]}))
    rows = circuit.node_types["cortex"]
    for row, model in zip(rows, ("no_params.json", "leaky.json"), strict=True):
        row.update(model_template="hoc:BmtkSwcCell", model_processing="NULL",
                   dynamics_params=model)  # fmt: skip
    write_types_csv(root / "network" / "cortex_node_types.csv", "node_type_id", rows)
    config["components"]["templates_dir"] = "$COMPONENTS_DIR/templates"
    config["networks"]["edges"] = []  # the clamp alone, so the plain build stays small
    circuit.circuit_config.write_text(json.dumps(config, indent=1))
    simulation = json.loads(circuit.simulation_config.read_text())
    simulation["inputs"] = {
        k: v for k, v in simulation["inputs"].items() if v["module"] == "IClamp"
    }
    for block in simulation["inputs"].values():
        block["node_set"] = "cortex"  # every cell, as the plain build clamps every cell
    simulation["reports"]["membrane_potential"]["cells"] = "cortex"
    circuit.simulation_config.write_text(json.dumps(simulation, indent=1))

    out = tmp_path / "out"
    result = run_cli("run", circuit.simulation_config, "--output-dir", out)
    assert "cells            3" in result.stdout
    with h5py.File(root / "network" / "cortex_nodes.h5", "r") as f:
        type_ids = f["nodes/cortex/node_type_id"][:]
    kinds = {row["node_type_id"]: row["dynamics_params"] for row in rows}
    arguments = [
        [str(morphology)] if kinds[t] == "no_params.json" else [str(morphology), 2.0]
        for t in type_ids
    ]
    assert len({json.dumps(a) for a in arguments}) == 2  # both conventions are used
    run_python(PLAIN, templates / "bmtk_swc_cell.hoc", tmp_path / "plain.npz", DL, TSTOP, DT,
               ICLAMP["amp"], ICLAMP["delay"], ICLAMP["duration"],
               *[json.dumps(a) for a in arguments])  # fmt: skip
    plain = np.load(tmp_path / "plain.npz")
    with h5py.File(out / "membrane_potential.h5", "r") as f:
        report = f["report/cortex"]
        data = report["data"][:]
        nodes = report["mapping/node_ids"][:]
    expected = plain["v"][nodes, : data.shape[0]].T.astype(np.float32)
    np.testing.assert_array_equal(data, expected)
    assert np.ptp(expected) > 50.0, "the clamp should make the cells spike"
    spikes = {}
    with h5py.File(out / "spikes.h5", "r") as f:
        group = f["spikes/cortex"]
        for node, t in zip(group["node_ids"][:], group["timestamps"][:], strict=True):
            spikes.setdefault(int(node), []).append(float(t))
    for node in range(type_ids.size):
        np.testing.assert_allclose(spikes.get(node, []), plain[f"spikes_{node}"], atol=1e-9)
    assert re.search(r"spikes\s+[1-9]", result.stdout)


OWN_GEOMETRY = """
begintemplate BmtkBallCell
public soma, dend, all, somatic, basal
create soma[1], dend[1]
objref all, somatic, basal
proc init() {
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    soma[0] { L = 20  diam = 20  all.append()  somatic.append()  insert hh }
    dend[0] { L = 200  diam = 1  all.append()  basal.append()  insert pas  g_pas = 1e-4
              e_pas = -65 }
    connect dend[0](0), soma[0](1)
}
endtemplate BmtkBallCell
"""


def test_a_template_that_builds_its_own_geometry_needs_no_morphology(tmp_path, mechanisms_built):
    """No morphology column: bmtk calls the template with no argument."""
    circuit = generate_allen_network(
        tmp_path / "net", n_exc=1, n_inh=1, n_lgn=1, dL=DL, tstop=TSTOP, iclamp=ICLAMP
    )
    root = circuit.root
    templates = root / "components" / "templates"
    templates.mkdir(parents=True)
    (templates / "ball.hoc").write_text(OWN_GEOMETRY)
    rows = circuit.node_types["cortex"]
    for row in rows:
        row.update(model_template="hoc:BmtkBallCell", model_processing="NULL")
        row.pop("morphology")
        row.pop("dynamics_params")
    write_types_csv(root / "network" / "cortex_node_types.csv", "node_type_id", rows)
    with h5py.File(root / "network" / "cortex_nodes.h5", "r+") as f:
        group = f["nodes/cortex/0"]
        for name in ("morphology", "dynamics_params"):
            if name in group:
                del group[name]
    config = json.loads(circuit.circuit_config.read_text())
    config["components"]["templates_dir"] = "$COMPONENTS_DIR/templates"
    config["networks"]["edges"] = []
    circuit.circuit_config.write_text(json.dumps(config, indent=1))
    simulation = json.loads(circuit.simulation_config.read_text())
    simulation["inputs"] = {
        k: v for k, v in simulation["inputs"].items() if v["module"] == "IClamp"
    }
    for block in simulation["inputs"].values():
        block["node_set"] = "cortex"
    simulation["reports"]["membrane_potential"]["cells"] = "cortex"
    circuit.simulation_config.write_text(json.dumps(simulation, indent=1))
    assert "OK" in run_cli("validate", circuit.simulation_config).stdout
    out = tmp_path / "out"
    result = run_cli("run", circuit.simulation_config, "--output-dir", out)
    assert "cells            2" in result.stdout
    with h5py.File(out / "membrane_potential.h5", "r") as f:
        data = f["report/cortex/data"][:]
    run_python(PLAIN, templates / "ball.hoc", tmp_path / "plain.npz", DL, TSTOP, DT,
               ICLAMP["amp"], ICLAMP["delay"], ICLAMP["duration"], "[]", "[]")  # fmt: skip
    plain = np.load(tmp_path / "plain.npz")
    expected = plain["v"][:, : data.shape[0]].T.astype(np.float32)
    np.testing.assert_array_equal(data, expected)
    assert np.ptp(data) > 50.0  # the clamp makes both hh somata spike
