"""Plain NEURON (no engine): drive SonataProbAMPANMDA / SonataProbGABAAB with events.

Usage: tm_synapse_probe.py LIBNRNMECH SPEC.json OUT.json

SPEC is {"release": [scenario, ...], "conductance": [scenario, ...]}. Every scenario gets
a fresh passive section with `n` synapses of `mechanism` at soma(0.5), each with
`params` and its own Random123 stream setRNG(1000 + j, 7, 3), driven by one NetCon each
(NetCon.event at `events`, weight `weight`).

* release: after each event (before the next) the run pauses and reads, per synapse,
  `released`, `u`, `occupied` and `tsyn`.
* conductance: every time step, t, v and the synapse's states, conductances and currents.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

h.load_file("stdrun.hoc")
STATES = {
    "SonataProbAMPANMDA": ("A_AMPA", "B_AMPA", "A_NMDA", "B_NMDA"),
    "SonataProbGABAAB": ("A_GABAA", "B_GABAA", "A_GABAB", "B_GABAB"),
}
ASSIGNED = {
    "SonataProbAMPANMDA": ("g_AMPA", "g_NMDA", "g", "i", "mggate"),
    "SonataProbGABAAB": ("g_GABAA", "g_GABAB", "g", "i_GABAA", "i_GABAB", "i"),
}


def setup(spec: dict):
    soma = h.Section(name="soma")
    soma.L = soma.diam = 20.0
    soma.insert("pas")
    soma.g_pas, soma.e_pas = 1e-4, -65.0
    synapses, netcons = [], []
    for j in range(spec.get("n", 1)):
        syn = getattr(h, spec["mechanism"])(soma(0.5))
        for name, value in spec["params"].items():
            setattr(syn, name, float(value))
        syn.setRNG(1000 + j, 7, 3)
        nc = h.NetCon(None, syn)
        nc.weight[0] = float(spec.get("weight", 1.0))
        synapses.append(syn)
        netcons.append(nc)
    h.dt = float(spec["dt"])
    h.steps_per_ms = 1.0 / h.dt
    h.celsius = 34.0
    return soma, synapses, netcons


def start(netcons, events) -> None:
    h.finitialize(-65.0)
    for nc in netcons:
        for t in events:
            nc.event(float(t))


def release(spec: dict) -> dict:
    soma, synapses, netcons = setup(spec)
    events = spec["events"]
    start(netcons, events)
    out = {name: [] for name in ("released", "u", "occupied", "tsyn")}
    for k, t in enumerate(events):
        pause = t + (events[k + 1] - t) / 2 if k + 1 < len(events) else t + 1.0
        h.continuerun(pause)
        for name in out:
            out[name].append([float(getattr(syn, name)) for syn in synapses])
    out["initial_occupied"] = float(spec["params"].get("Nrrp", 1.0))
    return out


def conductance(spec: dict) -> dict:
    soma, synapses, netcons = setup(spec)
    syn = synapses[0]
    mechanism = spec["mechanism"]
    names = STATES[mechanism] + ASSIGNED[mechanism]
    rec = {"t": h.Vector().record(h._ref_t), "v": h.Vector().record(soma(0.5)._ref_v)}
    for name in names:
        rec[name] = h.Vector().record(getattr(syn, f"_ref_{name}"))
    start(netcons, spec["events"])
    h.continuerun(float(spec["tstop"]))
    out = {name: list(vec) for name, vec in rec.items()}
    out["released"] = float(syn.released)
    out["defaults"] = {
        name: float(getattr(syn, name))
        for name in ("gmax", "tau_r_AMPA", "tau_r_NMDA", "tau_d_NMDA", "e", "mg", "NMDA_ratio")
        + ("tau_r_GABAA", "tau_r_GABAB", "tau_d_GABAB", "e_GABAA", "e_GABAB", "GABAB_ratio")
        + ("tau_d_AMPA", "tau_d_GABAA")
        if hasattr(syn, name)
    }
    return out


def main() -> None:
    library, spec_file, out_file = sys.argv[1:4]
    assert h.nrn_load_dll(library)
    with open(spec_file) as f:
        spec = json.load(f)
    out = {
        "release": [release(s) for s in spec.get("release", [])],
        "conductance": [conductance(s) for s in spec.get("conductance", [])],
    }
    with open(out_file, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
