"""Our stochastic synapses keep neurodamus' NetCon weight layout through finitialize.

NEURON zeroes every NetCon weight but the first at finitialize unless the mechanism's
NET_RECEIVE has an INITIAL block; the NetCon kind (slot nc_type_param) and the
neuromodulation values (slots 1, 2) must survive it. Checked by its consequences, one
presynaptic event each, Use = 1 and 5 filled sites (so every site releases):
* a presynaptic event releases all 5 vesicles; a mini with minis_single_vesicle only 1;
* a neuromodulatory event (kind 10) releases none and leaves the strength it carried.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, cli_env

SCRIPT = """
import json, sys
from engine import simulator
from engine.mechanisms import load_mechanisms
sim = simulator.start(use_mpi=False)
load_mechanisms([], sim)
h = sim.h
h.load_file("stdrun.hoc")
mechanism = sys.argv[1]
setattr(h, f"minis_single_vesicle_{mechanism}", 1)
slot = int(getattr(h, f"nc_type_param_{mechanism}"))
section = h.Section()
found = {}
for kind in (0, 1, 2, 10):
    synapse = getattr(h, mechanism)(section(0.5))
    synapse.Use, synapse.Nrrp, synapse.Dep, synapse.Fac = 1.0, 5, 0.0, 0.0
    synapse.setRNG(1, 2, kind + 3)
    stim = h.SonataVecStim()
    times = h.Vector([1.0])
    stim.play(times)
    netcon = h.NetCon(stim, synapse)
    netcon.weight[0] = 1.0
    netcon.weight[1], netcon.weight[2], netcon.weight[slot] = 0.25, 40.0, kind
    found[kind] = (synapse, netcon, stim, times)
h.finitialize(-65)
kept = {k: [nc.weight[i] for i in range(int(nc.wcnt()))] for k, (_, nc, _, _) in found.items()}
h.continuerun(5)
print(json.dumps({
    "slot": slot,
    "kept": kept,
    "released": {k: s.released for k, (s, _, _, _) in found.items()},
    "concentration": {k: s.neuromod_conc for k, (s, _, _, _) in found.items()},
}))
"""


@pytest.mark.parametrize("mechanism", ["SonataProbAMPANMDA", "SonataProbGABAAB"])
def test_weights_survive_initialisation(mechanism, mechanisms_built):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mechanism],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["slot"] == 3
    for kind in ("0", "1", "2", "10"):
        assert data["kept"][kind] == [1.0, 0.25, 40.0, float(kind)]
    assert data["released"] == {"0": 5.0, "1": 1.0, "2": 5.0, "10": 0.0}
    assert data["concentration"] == {"0": 0.0, "1": 0.0, "2": 0.0, "10": 0.25}
