"""bmtk IClamps on named sections: `section_name[section_index](section_dist)`.

bmtk puts the clamp at getattr(cell.hobj, section_name)[section_index](section_dist) after
model processing; the engine turns that into a SONATA compartment set. Checked where
NEURON has each clamp (section name within the cell, segment) on 1 and 2 ranks: dend[2]
at 0.3 on every cortex cell, and axon[1] (the second axon stub) at 0.5.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.generate.allen import generate_allen_network
from tests.conftest import REPO, morphology_file, run_python

SITES = REPO / "tests" / "drivers" / "injection_sites.py"


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_iclamps_sit_where_bmtk_puts_them(tmp_path, mechanisms_built, ranks):
    circuit = generate_allen_network(
        tmp_path / "net", n_exc=3, n_inh=1, n_lgn=1,
        morphology=morphology_file("gen:allen_spiny.swc", tmp_path), tstop=20.0,
    )  # fmt: skip
    config = json.loads(circuit.simulation_config.read_text())
    clamp = {"input_type": "current_clamp", "module": "IClamp", "node_set": "cortex",
             "amp": 0.2, "delay": 5.0, "duration": 10.0}  # fmt: skip
    config["inputs"] = {
        "dendrite": {**clamp, "section_name": "dend", "section_index": 2, "section_dist": 0.3},
        "stub": {**clamp, "section_name": "axon", "section_index": 1, "section_dist": 0.5},
        "soma": clamp,
    }
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    out = tmp_path / "sites.npz"
    run_python(SITES, circuit.simulation_config, out, ranks=ranks)
    sites = json.loads(str(np.load(out)["sites"]))
    by_input: dict[str, dict[int, dict]] = {}
    for site in sites:
        name = site["input"].split("__")[0]
        by_input.setdefault(name, {})[site["node_id"]] = site
    expected = {"dendrite": ("dend[2]", 0.3), "stub": ("axon[1]", 0.5), "soma": ("soma[0]", 0.5)}
    for name, (section, x) in expected.items():
        assert sorted(by_input[name]) == [0, 1, 2, 3], name
        for site in by_input[name].values():
            assert site["section"] == section, (name, site)
            nseg = site["nseg"]
            assert site["x"] == pytest.approx((min(int(x * nseg), nseg - 1) + 0.5) / nseg)
            assert site["hoc"] == "IClamp"
