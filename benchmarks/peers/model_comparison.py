"""Comparing the NEURON models a peer tool and sonatasim built: synapses, NetCons, sections
and segments field by field (neurodamus model dumps; bmtk state files) (project venv)."""

from __future__ import annotations

import json
from pathlib import Path


def diff_models(a: dict, b: dict) -> dict:
    """Per field: how many synapses / NetCons differ, with the first example."""
    sa, sb = a["synapses"], b["synapses"]
    res: dict = {
        "globals": {
            k: (a["globals"].get(k), b["globals"].get(k))
            for k in set(a["globals"]) | set(b["globals"])
            if a["globals"].get(k) != b["globals"].get(k)
        },  # fmt: skip
        "synapses": (len(sa), len(sb)),
        "only_neurodamus": sorted(set(sa) - set(sb))[:5],
        "only_sonatasim": sorted(set(sb) - set(sa))[:5],
        "fields": {},
        "stimuli": (len(a["stimuli"]), len(b["stimuli"])),
    }
    fields: dict[str, list] = {}

    def note(name: str, example: tuple) -> None:
        entry = fields.setdefault(name, [0, example])
        entry[0] += 1

    for key in sorted(set(sa) & set(sb)):
        x, y = sa[key], sb[key]
        for p in sorted((set(x) | set(y)) - {"netcons"}):
            if x.get(p) != y.get(p):
                note(p, (key, x.get(p), y.get(p)))
        nx, ny = x["netcons"], y["netcons"]
        if len(nx) != len(ny):
            note("netcon_count", (key, [n["kind"] for n in nx], [n["kind"] for n in ny]))
        for p, q in zip(nx, ny, strict=False):
            for f in sorted((set(p) | set(q)) - {"kind"}):
                if p.get(f) != q.get(f):
                    note(f"netcon.{f}", (key, p["kind"], q["kind"], p.get(f), q.get(f)))
    res["fields"] = {k: {"count": v[0], "example": v[1]} for k, v in fields.items()}
    return res


def _load_states(base: Path, stem: str) -> dict:
    cells, conns, clamps, glob = {}, [], [], None
    for part in sorted(base.glob(f"{stem}.json.*")):
        state = json.loads(part.read_text())
        cells.update(state["cells"])
        conns += state["connections"]
        clamps += state["iclamps"]
        glob = glob or {k: state[k] for k in ("celsius", "v_init", "dt", "t_end", "secondorder")}
    return {"cells": cells, "connections": conns, "iclamps": clamps, "globals": glob}


def _close(a, b, rel=1e-12):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= rel * max(abs(a), abs(b))
    return a == b


def compare_models(base: Path) -> dict:
    """Differences between the NEURON models both built (first few of each kind)."""
    b, o = _load_states(base, "bmtk_state"), _load_states(base, "ours_state")
    diffs: dict[str, list] = {}

    def note(kind, item):
        diffs.setdefault(kind, [])
        if len(diffs[kind]) < 6:
            diffs[kind].append(item)
        diffs.setdefault(f"{kind}_count", [0])[0] += 1

    for k in b["globals"]:
        if not _close(b["globals"][k], o["globals"][k]):
            note("globals", {k: [b["globals"][k], o["globals"][k]]})
    if set(b["cells"]) != set(o["cells"]):
        note("cells", {"bmtk": sorted(b["cells"]), "ours": sorted(o["cells"])})
    for gid in sorted(set(b["cells"]) & set(o["cells"]), key=int):
        bc, oc = b["cells"][gid], o["cells"][gid]
        if bc.get("threshold") != oc.get("threshold") or bc.get("detector") != oc.get("detector"):
            note(
                "detector",
                {
                    "gid": gid,
                    "bmtk": [bc.get("threshold"), bc.get("detector")],
                    "ours": [oc.get("threshold"), oc.get("detector")],
                },
            )
        bs = {s["name"]: s for s in bc["sections"]}
        os_ = {s["name"]: s for s in oc["sections"]}
        if [s["name"] for s in bc["sections"]] != [s["name"] for s in oc["sections"]]:
            note("section_order", {"gid": gid, "bmtk": list(bs), "ours": list(os_)})
        for name in sorted(set(bs) & set(os_)):
            sb, so = bs[name], os_[name]
            for key in ("L", "Ra", "nseg", "parent", "n3d"):
                if not _close(sb[key], so[key]):
                    note(
                        f"section.{key}",
                        {"gid": gid, "section": name, "bmtk": sb[key], "ours": so[key]},
                    )
            for segb, sego in zip(sb["segments"], so["segments"], strict=False):
                for key in set(segb) | set(sego):
                    if not _close(segb.get(key), sego.get(key), 1e-9):
                        note(
                            f"segment.{key}",
                            {
                                "gid": gid,
                                "section": name,
                                "x": segb["x"],
                                "bmtk": segb.get(key),
                                "ours": sego.get(key),
                            },
                        )

    def conn_key(c):
        return (
            c["gid"],
            c["section"],
            round(c["x"], 9),
            round(c.get("tau1", 0), 9),
            round(c.get("tau2", 0), 9),
            c.get("e"),
            c["srcgid"] >= 0,
        )

    def by_key(conns):
        out = {}
        for c in conns:
            out.setdefault(conn_key(c), []).append((c["weight"], c["delay"]))
        return {k: sorted(v) for k, v in out.items()}

    cb, co = by_key(b["connections"]), by_key(o["connections"])
    summary = {"bmtk_netcons": len(b["connections"]), "ours_netcons": len(o["connections"])}
    summary["bmtk_mechs"] = sorted({c["mech"] for c in b["connections"]})
    summary["ours_mechs"] = sorted({c["mech"] for c in o["connections"]})
    for key in sorted(set(cb) | set(co), key=str):
        if cb.get(key) != co.get(key):
            note(
                "netcons",
                {
                    "where": list(key),
                    "bmtk (w, delay)": cb.get(key),
                    "ours (w, delay)": co.get(key),
                },
            )

    def placement(conns):
        import numpy as np

        kinds: dict[str, int] = {}
        for c in conns:
            kinds[c["section"].split("[")[0]] = kinds.get(c["section"].split("[")[0], 0) + 1
        dend_x = [c["x"] for c in conns if c["section"].startswith("dend")]
        return {
            "per_section_type": kinds,
            "dend_x_mean": float(np.mean(dend_x)) if dend_x else None,
            "dend_x_hist": np.histogram(dend_x, bins=5, range=(0, 1))[0].tolist(),
        }

    summary["placement"] = {
        "bmtk": placement(b["connections"]),
        "ours": placement(o["connections"]),
    }

    def cl(s):
        return sorted((c["gid"], c["section"], c["x"], c["amp"], c["delay"], c["dur"]) for c in s)

    if cl(b["iclamps"]) != cl(o["iclamps"]):
        note(
            "iclamps",
            {
                "bmtk": cl(b["iclamps"])[:4],
                "ours": cl(o["iclamps"])[:4],
                "n": [len(b["iclamps"]), len(o["iclamps"])],
            },
        )
    return {"summary": summary, "differences": diffs}
