"""Plain NEURON, no engine: Allen Biophys1 cells and a small Allen network built by hand.

Usage:
  plain_allen.py cell SWC MODEL_JSON DL OUT.json [PROCESSING]
  plain_allen.py network ROOT OUT.npz
  plain_allen.py point ROOT OUT.npz

The morphology goes through NEURON's own Import3d (not the engine's morphio loader); the
model json is applied as described for bmtk's aibs_perisomatic / aibs_allactive
processing: axon -> two 30 um stubs, pas + Ra + cm per type + e_pas, the genome, ena/ek;
nseg = 1 + 2*int(L/(2*dL)). The network reads the generator's files directly (csv module,
h5py), replays the legacy lgn spike file with NetCon.event, detects spikes at soma(0.5) and
records every cell's soma(0.5) v at every time step (`soma_v`).
"""

import contextlib
import csv
import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")
h("""
begintemplate PlainAllenCell
public soma, dend, apic, axon, all, somatic, basal, apical, axonal
objref all, somatic, basal, apical, axonal
create soma[1], dend[1], apic[1], axon[1]
proc init() {
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    forall delete_section()  // only this object's placeholders: Import3d creates the rest
}
endtemplate PlainAllenCell
""")
PARAMS = ["cm", "g_pas", "e_pas", "gnabar_hh", "gkbar_hh", "gl_hh", "el_hh", "ena", "ek"]


def kind(sec):
    return sec.name().split(".")[-1][:4]


def build_cell(swc_path, model, dL, processing="aibs_perisomatic"):
    cell = h.PlainAllenCell()
    reader = h.Import3d_SWC_read()
    reader.quiet = 1
    reader.input(str(swc_path))
    h.Import3d_GUI(reader, 0).instantiate(cell)
    allactive = processing.startswith("aibs_allactive")
    soma = cell.soma[0]
    old_axon = [s for s in cell.all if kind(s) == "axon"]
    diams = [1.0, 1.0]
    if allactive and old_axon:  # bmtk: first axon section's diam, then the last one's
        diams = [cell.axon[0].diam, old_axon[0].diam]
        for sec in cell.all:
            if kind(sec) == "axon":
                diams[1] = sec.diam
    kept = [s for s in cell.all if kind(s) != "axon"]
    for sec in old_axon:
        h.delete_section(sec=sec)
    h.execute("create axon[2]", cell)
    for sec, diam in zip(cell.axon, diams, strict=True):
        sec.L, sec.diam = 30.0, diam
        cell.axonal.append(sec=sec)
        cell.all.append(sec=sec)
    cell.axon[0].connect(soma(1.0 if allactive else 0.5), 0)
    cell.axon[1].connect(cell.axon[0](1), 0)
    sections = kept + list(cell.axon)
    passive, conditions = model["passive"][0], model["conditions"][0]
    cm = {c["section"]: c["cm"] for c in passive["cm"]}
    for sec in sections:
        sec.Ra = passive["ra"]
        sec.cm = cm[kind(sec)]
        sec.insert("pas")
        for seg in sec:
            seg.pas.e = passive["e_pas"]
    for p in model["genome"]:
        for sec in sections:
            if p["section"] in (kind(sec), "all"):
                if p["mechanism"]:
                    sec.insert(p["mechanism"])
                setattr(sec, p["name"], p["value"])
    for erev in conditions["erev"]:
        for sec in sections:
            if kind(sec) == erev["section"]:
                if h.ismembrane("na_ion", sec=sec):
                    sec.ena = erev["ena"]
                if h.ismembrane("k_ion", sec=sec):
                    sec.ek = erev["ek"]
    for sec in sections:
        sec.nseg = 1 + 2 * int(sec.L / (2 * dL))
    return cell, sections


def describe(sections):
    """Per section: type, L, area, nseg, Ra and per-segment parameter values."""
    out = []
    for sec in sections:
        segs = []
        for seg in sec:
            values = {}
            for name in PARAMS:
                with contextlib.suppress(AttributeError, NameError, ValueError):
                    values[name] = float(getattr(seg, name))
            segs.append(values)
        area = sum(seg.area() for seg in sec)
        item = {"type": kind(sec), "L": sec.L, "area": area, "nseg": sec.nseg, "Ra": sec.Ra}
        out.append({**item, "segments": segs})
    return out


def read_types(path):
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter=" ", quotechar='"'))
    return {int(r[next(iter(r))]): r for r in rows}


def network(root, out):
    root = Path(root)
    net, comp = root / "network", root / "components"
    sim = json.loads((root / "simulation_config.json").read_text())
    circuit = json.loads((root / "circuit_config.json").read_text())
    morph_dir = Path(circuit["components"]["morphologies_dir"])
    run = sim["run"]
    dt, tstop, dL, threshold = run["dt"], run["tstop"], run["dL"], -15.0
    pc = h.ParallelContext()
    node_types = read_types(net / "cortex_node_types.csv")
    with h5py.File(net / "cortex_nodes.h5") as f:
        type_ids = f["nodes/cortex/node_type_id"][...]
    cells, keep = [], []
    for gid, type_id in enumerate(type_ids):
        row = node_types[int(type_id)]
        model = json.loads(
            (comp / "biophysical_neuron_models" / row["dynamics_params"]).read_text()
        )
        cell, sections = build_cell(
            morph_dir / row["morphology"], model, dL, row["model_processing"]
        )
        detector = h.NetCon(cell.soma[0](0.5)._ref_v, None, sec=cell.soma[0])
        detector.threshold = threshold
        pc.set_gid2node(gid, 0)
        pc.cell(gid, detector)
        cells.append((cell, sections))
    with h5py.File(root / "inputs" / "lgn_spikes.h5") as f:
        lgn_ids, lgn_times = f["spikes/gids"][...], f["spikes/timestamps"][...]
    events = []
    for name in ("lgn_to_cortex", "cortex_to_cortex"):
        edge_types = read_types(net / f"{name}_edge_types.csv")
        with h5py.File(net / f"{name}_edges.h5") as f:
            pop = f[f"edges/{name}"]
            src, tgt = pop["source_node_id"][...], pop["target_node_id"][...]
            etype = pop["edge_type_id"][...]
            sec_id, sec_pos = pop["0/afferent_section_id"][...], pop["0/afferent_section_pos"][...]
        for i in range(src.size):
            row = edge_types[int(etype[i])]
            syn_params = json.loads((comp / "synaptic_models" / row["dynamics_params"]).read_text())
            sections = cells[int(tgt[i])][1]
            syn = h.Exp2Syn(sections[int(sec_id[i])](float(sec_pos[i])))
            syn.tau1, syn.tau2, syn.e = syn_params["tau1"], syn_params["tau2"], syn_params["erev"]
            delay = float(row["delay"])  # raw, as bmtk hands it to the NetCon
            weight = float(row["syn_weight"])
            if name == "lgn_to_cortex":
                nc = h.NetCon(None, syn)
                nc.weight[0] = weight
                events += [(nc, t + delay) for t in lgn_times[lgn_ids == src[i]]]
            else:
                nc = pc.gid_connect(int(src[i]), syn)
                nc.delay, nc.weight[0], nc.threshold = delay, weight, threshold
            keep.append((syn, nc))
    clamps = []
    exc_types = {t for t, r in node_types.items() if r["ei"] == "e"}  # node set "exc"
    for block in sim["inputs"].values():
        if block["module"] != "IClamp":
            continue
        for gid, type_id in enumerate(type_ids):
            if int(type_id) in exc_types:
                clamp = h.IClamp(cells[gid][0].soma[0](0.5))
                clamp.amp, clamp.delay, clamp.dur = block["amp"], block["delay"], block["duration"]
                clamps.append(clamp)
    handler = h.FInitializeHandler(lambda: [nc.event(float(t)) for nc, t in events])
    times, gids = h.Vector(), h.Vector()
    pc.spike_record(-1, times, gids)
    # soma(0.5) v of every cell at every step (t = 0, dt, ..., tstop), for the report check
    soma_v = [h.Vector().record(cell.soma[0](0.5)._ref_v) for cell, _ in cells]
    h.celsius, h.dt, h.steps_per_ms, h.tstop = sim["conditions"]["celsius"], dt, 1 / dt, tstop
    h.v_init = sim["conditions"]["v_init"]
    pc.set_maxstep(4)
    h.stdinit()
    pc.psolve(tstop)
    del handler
    np.savez(
        out,
        gids=np.array(gids),
        times=np.array(times),
        soma_v=np.array([np.array(v) for v in soma_v]),  # (cells, steps + 1), float64
    )


def point_network(root, out):
    """Point cells; weight = syn_weight * sign * nsyns.

    IntFire1: tau/refrac from json seconds (bmtk multiplies them by 1000). IntFire2 and
    IntFire4 (`nrn:IntFire2`, `nrn:IntFire4` node types): every json number the cell has
    as a parameter, as given (ms).
    """
    root = Path(root)
    net, comp = root / "network", root / "components"
    run = json.loads((root / "simulation_config.json").read_text())["run"]
    dt, tstop = run["dt"], run["tstop"]
    pc = h.ParallelContext()
    node_types = read_types(net / "cortex_node_types.csv")
    with h5py.File(net / "cortex_nodes.h5") as f:
        type_ids = f["nodes/cortex/node_type_id"][...]
    cells = []
    for gid, type_id in enumerate(type_ids):
        row = node_types[int(type_id)]
        params = json.loads((comp / "point_neuron_models" / row["dynamics_params"]).read_text())
        kind = row["model_template"].split(":")[-1]
        cell = getattr(h, kind)()
        if kind == "IntFire1":
            cell.tau, cell.refrac = params["tau"] * 1000.0, params["refrac"] * 1000.0
        else:
            for name, value in params.items():
                if isinstance(value, (int, float)) and hasattr(cell, name):
                    setattr(cell, name, float(value))
        pc.set_gid2node(gid, 0)
        pc.cell(gid, h.NetCon(cell, None))
        cells.append(cell)
    with h5py.File(root / "inputs" / "lgn_spikes.h5") as f:
        lgn_ids, lgn_times = f["spikes/gids"][...], f["spikes/timestamps"][...]
    events, keep = [], []
    for name in ("lgn_to_cortex", "cortex_to_cortex"):
        edge_types = read_types(net / f"{name}_edge_types.csv")
        with h5py.File(net / f"{name}_edges.h5") as f:
            pop = f[f"edges/{name}"]
            src, tgt = pop["source_node_id"][...], pop["target_node_id"][...]
            etype, nsyns = pop["edge_type_id"][...], pop["0/nsyns"][...]
        for i in range(src.size):
            row = edge_types[int(etype[i])]
            sign = json.loads((comp / "synaptic_models" / row["dynamics_params"]).read_text())[
                "sign"
            ]
            weight = float(row["syn_weight"]) * sign * int(nsyns[i])
            delay = float(row["delay"])  # raw, as bmtk
            if name == "lgn_to_cortex":
                nc = h.NetCon(None, cells[int(tgt[i])])
                events += [(nc, t + delay) for t in lgn_times[lgn_ids == src[i]]]
            else:
                nc = pc.gid_connect(int(src[i]), cells[int(tgt[i])])
                nc.delay = delay
            nc.weight[0] = weight
            keep.append(nc)
    handler = h.FInitializeHandler(lambda: [nc.event(float(t)) for nc, t in events])
    times, gids = h.Vector(), h.Vector()
    pc.spike_record(-1, times, gids)
    h.dt, h.steps_per_ms, h.tstop = dt, 1 / dt, tstop
    pc.set_maxstep(4)
    h.stdinit()
    pc.psolve(tstop)
    del handler
    np.savez(out, gids=np.array(gids), times=np.array(times))


def main():
    mode = sys.argv[1]
    if mode == "cell":
        swc, model_file, dL, out = sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
        processing = sys.argv[6] if len(sys.argv) > 6 else "aibs_perisomatic"
        model = json.loads(Path(model_file).read_text())
        _, sections = build_cell(swc, model, dL, processing)
        Path(out).write_text(json.dumps(describe(sections)))
    elif mode == "point":
        point_network(sys.argv[2], sys.argv[3])
    else:
        network(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
