"""`modoverride: GluSynapse`: neurodamus' GluSynapseHelper mapping, checked synapse by synapse.

A stand-in GluSynapse (our own NMODL, written here: the parameters and RNG interface of
OBI's plastic synapse, no dynamics) goes into the circuit's mechanisms_dir; the probe
circuit's fibre edges get the plasticity attributes; an override moves them to GluSynapse.
Each placed synapse must hold what the helper's rules give, computed here from the edge
file (calcium scaling of Use_d/Use_p, potentiated or depressed start by rho0 > rho_star).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from tests.conftest import REPO, run_python
from tests.test_overrides_support import SYNAPSES, variant, write_probe_circuit

DRIVER = REPO / "tests" / "drivers" / "conditions_probe.py"
RHO_STAR = 0.5
CALCIUM = 2.0
MOD = """
COMMENT
GluSynapse stand-in for tests: the parameter names and setRNG of OBI's plastic synapse.
ENDCOMMENT
NEURON {
    POINT_PROCESS GluSynapse
    RANGE Use_d, Use_p, theta_d_GB, theta_p_GB, rho0_GB, volume_CR
    RANGE gmax_d_AMPA, gmax_p_AMPA, gmax0_AMPA, gmax_NMDA, tau_d_AMPA
    RANGE Use, Dep, Fac, Nrrp, synapseID, i
    GLOBAL rho_star_GB
    NONSPECIFIC_CURRENT i
    RANDOM rng
}
PARAMETER {
    Use_d = 0.1  Use_p = 0.2  theta_d_GB = -1  theta_p_GB = -1  rho0_GB = 0  volume_CR = 0
    gmax_d_AMPA = 1  gmax_p_AMPA = 2  gmax0_AMPA = 1  gmax_NMDA = 0.5  tau_d_AMPA = 1.7
    Use = 0.5  Dep = 100  Fac = 10  Nrrp = 1  synapseID = 0  rho_star_GB = RHO_STAR
}
ASSIGNED { v  i }
BREAKPOINT { i = 0 }
NET_RECEIVE (weight) { }
PROCEDURE setRNG(id1, id2, id3) { random_setids(rng, id1, id2, id3) }
""".replace("RHO_STAR", f"{RHO_STAR:g}")


def _add_plasticity_attributes(circuit) -> dict[str, np.ndarray]:
    n = sum(1 for row in SYNAPSES if row[0] == "fibres")
    rng = np.random.default_rng(3)
    values = {
        "volume_CR": rng.uniform(0.05, 0.2, n),
        "rho0_GB": np.array([0.0, 1.0] * (n // 2)),  # depressed, potentiated, ...
        "Use_d_TM": rng.uniform(0.1, 0.3, n),
        "Use_p_TM": rng.uniform(0.4, 0.6, n),
        "gmax_d_AMPA": rng.uniform(0.5, 1.0, n),
        "gmax_p_AMPA": rng.uniform(1.0, 2.0, n),
        "theta_d": rng.uniform(0.5, 1.0, n),
        "theta_p": rng.uniform(1.0, 1.5, n),
        "conductance_scale_factor": rng.uniform(0.3, 0.9, n),
    }
    with h5py.File(circuit.root / "edges.h5", "r+") as f:
        group = f["edges/fibres__cells/0"]
        for name, array in values.items():
            if name in group:
                del group[name]
            group[name] = array
        values["u_hill"] = group["u_hill_coefficient"][:]
        values["decay_time"] = group["decay_time"][:]
        values["depression_time"] = group["depression_time"][:]
        values["facilitation_time"] = group["facilitation_time"][:]
    return values


def test_glusynapse_gets_the_helpers_mapping(tmp_path, mechanisms_built):
    circuit = write_probe_circuit(tmp_path / "circuit")
    mechanisms = circuit.root / "mechanisms"
    mechanisms.mkdir()
    (mechanisms / "glusynapse.mod").write_text(MOD)
    config = json.loads(circuit.circuit_config.read_text())
    config["components"]["mechanisms_dir"] = str(mechanisms)
    circuit.circuit_config.write_text(json.dumps(config, indent=1))
    attrs = _add_plasticity_attributes(circuit)
    block = {"name": "plastic", "source": "Fibres", "target": "Cells", "modoverride": "GluSynapse"}
    path = variant(circuit, "glu", connection_overrides=[block],
                   conditions={"extracellular_calcium": CALCIUM})  # fmt: skip
    run_python(DRIVER, path, tmp_path / "glu.npz")
    records = json.loads(str(np.load(tmp_path / "glu.npz")["records"]))
    placed = [e for e in records["edges"] if e["key"].startswith("fibres__cells:")]
    assert len(placed) == len(attrs["volume_CR"]) and all(
        e["mechanism"] == "GluSynapse" for e in placed
    )
    for edge in placed:
        k = int(edge["key"].split(":")[1])
        p = edge["params"]
        k4, ca4 = attrs["u_hill"][k] ** 4, CALCIUM**4
        scale = (k4 + 16) / 16 * ca4 / (k4 + ca4)
        use_d, use_p = attrs["Use_d_TM"][k] * scale, attrs["Use_p_TM"][k] * scale
        potentiated = attrs["rho0_GB"][k] > RHO_STAR
        gmax0 = attrs["gmax_p_AMPA"][k] if potentiated else attrs["gmax_d_AMPA"][k]
        assert p["Use_d"] == pytest.approx(use_d, rel=1e-12)
        assert p["Use_p"] == pytest.approx(use_p, rel=1e-12)
        assert p["Use"] == pytest.approx(use_p if potentiated else use_d, rel=1e-12)
        assert p["theta_d_GB"] == attrs["theta_d"][k] and p["theta_p_GB"] == attrs["theta_p"][k]
        assert p["rho0_GB"] == attrs["rho0_GB"][k] and p["volume_CR"] == attrs["volume_CR"][k]
        assert p["gmax0_AMPA"] == gmax0
        assert p["gmax_NMDA"] == pytest.approx(gmax0 * attrs["conductance_scale_factor"][k])
        assert p["tau_d_AMPA"] == attrs["decay_time"][k]
        assert p["Dep"] == abs(attrs["depression_time"][k])
        assert p["Fac"] == abs(attrs["facilitation_time"][k])
        assert p["synapseID"] == edge["synapse_id"]
        assert edge["keys"] == [edge["node_id"] + 1, 100000 + edge["synapse_id"], 200]
    assert {True, False} == {attrs["rho0_GB"][int(e["key"].split(":")[1])] > RHO_STAR
                             for e in placed}  # fmt: skip
