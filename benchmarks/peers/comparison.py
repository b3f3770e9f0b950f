"""Comparing outputs of a peer tool and sonatasim: spikes bit for bit, reports at float32
(project venv). The built models are compared in model_comparison.py."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from model_comparison import compare_models


def nd_results(out: Path) -> tuple[dict, dict]:
    spikes: dict[str, list] = {}
    volts: dict[tuple[str, int], np.ndarray] = {}
    for f in sorted(out.glob("nd_rank*.npz")):
        d = np.load(f, allow_pickle=False)
        for pop, off, t, g in zip(d["spike_pop"], d["spike_offset"], d["spike_time"],
                                  d["spike_gid"], strict=True):  # fmt: skip
            spikes.setdefault(str(pop), []).append((int(g) - int(off), float(t)))
        if "v" in d:
            for pop, node, v in zip(d["v_pop"], d["v_node"], d["v"], strict=True):
                volts[(str(pop), int(node))] = v
    return {p: sorted(s) for p, s in spikes.items()}, volts


def ss_results(
    out: Path, spikes_file: str = "spikes.h5", report: str = "soma_v.h5"
) -> tuple[dict, dict]:
    spikes: dict[str, list] = {}
    with h5py.File(out / spikes_file, "r") as f:
        for pop, grp in f["spikes"].items():
            ids, ts = grp["node_ids"][()], grp["timestamps"][()]
            spikes[pop] = sorted(zip(ids.astype(int).tolist(), ts.astype(float).tolist(),
                                     strict=True))  # fmt: skip
    volts = {}
    rep = out / report
    if rep.exists():
        with h5py.File(rep, "r") as f:
            for pop, grp in f["report"].items():
                data = grp["data"][()]
                nodes = grp["mapping/node_ids"][()]
                ptr = grp["mapping/index_pointers"][()]
                for i, node in enumerate(nodes):
                    volts[(pop, int(node))] = data[:, ptr[i]]
    return spikes, volts


def compare(nd: tuple[dict, dict], ss: tuple[dict, dict]) -> dict:
    (nd_sp, nd_v), (ss_sp, ss_v) = nd, ss
    res: dict = {"spikes": {}, "voltages": {}}
    for pop in sorted(set(nd_sp) | set(ss_sp)):
        a, b = nd_sp.get(pop, []), ss_sp.get(pop, [])
        sa, sb = set(a), set(b)
        entry = {"neurodamus": len(a), "sonatasim": len(b), "identical": a == b}
        if a != b:
            entry["only_neurodamus"] = sorted(sa - sb)[:10]
            entry["only_sonatasim"] = sorted(sb - sa)[:10]
            first = [(x, y) for x, y in zip(a, b, strict=False) if x != y][:1]
            entry["first_difference"] = first
            per_node = {}
            for node in sorted({s[0] for s in a} | {s[0] for s in b}):
                ta = [t for n_, t in a if n_ == node]
                tb = [t for n_, t in b if n_ == node]
                if ta != tb:
                    k = next((i for i, (x, y) in enumerate(zip(ta, tb, strict=False)) if x != y),
                             min(len(ta), len(tb)))  # fmt: skip
                    per_node[node] = {
                        "n": (len(ta), len(tb)),
                        "first_diff_index": k,
                        "nd": ta[k : k + 2],
                        "ss": tb[k : k + 2],
                    }
            entry["per_node"] = per_node
        res["spikes"][pop] = entry
    for key in sorted(set(nd_v) & set(ss_v)):
        a, b = nd_v[key], ss_v[key]
        n = min(a.size, b.size)
        a32, b32 = a[:n].astype(np.float32), b[:n].astype(np.float32)
        bad = np.nonzero(a32 != b32)[0]
        res["voltages"][f"{key[0]}/{key[1]}"] = {
            "frames": int(n),
            "lengths": (int(a.size), int(b.size)),
            "identical_f32": bool(bad.size == 0),
            "first_bad_frame": int(bad[0]) if bad.size else None,
            "max_abs_diff_mV": float(np.max(np.abs(a[:n] - b[:n].astype(np.float64)))),
        }
    res["voltages_missing"] = {
        "only_neurodamus": [f"{p}/{k}" for p, k in sorted(set(nd_v) - set(ss_v))],
        "only_sonatasim": [f"{p}/{k}" for p, k in sorted(set(ss_v) - set(nd_v))],
    }
    return res


def summary_line(res: dict) -> str:
    sp = ", ".join(
        f"{p}: nd {e['neurodamus']} / ss {e['sonatasim']} {'==' if e['identical'] else '!='}"
        for p, e in res["spikes"].items()
    )
    vs = res["voltages"]
    n_ok = sum(v["identical_f32"] for v in vs.values())
    worst = max((v["max_abs_diff_mV"] for v in vs.values()), default=float("nan"))
    return (
        f"{res['scenario']:14s}{' [patched ' + res['ss_patch'] + ']' if res['ss_patch'] else ''} "
        f"{res['verdict']:9s} spikes [{sp}]  soma v {n_ok}/{len(vs)} "
        f"cells identical (f32), max |dv| {worst:.3g} mV  "
        f"(nd {res['seconds']['neurodamus']} s, ss {res['seconds']['sonatasim']} s)"
    )


def read_spikes(path: Path, population: str = "cortex"):
    import h5py
    import numpy as np

    with h5py.File(path) as f:
        group = f[f"spikes/{population}"]
        ids = group["node_ids"][...].astype(np.int64)
        times = group["timestamps"][...].astype(np.float64)
        attrs = {
            k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in group.attrs.items()
        }
    return ids, times, attrs


def compare_spikes(bmtk_file: Path, ours_file: Path, population: str = "cortex") -> dict:
    bi, bt, battrs = read_spikes(bmtk_file, population)
    oi, ot, oattrs = read_spikes(ours_file, population)
    out = {"bmtk_spikes": int(bi.size), "ours_spikes": int(oi.size)}
    out["file_order_identical"] = bool(np.array_equal(bi, oi) and np.array_equal(bt, ot))
    out["sorting_attr"] = {"bmtk": battrs.get("sorting"), "ours": oattrs.get("sorting")}
    bo, oo = np.lexsort((bi, bt)), np.lexsort((oi, ot))
    bi, bt, oi, ot = bi[bo], bt[bo], oi[oo], ot[oo]
    out["identical"] = bool(np.array_equal(bi, oi) and np.array_equal(bt, ot))
    if out["identical"]:
        return out
    # bmtk writes every spike time as text ('{}'.format, spike_train_buffer.py:481) and reads it
    # back with pandas.read_csv's default (not round-trip) float parser (:526): the last bit
    # or two can change. Same ids, same order and times within 4 ulp = identical up to that.
    if bi.size == oi.size and np.array_equal(bi, oi):
        ulps = np.abs(bt - ot) / np.spacing(np.maximum(np.abs(bt), np.abs(ot)))
        out["max_ulps"] = float(ulps.max())
        out["identical_up_to_bmtk_text_roundtrip"] = bool(ulps.max() <= 4)
    ids = sorted(set(bi.tolist()) | set(oi.tolist()))
    per_cell = {}
    first = None
    for gid in ids:
        b, o = bt[bi == gid], ot[oi == gid]
        n = min(b.size, o.size)
        diff = np.abs(b[:n] - o[:n])
        mism = np.nonzero(diff > 0)[0]
        entry = {"bmtk": int(b.size), "ours": int(o.size)}
        if n:
            entry["max_abs_dt"] = float(diff.max())
        if mism.size or b.size != o.size:
            k = int(mism[0]) if mism.size else n
            t_first = min(b[k] if k < b.size else np.inf, o[k] if k < o.size else np.inf)
            entry["first_mismatch"] = [
                k,
                float(b[k]) if k < b.size else None,
                float(o[k]) if k < o.size else None,
            ]
            if first is None or t_first < first[1]:
                first = (gid, float(t_first))
        per_cell[str(gid)] = entry
    out["per_cell"] = per_cell
    out["first_divergence"] = {"node_id": first[0], "t": first[1]} if first else None
    tmax = max(bt.max(initial=0), ot.max(initial=0))
    out["rate_hz"] = {"bmtk": float(bi.size / len(ids) / (tmax / 1000.0)) if ids else 0.0}
    out["rate_hz"]["ours"] = float(oi.size / len(ids) / (tmax / 1000.0)) if ids else 0.0
    return out


def read_report(path: Path, population: str = "cortex"):
    import h5py
    import numpy as np

    with h5py.File(path) as f:
        g = f[f"report/{population}"]
        data = g["data"][...]
        node_ids = g["mapping/node_ids"][...].astype(np.int64)
        time_ = g["mapping/time"][...]
    return data, node_ids, time_


def compare_reports(bmtk_file: Path, ours_file: Path, population: str = "cortex") -> dict:
    if not bmtk_file.exists() or not ours_file.exists():
        return {"missing": [str(p) for p in (bmtk_file, ours_file) if not p.exists()]}
    bd, bn, btime = read_report(bmtk_file, population)
    od, on, otime = read_report(ours_file, population)
    out = {"shape": {"bmtk": list(bd.shape), "ours": list(od.shape)}}
    out["time"] = {"bmtk": btime.tolist(), "ours": otime.tolist()}
    out["dtype"] = {"bmtk": str(bd.dtype), "ours": str(od.dtype)}
    out["node_ids"] = {"bmtk": bn.tolist(), "ours": on.tolist()}
    common = [n for n in bn.tolist() if n in on.tolist()]
    b = bd[:, [bn.tolist().index(n) for n in common]].astype(np.float32)
    o = od[:, [on.tolist().index(n) for n in common]].astype(np.float32)
    best = None
    for shift in (-1, 0, 1):  # ours row k+shift vs bmtk row k
        lo, hi = max(0, -shift), min(b.shape[0], o.shape[0] - shift)
        d = np.abs(b[lo:hi] - o[lo + shift : hi + shift])
        entry = {
            "rows": int(hi - lo),
            "max_abs": float(d.max()),
            "exact_rows": int(np.all(d == 0, axis=1).sum()),
        }
        bad = np.nonzero(np.any(d > 0, axis=1))[0]
        entry["first_bad_row"] = int(bad[0] + lo) if bad.size else None
        out[f"shift_{shift}"] = entry
        if best is None or entry["max_abs"] < out[f"shift_{best}"]["max_abs"]:
            best = shift
    out["best_shift"] = best
    out["identical_at_best_shift"] = out[f"shift_{best}"]["max_abs"] == 0.0
    out["v0"] = {"bmtk_row0": b[0].tolist(), "ours_row0": o[0].tolist()}
    return out


def compare_bmtk_outputs(base: Path, bmtk_out: Path, ours_out: Path) -> dict:
    out = {"spikes": compare_spikes(bmtk_out / "spikes.h5", ours_out / "spikes.h5")}
    out["report"] = compare_reports(
        bmtk_out / "membrane_potential.h5", ours_out / "membrane_potential.h5"
    )
    out["model"] = compare_models(base)
    return out


def bmtk_headline(r: dict) -> str:
    s, rep, m = r["spikes"], r["report"], r["model"]
    verdict = "IDENTICAL" if s["identical"] else "DIFFER"
    if s.get("identical_up_to_bmtk_text_roundtrip"):
        verdict = f"IDENTICAL up to bmtk's csv round trip (<= {s['max_ulps']:.0f} ulp)"
    parts = [f"spikes {verdict} ({s['bmtk_spikes']} bmtk / {s['ours_spikes']} ours)"]
    if (
        not s["identical"]
        and not s.get("identical_up_to_bmtk_text_roundtrip")
        and s.get("first_divergence")
    ):
        parts.append(
            f"first divergence node {s['first_divergence']['node_id']} t={s['first_divergence']['t']:.3f}"
        )
    if "best_shift" in rep:
        best = rep[f"shift_{rep['best_shift']}"]["max_abs"]
        parts.append(f"v best shift {rep['best_shift']} max|dv| {best:.3g}")
    kinds = [k for k in m["differences"] if not k.endswith("_count")]
    parts.append(
        "model diffs: "
        + (", ".join(f"{k}x{m['differences'][k + '_count'][0]}" for k in kinds) or "none")
    )
    return "; ".join(parts)


def _populations(*files: Path, group: str) -> list[str]:
    names: set[str] = set()
    for path in files:
        if path.exists():
            with h5py.File(path, "r") as f:
                names |= set(f.get(group, {}).keys())
    return sorted(names)


def compare_spike_files(peer_file: Path, ours_file: Path) -> dict[str, dict]:
    """`compare_spikes` for every population of either SONATA spike file (a population
    one file lacks counts as no spikes there)."""
    out = {}
    for pop in _populations(peer_file, ours_file, group="spikes"):
        try:
            out[pop] = compare_spikes(peer_file, ours_file, pop)
        except KeyError:
            out[pop] = {"identical": False, "bmtk_spikes": "?", "ours_spikes": "?"}
    return out


def compare_report_files(peer_file: Path, ours_file: Path) -> dict[str, dict]:
    """`compare_reports` for every population of either SONATA report file."""
    if not peer_file.exists() or not ours_file.exists():
        return {"": {"missing": [str(p) for p in (peer_file, ours_file) if not p.exists()]}}
    out = {}
    for pop in _populations(peer_file, ours_file, group="report"):
        try:
            out[pop] = compare_reports(peer_file, ours_file, pop)
        except KeyError:
            out[pop] = {"missing": [f"population {pop} in one of the files"]}
    return out
