"""Plain-NEURON baseline of bench_cells_neurodamus.py: its circuit built by a direct script.

    [mpiexec -n N] .venv/bin/python plain_bbp_build.py SIMULATION_CONFIG

Reads the circuit of circuit_cells_bench.py with json and h5py and builds it with Python
loops, as a NEURON network script would: every cell `h.<Template>(gid, dir, file, ...)`
(the same hoc template, which loads its morphology through NEURON's Import3d), cells
dealt round-robin over the ranks, a soma spike detector (`pc.cell`); every edge one
ProbAMPANMDA_EMS / ProbGABAAB_EMS (syn_type_id >= 100 / < 100) at its section (BBP
numbering: soma, original axon, basal, apical) and position, with tau_d, Use, Dep, Fac
and Nrrp set, and a `pc.gid_connect` NetCon (delay, weight = conductance) per recurrent
edge. It is the floor of cell and synapse creation, not the same model: no random
streams, no replay, no NetCon for the virtual population, so its spikes are not compared.
Phases (phase_clock, $BENCH_TIMING_DIR): mechanisms, cells, synapses, init (stdinit),
run; the set-up ends after stdinit.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from phase_clock import PhaseClock  # noqa: E402  (first: its clock starts at import)

sys.path.insert(0, str(HERE.parents[1]))
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
from neuron import h  # noqa: E402

from engine.mechanisms import build_mechanisms  # noqa: E402  (finds the cached library)

X_MIN, X_MAX = 1e-7, 0.9999999
clock = PhaseClock()
h.nrnmpi_init()
pc = h.ParallelContext()
rank, nhost = int(pc.id()), int(pc.nhost())
h.load_file("stdrun.hoc")


def path_of(base: Path, value: str) -> Path:
    """A config's path value, relative to that config's folder."""
    return (base.parent / value).resolve()


sim_config = Path(sys.argv[1]).resolve()
simulation = json.loads(sim_config.read_text())
circuit_config = path_of(sim_config, simulation["network"])
circuit = json.loads(circuit_config.read_text())
components = {
    k: path_of(circuit_config, v) if isinstance(v, str) else v
    for k, v in circuit["components"].items()
}
with clock.phase("mechanisms"):
    h.nrn_load_dll(str(build_mechanisms([components["mechanisms_dir"]])))
h.celsius = simulation["conditions"]["celsius"]
h.v_init = simulation["conditions"]["v_init"]
h.dt = dt = float(simulation["run"]["dt"])


def section_of(cell, section_id: int):
    """Section `section_id` of a BBP cell: soma, original axon (replaced: 2), basal, apical."""
    n_soma, n_axon = int(cell.nSecSoma), int(cell.nSecAxonalOrig)
    if section_id < n_soma:
        return cell.soma[section_id]
    if section_id <= n_axon:
        return cell.axon[section_id - 1]
    k = section_id - n_soma - n_axon
    return cell.dend[k] if k < int(cell.nSecBasal) else cell.apic[k - int(cell.nSecBasal)]


# --- cells ---------------------------------------------------------------------------
cells: dict[tuple[str, int], object] = {}
gids: dict[str, int] = {}
detectors = []
nodes_entry = circuit["networks"]["nodes"][0]
with clock.phase("cells"), h5py.File(path_of(circuit_config, nodes_entry["nodes_file"]), "r") as f:
    templates = components["biophysical_neuron_models_dir"]
    gid = 0
    for pop, props in nodes_entry["populations"].items():
        gids[pop] = gid
        group = f["nodes"][pop]["0"]
        if props["type"] == "virtual":
            gid += group["model_type"].shape[0] if "model_type" in group else 0
            continue
        alternate = props.get("alternate_morphologies", {}).get("neurolucida-asc")
        folder, ext = (
            (str(path_of(circuit_config, alternate)), "asc")
            if alternate
            else (str(components["morphologies_dir"]), "swc")
        )
        names = [m.decode() for m in group["morphology"][...]]
        kinds = [t.decode().split(":", 1)[1] for t in group["model_template"][...]]
        dynamics = group["dynamics_params"]
        for name in set(kinds):
            h.load_file(str(templates / f"{name}.hoc"))
        for node, (morph, kind) in enumerate(zip(names, kinds, strict=True)):
            if (gid + node) % nhost != rank:
                continue
            needed = hasattr(h, f"{kind}_NeededAttributes")
            extra = (
                (float(dynamics["AIS_scaler"][node]), float(dynamics["soma_scaler"][node]))
                if needed
                else (0,)
            )
            cell = getattr(h, kind)(node, folder, f"{morph}.{ext}", *extra)
            cells[(pop, node)] = cell
            pc.set_gid2node(gid + node, rank)
            nc = h.NetCon(cell.soma[0](0.5)._ref_v, None, sec=cell.soma[0])
            nc.threshold = float(simulation["run"]["spike_threshold"])
            pc.cell(gid + node, nc)
            detectors.append(nc)
        gid += len(names)

# --- synapses ------------------------------------------------------------------------
synapses, netcons = [], []
edges_entry = circuit["networks"]["edges"][0]
with (
    clock.phase("synapses"),
    h5py.File(path_of(circuit_config, edges_entry["edges_file"]), "r") as f,
):
    for name in edges_entry["populations"]:
        group = f["edges"][name]
        source = group["source_node_id"].attrs["node_population"]
        target = group["target_node_id"].attrs["node_population"]
        source, target = (p.decode() if isinstance(p, bytes) else p for p in (source, target))
        recurrent = source in {p for p, _ in cells}
        tgt = group["target_node_id"][...]
        mine = np.nonzero([(target, int(t)) in cells for t in tgt])[0]
        a = group["0"]
        columns = {k: a[k][...][mine].tolist() for k in (
            "afferent_section_id", "afferent_section_pos", "syn_type_id", "decay_time",
            "u_syn", "depression_time", "facilitation_time", "n_rrp_vesicles", "conductance",
            "delay")}  # fmt: skip
        src = group["source_node_id"][...][mine].tolist()
        for i, t in enumerate(tgt[mine].tolist()):
            section = section_of(cells[(target, t)], int(columns["afferent_section_id"][i]))
            x = min(max(columns["afferent_section_pos"][i], X_MIN), X_MAX)
            if columns["syn_type_id"][i] >= 100:
                syn = h.ProbAMPANMDA_EMS(section(x))
                syn.tau_d_AMPA = columns["decay_time"][i]
            else:
                syn = h.ProbGABAAB_EMS(section(x))
                syn.tau_d_GABAA = columns["decay_time"][i]
            syn.Use = abs(columns["u_syn"][i])
            syn.Dep = abs(columns["depression_time"][i])
            syn.Fac = abs(columns["facilitation_time"][i])
            syn.Nrrp = max(1, int(columns["n_rrp_vesicles"][i]))
            synapses.append(syn)
            if recurrent:
                nc = pc.gid_connect(gids[source] + src[i], syn)
                nc.delay = float(columns["delay"][i])
                nc.weight[0] = columns["conductance"][i]
                netcons.append(nc)

with clock.phase("init"):
    pc.set_maxstep(4)
    h.stdinit()
clock.mark_setup()
with clock.phase("run"):
    pc.psolve(float(simulation["run"]["tstop"]))
print(f"rank {rank}: {len(cells)} cells, {len(synapses)} synapses, {len(netcons)} NetCons")
pc.barrier()
h.quit()
