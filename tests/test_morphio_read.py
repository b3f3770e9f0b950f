"""Templates that call `morphio_read(this, path)` for .h5 morphologies (newer BBP emodel
templates do; neurodamus defines that proc in its MorphIO.hoc, and so does the engine).

The BBP-style test template, with its morphology loading replaced by `morphio_read`, is run
on the circuit's h5v1 morphologies (generated; long dotted names, one spelled `.H5`); the
same cells from the neurolucida-asc directory go through NEURON's Import3d in the
original template. Both index their sections and replace the axon themselves. Independent
checks: every dendritic and apical section's length equals morphio's path length of that
section in the file (the lengths NEURON reports are computed from the 3-d points it got);
and the two formats of the same cell give the same spikes and soma voltage.
"""

from __future__ import annotations

import json
from pathlib import Path

import morphio
import numpy as np
import pytest

from tests.conftest import REPO, run_python
from tests.test_bbp_support import MORPHOLOGIES, UPPER_CASE, write_bbp_circuit

DRIVER = REPO / "tests" / "test_bbp_driver.py"
IMPORT3D_LOADING = """    reader.quiet = 1
    reader.input(path)
    gui = new Import3d_GUI(reader, 0)
    gui.instantiate(this)"""
MORPHIO_LOADING = """    if (strings.substr($s2, ".h5") >= 0 || strings.substr($s2, ".H5") >= 0) {
        morphio_read(this, path)
    } else {
        reader.quiet = 1
        reader.input(path)
        gui = new Import3d_GUI(reader, 0)
        gui.instantiate(this)
    }"""


def _h5_variant(circuit) -> None:
    """Templates load .h5 with morphio_read; the config's only alternate is h5v1, so the
    engine hands templates `<name>.h5` (neurodamus' choice of directory and extension)."""
    for template in (circuit.root / "templates").glob("*.hoc"):
        text = template.read_text()
        assert IMPORT3D_LOADING in text
        text = text.replace(IMPORT3D_LOADING, MORPHIO_LOADING)
        # a template reaches a top-level proc through `external` (neurodamus' MorphIO.hoc too)
        text = text.replace(
            "objref all, somatic,", "external morphio_read\nobjref all, somatic,", 1
        )
        template.write_text(text)
    config = json.loads(circuit.circuit_config.read_text())
    alternates = config["components"]["alternate_morphologies"]
    config["components"]["alternate_morphologies"] = {"h5v1": alternates["h5v1"]}
    circuit.circuit_config.write_text(json.dumps(config, indent=1))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("morphio_read")
    results = {}
    for name in ("asc", "h5"):
        circuit = write_bbp_circuit(root / name)
        if name == "h5":
            _h5_variant(circuit)
        run_python(DRIVER, circuit.simulation_config, root / f"{name}.npz")
        data = np.load(root / f"{name}.npz")
        records = json.loads(str(data["records"]))
        components = json.loads(circuit.circuit_config.read_text())["components"]
        records["h5_dir"] = str(circuit.root / components["alternate_morphologies"]["h5v1"])
        results[name] = ({k: data[k] for k in data.files if k != "records"}, records)
    return results


def _dend_and_apic_lengths(path: Path) -> dict[str, float]:
    """morphio's path length of every dend/apic section of the file, by hoc name."""
    morph = morphio.Morphology(str(path))
    expected = {}
    names = {
        morphio.SectionType.basal_dendrite: "dend",
        morphio.SectionType.apical_dendrite: "apic",
    }
    counters = dict.fromkeys(names, 0)
    for section in morph.sections:
        if section.type in counters:
            steps = np.linalg.norm(np.diff(section.points, axis=0), axis=1)
            expected[f"{names[section.type]}[{counters[section.type]}]"] = float(steps.sum())
            counters[section.type] += 1
    return expected


@pytest.mark.parametrize("node", range(4))
def test_sections_from_morphio_read_have_the_files_lengths(runs, node):
    """Node 2's name is 180 characters long, node 3's file is spelled `.H5`."""
    _, records = runs["h5"]
    extension = ".H5" if MORPHOLOGIES[node] in UPPER_CASE else ".h5"
    path = Path(records["h5_dir"]) / f"{MORPHOLOGIES[node]}{extension}"
    assert path.is_file()
    expected = _dend_and_apic_lengths(path)
    cell = next(c for c in records["cells"] if c["node_id"] == node)
    lengths = cell["lengths"]  # section name -> L of the cell's section table
    assert len(expected) == 66 + 130 and set(expected) <= set(lengths)
    for name, length in expected.items():
        assert lengths[name] == pytest.approx(length, rel=1e-5), name


def test_the_h5_and_asc_forms_of_the_cell_behave_alike(runs):
    (asc, _), (h5, _) = runs["asc"], runs["h5"]
    assert asc["spike_gids"].size > 0
    np.testing.assert_array_equal(np.sort(asc["spike_gids"]), np.sort(h5["spike_gids"]))
    np.testing.assert_allclose(np.sort(asc["spike_times"]), np.sort(h5["spike_times"]), atol=1e-6)
    for node in range(4):  # the files differ in float precision only (h5 stores float32)
        np.testing.assert_allclose(asc[f"v_cortex_{node}"], h5[f"v_cortex_{node}"], atol=1e-4)
