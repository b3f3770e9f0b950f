"""Plain NEURON, no engine: the BBP-style mini circuit of tests/test_bbp_support.py by hand.

Usage: plain_bbp.py CIRCUIT_DIR LIBNRNMECH OUT.npz
Reads the files with h5py/json only, builds the cells from their hoc templates, maps
SONATA section ids to sections through the hoc arrays (soma[0]; the original axon block,
removed by the template; dend[k]; apic[k]), and writes out neurodamus' conventions
directly: synapse ids per target, Random123 keys, U/D/F magnitudes, calcium scaling of U,
Nrrp and ratio defaults, NetCon weight = conductance (nS), delays truncated to dt.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

h.load_file("stdrun.hoc")


def pop_hash(name: str) -> int:
    digest = hashlib.md5(name.encode()).digest()
    return (digest[1] & 0x0F) * 256 + digest[0]


def text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def asc_file(morph_dir: str, name: str) -> str:
    """`name` + .asc in the neurolucida-asc directory, whatever case the extension has."""
    wanted = f"{name}.asc".lower()
    return next(p.name for p in Path(morph_dir).iterdir() if p.name.lower() == wanted)


def build_cell(
    node_id: int, template: str, dynamics: dict, morph_dir: str, models: Path, morphology: str
):
    if not hasattr(h, template):
        h.load_file(str(models / f"{template}.hoc"))
    needed_name = f"{template}_NeededAttributes"
    if hasattr(h, needed_name):
        args = [float(dynamics[a][node_id]) for a in str(getattr(h, needed_name)).split(";")]
    else:
        args = [0.0]
    cell = getattr(h, template)(node_id, morph_dir, asc_file(morph_dir, morphology), *args)
    n_axon = int(cell.nSecAxonalOrig)
    axon = [None] * n_axon
    if not hasattr(cell, "nSecAll") or cell.nSecAll == 0:  # block rule: new axon first
        axon[:2] = [cell.axon[0], cell.axon[1]]
    dend = [cell.dend[k] for k in range(int(cell.nSecBasal))]
    apic = [cell.apic[k] for k in range(int(cell.nSecApical))]
    return cell, [cell.soma[0], *axon, *dend, *apic]


def main() -> None:
    root, library, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    h.nrn_load_dll(library)
    sim = json.loads((root / "simulation_config.json").read_text())
    circuit = json.loads((root / "circuit_config.json").read_text())
    run, cond = sim["run"], sim["conditions"]
    dt, tstop = run["dt"], run["tstop"]
    models = root / circuit["components"]["biophysical_neuron_models_dir"]
    morph_dir = str(root / circuit["components"]["alternate_morphologies"]["neurolucida-asc"])
    h.Random().Random123_globalindex(run["random_seed"])
    pc = h.ParallelContext()

    with h5py.File(root / "nodes.h5") as f:
        group = f["nodes/cortex/0"]
        templates = [t.split(":")[1] for t in text(group["model_template"][:])]
        morphologies = text(group["morphology"][:])
        dynamics = {k: group["dynamics_params"][k][:] for k in group["dynamics_params"]}
    cells, sections, detectors = [], [], []
    for node_id, template in enumerate(templates):
        cell, table = build_cell(
            node_id, template, dynamics, morph_dir, models, morphologies[node_id]
        )
        cells.append(cell)
        sections.append(table)
        pc.set_gid2node(node_id, 0)  # gid = node id: "cortex" sorts first, offset 0
        detector = h.NetCon(cell.axon[1](0.5)._ref_v, None, sec=cell.axon[1])  # AIS
        detector.threshold = run["spike_threshold"]
        pc.cell(node_id, detector)
        detectors.append(detector)

    with h5py.File(root / "input_spikes.h5") as f:
        spikes = f["spikes/thalamus"]
        fibre_ids, fibre_times = spikes["node_ids"][:], spikes["timestamps"][:]
    keep, netcons, stims = [], [], {}
    calcium = cond["extracellular_calcium"]
    with h5py.File(root / "edges.h5") as f:
        for name in sorted(f["edges"]):  # the order libsonata lists populations in
            pop = f["edges"][name]
            src = pop["source_node_id"][:]
            tgt = pop["target_node_id"][:]
            source_pop = pop["source_node_id"].attrs["node_population"]
            source_pop = source_pop.decode() if isinstance(source_pop, bytes) else source_pop
            a = {k: pop["0"][k][:] for k in pop["0"]}
            third = pop_hash(source_pop) * 65536 + pop_hash("cortex") + run["synapse_seed"]
            for e in range(src.size):
                target = int(tgt[e])
                synapse_id = int(np.sum(tgt[:e] == target))
                section = sections[target][int(a["afferent_section_id"][e])]
                if section is None:
                    continue
                x = min(max(max(float(a["afferent_section_pos"][e]), 0.0), 1e-7), 0.9999999)
                exc = a["syn_type_id"][e] >= 100
                syn = (h.SonataProbAMPANMDA if exc else h.SonataProbGABAAB)(section(x))
                scale = 1.0  # neurodamus scales U only with a u_hill_coefficient column
                if "u_hill_coefficient" in a:
                    hill = float(a["u_hill_coefficient"][e])
                    scale = (hill**4 + 16) / 16 * calcium**4 / (hill**4 + calcium**4)
                syn.Use = abs(float(a["u_syn"][e]) * scale)
                syn.Dep = abs(float(a["depression_time"][e]))
                syn.Fac = abs(float(a["facilitation_time"][e]))
                if a["n_rrp_vesicles"][e] >= 0:
                    syn.Nrrp = float(a["n_rrp_vesicles"][e])
                ratio = float(a.get("conductance_scale_factor", [-1.0] * src.size)[e])
                gid_key, syn_key = target + 1 + 250, synapse_id + 100
                if exc:
                    syn.tau_d_AMPA = float(a["decay_time"][e])
                    if ratio >= 0:
                        syn.NMDA_ratio = ratio
                else:
                    syn.tau_d_GABAA = float(a["decay_time"][e])
                    if ratio >= 0:
                        syn.GABAB_ratio = ratio
                    if cond["randomize_gaba_rise_time"]:
                        rng = h.Random()
                        rng.Random123(gid_key, syn_key, third + 450)
                        rng.lognormal(0.2, 0.1)  # GABAABHelper: this draw is dropped,
                        syn.tau_r_GABAA = rng.repick()  # the next one is the rise time
                syn.synapseID = synapse_id
                syn.conductance = float(a["conductance"][e])
                syn.setRNG(gid_key, syn_key, third + 300)
                delay = np.trunc(float(a["delay"][e]) / dt + 1e-5) * dt
                if source_pop == "cortex":
                    nc = pc.gid_connect(int(src[e]), syn)
                    nc.threshold = run["spike_threshold"]
                else:
                    fibre = int(src[e])
                    if fibre not in stims:
                        vec = h.Vector(np.sort(fibre_times[fibre_ids == fibre]))
                        stims[fibre] = (h.SonataVecStim(), vec)
                        stims[fibre][0].play(vec)
                    nc = h.NetCon(stims[fibre][0], syn)
                nc.delay = delay
                nc.weight[0] = float(a["conductance"][e])
                keep.append(syn)
                netcons.append(nc)

    voltages = [h.Vector().record(cell.soma[0](0.5)._ref_v) for cell in cells]
    t = h.Vector().record(h._ref_t)
    times, gids = h.Vector(), h.Vector()
    pc.spike_record(-1, times, gids)
    h.celsius, h.dt, h.steps_per_ms, h.tstop = cond["celsius"], dt, 1 / dt, tstop
    h.v_init = cond["v_init"]
    pc.set_maxstep(4)
    h.stdinit()
    pc.psolve(tstop)
    np.savez(
        out,
        t=np.array(t),
        spike_gids=np.array(gids),
        spike_times=np.array(times),
        **{f"v_cortex_{i}": np.array(v) for i, v in enumerate(voltages)},
    )


if __name__ == "__main__":
    main()
