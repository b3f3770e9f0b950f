"""Tool-agnostic dump of an instantiated NEURON model (synapses, NetCons, stimuli).

Imported by nd_driver.py (neurodamus venv) and ss_dump.py (sonatasim venv): it only needs
NEURON's `h`. Every point process of the listed mechanisms and every NetCon targeting one
is described by plain values, keyed by (gid, mechanism, synapseID), so two tools' models
can be diffed regardless of creation order and object names.
"""

from __future__ import annotations

import json
import re
from typing import Any

SYNAPSE_MECHS = ("ProbAMPANMDA_EMS", "ProbGABAAB_EMS")
SYN_PARAMS = (
    "Use", "Dep", "Fac", "Nrrp", "u0", "tau_r_AMPA", "tau_d_AMPA", "tau_r_NMDA", "tau_d_NMDA",
    "NMDA_ratio", "tau_r_GABAA", "tau_d_GABAA", "tau_r_GABAB", "tau_d_GABAB", "GABAB_ratio",
    "e", "e_GABAA", "e_GABAB", "mg", "gmax", "conductance",
)  # fmt: skip
STIM_MECHS = (
    "MembraneCurrentSource", "SonataCurrentSource", "IClamp", "ConductanceSource",
    "SonataConductanceSource", "SEClamp",
)  # fmt: skip
_INDEX = re.compile(r"\[\d+\]")


def _cell_of(sec: Any) -> str:
    name = sec.name()
    return name.split(".", 1)[0] if "." in name else ""


def _local_section(sec: Any) -> str:
    name = sec.name()
    return name.split(".", 1)[1] if "." in name else name


def dump(h: Any, pc: Any, gids: list[int]) -> dict:
    cell_gid: dict[str, int] = {}
    for gid in gids:
        if pc.gid_exists(gid):
            cell = pc.gid2cell(gid)
            if cell is not None:
                cell_gid[str(cell)] = gid
    synapses: dict[str, dict] = {}
    by_object: dict[str, str] = {}
    for mech in SYNAPSE_MECHS:
        if not hasattr(h, mech):
            continue
        for syn in h.List(mech):
            seg = syn.get_segment()
            gid = cell_gid.get(_cell_of(seg.sec), -1)
            # synapse ids restart at 0 for every edge population: add the location
            key = f"{gid}/{mech}/{int(syn.synapseID)}/{_local_section(seg.sec)}({seg.x:.6f})"
            rec = {"sec": _local_section(seg.sec), "x": seg.x}
            rec.update({p: getattr(syn, p) for p in SYN_PARAMS if hasattr(syn, p)})
            rec["netcons"] = []
            if key in synapses:
                key += f"#dup{len(synapses)}"
            synapses[key] = rec
            by_object[str(syn)] = key
    stims: list[dict] = []
    for nc in h.List("NetCon"):
        target = nc.syn()
        if target is None or str(target) not in by_object:
            continue
        pre = nc.pre()
        kind = "presyn" if nc.srcgid() >= 0 else _INDEX.sub("", str(pre)) if pre else "none"
        rec = {
            "kind": kind,
            "srcgid": int(nc.srcgid()),
            "delay": nc.delay,
            "weight": [nc.weight[i] for i in range(int(nc.wcnt()))],
            "threshold": nc.threshold,
        }
        if pre is not None and hasattr(pre, "rate"):
            rec["rate"] = pre.rate if not callable(pre.rate) else None
        synapses[by_object[str(target)]]["netcons"].append(rec)
    for syn in synapses.values():
        syn["netcons"].sort(key=lambda r: (r["kind"], r["srcgid"], r["delay"]))
    for mech in STIM_MECHS:
        if not hasattr(h, mech):
            continue
        for stim in h.List(mech):
            seg = stim.get_segment()
            stims.append(
                {
                    "mech": mech,
                    "gid": cell_gid.get(_cell_of(seg.sec), -1),
                    "sec": _local_section(seg.sec),
                    "x": seg.x,
                }
            )
    return {
        "synapses": synapses,
        "stimuli": stims,
        "globals": {
            name: getattr(h, name)
            for name in (
                "celsius",
                "dt",
                "tstop",
                "v_init",
                "secondorder",
                "nc_type_param_ProbAMPANMDA_EMS",
                "nc_type_param_ProbGABAAB_EMS",
                "init_depleted_ProbAMPANMDA_EMS",
                "minis_single_vesicle_ProbAMPANMDA_EMS",
            )
            if hasattr(h, name)
        },
    }


def write(path: str, data: dict) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=0, sort_keys=True)
