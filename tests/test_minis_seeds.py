"""Each run seed changes exactly the random streams it owns (compat doc §4).

Observables, one per stream, on the probe circuit with stochastic synapses:
* synapse_seed: release draws of the synapses onto cell 1 (its voltage; no minis there);
* minis_seed: the emitted times of the minis sources on cell 3's synapses;
* stimulus_seed: the noise input of cell 4 (its voltage; cell 4 has no synapse);
* ionchannel_seed: what the template's re_init_rng received (`channel_seed`);
* random_seed: Random123's global index, under all of the Random123 streams above.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import REPO, run_python
from tests.test_overrides_support import TSTOP, variant, write_probe_circuit

DRIVER = REPO / "tests" / "drivers" / "conditions_probe.py"
RUN = {"random_seed": 1, "synapse_seed": 2, "minis_seed": 3, "stimulus_seed": 4}
RUN["ionchannel_seed"] = 5
NOISE = {
    "module": "noise",
    "input_type": "current_clamp",
    "node_set": "Cell4",
    "delay": 0.0,
    "duration": TSTOP,
    "mean": 0.002,
    "variance": 0.0001,
}
MINIS = [{"name": "minis", "source": "Fibre3", "target": "Cell3", "spont_minis": 20.0}]
STREAMS = ("synapse", "minis", "stimulus", "ionchannel")
OWNS = {
    "synapse_seed": {"synapse"},
    "minis_seed": {"minis"},
    "stimulus_seed": {"stimulus"},
    "ionchannel_seed": {"ionchannel"},
    "random_seed": {"synapse", "minis", "stimulus"},
}


def _observables(path) -> dict:
    data = np.load(path)
    records = json.loads(str(data["records"]))
    return {
        "synapse": data["v_cells_1"],
        "minis": {m["key"]: m["times"] for m in records["minis"]},
        "stimulus": data["v_cells_4"],
        "ionchannel": {c["node_id"]: c["channel_seed"] for c in records["cells"]},
        "keys": {e["key"]: e["keys"] for e in records["edges"]},
    }


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("seeds")
    circuit = write_probe_circuit(root / "circuit", u_syn=0.4, dep=200.0)
    inputs = {"noise": NOISE}
    runs = {}
    for changed in (None, *OWNS):
        run = dict(RUN)
        if changed is not None:
            run[changed] += 10
        name = changed or "base"
        config = variant(circuit, name, run=run, inputs=inputs, connection_overrides=MINIS)
        run_python(DRIVER, config, root / f"{name}.npz")
        runs[name] = _observables(root / f"{name}.npz")
    return runs


def test_base_observables_are_live(seed_runs):
    base = seed_runs["base"]
    assert base["minis"] and all(len(times) > 0 for times in base["minis"].values())
    assert np.ptp(base["stimulus"]) > 0.1 and np.ptp(base["synapse"]) > 0.01
    assert set(base["ionchannel"].values()) == {float(RUN["ionchannel_seed"])}


@pytest.mark.parametrize("seed", sorted(OWNS))
def test_a_seed_changes_only_its_streams(seed_runs, seed):
    base, changed = seed_runs["base"], seed_runs[seed]
    differs = {s for s in STREAMS if not _same(base[s], changed[s])}
    assert differs == OWNS[seed]
    keys_differ = base["keys"] != changed["keys"]
    assert keys_differ == (seed == "synapse_seed")  # the ids; random_seed is global
    if seed == "ionchannel_seed":
        assert set(changed["ionchannel"].values()) == {float(RUN["ionchannel_seed"] + 10)}
