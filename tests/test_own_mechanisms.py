"""Our own NMODL (SonataVecStim, SonataExp2Syn) in real NEURON, against what it must do:
event times bit for bit, the double exponential from its closed form.

Each test loads the library in a subprocess (tests/test_mechanisms.py: run_neuron), from
the usual cache where conftest's `mechanisms_built` compiled our mod/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import mechanisms
from tests.test_mechanisms import run_neuron


@pytest.fixture(scope="module")
def cache(mechanisms_built: Path) -> Path:
    """The cache our mod/ was compiled into (SONATASIM_CACHE_DIR, else ~/.cache)."""
    return mechanisms.cache_dir()


# ---------------------------------------------------------------------------- SonataVecStim

VECSTIM_SCRIPT = """
rng = np.random.default_rng(7)
times = [-3.0, -0.5, 0.0, 0.1, 0.7, 0.7, 1.3, 2.0000001, 5.55, 9.9]
times += sorted(rng.uniform(10.0, 400.0, 3000).tolist())
vs = h.SonataVecStim()
vs.play(h.Vector(times))  # temporary Vector: the mechanism keeps it alive
rec = h.Vector()
probe = h.NetCon(vs, None)
probe.record(rec)
cell = h.IntFire1()
cell.refrac = 0
hit = h.NetCon(vs, cell)
hit.delay = 0.5
hit.weight[0] = 2.0
out = h.Vector()
out_probe = h.NetCon(cell, None)
out_probe.record(out)
runs = {"times": times}
h.dt = 0.025

def run(name, tstop=401.0, cvode=False):
    h.cvode_active(1 if cvode else 0)
    h.finitialize(-65)
    h.continuerun(tstop)
    runs[name] = {"spikes": list(rec), "target": list(out)}

run("first")
run("again")
run("cvode", cvode=True)
vs.play(h.Vector([3.0, 4.25]))
run("replaced")
vs.play()
run("cleared")

# as the spike source of a gid
vs.play(h.Vector(times))
pc = sim.pc
pc.set_gid2node(11, 0)
pc.cell(11, h.NetCon(vs, None))
tv, idv = h.Vector(), h.Vector()
pc.spike_record(11, tv, idv)
pc.set_maxstep(10)
h.cvode_active(0)
h.finitialize(-65)
pc.psolve(401.0)
runs["gid"] = {"spikes": list(tv), "ids": sorted(set(idv))}
doomed = h.SonataVecStim()
doomed.play(h.Vector([1.0]))
del doomed  # the DESTRUCTOR drops its reference on the Vector
print(json.dumps(runs))
"""


def test_vecstim_event_times(cache: Path, tmp_path: Path) -> None:
    runs = run_neuron(VECSTIM_SCRIPT, cache, tmp_path)
    expected = [x for x in runs["times"] if x >= 0.0]  # earlier ones are skipped
    assert len(expected) == len(runs["times"]) - 2
    for name in ("first", "again", "cvode"):
        assert runs[name]["spikes"] == expected, name  # bit for bit
        # IntFire1 fires once per distinct arrival time (a second one at the same t is lost)
        arrivals = sorted(set(expected))
        np.testing.assert_allclose(runs[name]["target"], np.array(arrivals) + 0.5, atol=1e-9)
    assert runs["replaced"]["spikes"] == [3.0, 4.25]
    assert runs["cleared"]["spikes"] == []
    assert runs["gid"]["spikes"] == expected
    assert runs["gid"]["ids"] == [11.0]


# ---------------------------------------------------------------------------- SonataExp2Syn

EXP2SYN_SCRIPT = """
soma = h.Section(name="soma")
soma.L = soma.diam = 10
soma.insert("pas")
soma.g_pas = 1e-3
soma.e_pas = -65
syn = h.SonataExp2Syn(soma(0.5))
defaults = [syn.tau_r, syn.tau_d, syn.e]
vs = h.SonataVecStim()
vs.play(h.Vector([1.0]))
nc = h.NetCon(vs, syn)
nc.delay = 1.0
nc.weight[0] = 0.0123
rec = {name: h.Vector() for name in ("t", "g", "i", "v", "rise", "fall")}
rec["t"].record(h._ref_t)
rec["v"].record(soma(0.5)._ref_v)
for name in ("g", "i", "rise", "fall"):
    rec[name].record(getattr(syn, "_ref_" + name))
h.dt = 0.0005
out = {"defaults": defaults, "runs": {}}
for tau_r, tau_d in ((0.2, 1.7), (0.5, 8.0), (5.0, 1.7)):
    syn.tau_r, syn.tau_d = tau_r, tau_d
    h.finitialize(-65)
    h.continuerun(15.0)
    out["runs"][f"{tau_r}/{tau_d}"] = {
        "eff": [syn.taur_eff, syn.taud_eff, syn.tau_r],
        **{name: list(vec) for name, vec in rec.items()},
    }
print(json.dumps(out))
"""


def _analytic(s: np.ndarray, w: float, tau_r: float, tau_d: float) -> np.ndarray:
    """Closed-form double exponential normalised to peak w (written from the equations)."""
    s_peak = tau_r * tau_d / (tau_d - tau_r) * np.log(tau_d / tau_r)
    norm = 1.0 / (np.exp(-s_peak / tau_d) - np.exp(-s_peak / tau_r))
    g = w * norm * (np.exp(-s / tau_d) - np.exp(-s / tau_r))
    return np.where(s >= 0, g, 0.0)


def test_exp2syn_peak_and_time_course(cache: Path, tmp_path: Path) -> None:
    out = run_neuron(EXP2SYN_SCRIPT, cache, tmp_path)
    assert out["defaults"] == [0.2, 1.7, 0.0]
    w, arrival, dt = 0.0123, 2.0, 0.0005
    for label, run in out["runs"].items():
        tau_r, tau_d = (float(x) for x in label.split("/"))
        taur_eff, taud_eff, tau_r_after = run["eff"]
        assert tau_r_after == tau_r  # the user's parameter is not rewritten
        assert taud_eff == tau_d
        assert taur_eff == pytest.approx(min(tau_r, 0.9999 * tau_d), rel=1e-12)
        t = np.array(run["t"])
        state_g = np.array(run["fall"]) - np.array(run["rise"])
        expected = _analytic(t - arrival, w, taur_eff, taud_eff)
        # states are exact exponentials at the step ends (cnexp); with tau_r ~ tau_d, g is
        # a small difference of two large terms, so rounding error grows with the norm
        atol = (1e-9 if tau_r < tau_d else 1e-7) * w
        np.testing.assert_allclose(state_g, expected, rtol=0, atol=atol, err_msg=label)
        assert state_g.max() == pytest.approx(w, rel=1e-6), label
        # g is computed in BREAKPOINT, before the states advance: it lags by one dt
        g = np.array(run["g"])
        lagged = _analytic(t - arrival - dt, w, taur_eff, taud_eff)
        np.testing.assert_allclose(g, lagged, rtol=0, atol=atol, err_msg=label)
        assert g.max() == pytest.approx(w, rel=1e-6), label
        # i = g * (v - e) at the voltage of the same BREAKPOINT call (the previous step's v)
        i, v = np.array(run["i"]), np.array(run["v"])
        np.testing.assert_allclose(i[1:], g[1:] * (v[:-1] - 0.0), rtol=1e-9, atol=1e-15)
