"""Plain-NEURON baseline for bench_detailed_build.py: the same detailed circuit, built directly.

Usage: plain_detailed_build.py CIRCUIT_DIR

Reads the circuit written by bench_detailed_build.py (circuit_config.json, nodes.h5,
edges.h5, simulation_config.json) with json and h5py, and builds it with Python loops:

* cells: `h.DetailedCell(node_id, morphologies_dir, file)`, the same hoc template as the
  engine, so its sections are created by the engine's morphio loader
  (`engine.managers.cells.morphology.MorphologyLoader`, installed as hoc's `sonatasim_morphology`; the
  template calls it from init()); the section of SONATA id k is element k of the list the
  loader returns for the cell. Then `pc.set_gid2node`, a NetCon on soma(1) as spike
  detector and `pc.cell`, as every NEURON network script does.
* synapses: one `h.SonataExp2Syn(section(x))` per edge (x clamped inside the section as
  the engine does), tau_d = decay_time, e = -80 mV if syn_type_id < 100 else 0; one
  `pc.gid_connect` NetCon per recurrent edge with delay (truncated to whole steps) and
  weight[0] = conductance / 1000 (uS); no NetCon for the virtual population's edges.

Nothing else of the engine is used: `engine.mechanisms.build_mechanisms` only finds the
(cached) compiled library. Prints one RESULT JSON line: phase times (time.perf_counter),
resident memory before/after the synapse phase, peak RSS, what was built; then runs tstop.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detailed_build import model_fingerprint, peak_mb, rss_mb  # noqa: E402

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
from neuron import h  # noqa: E402

from engine.managers.cells.morphology import MorphologyLoader  # noqa: E402  (imports are not timed)
from engine.mechanisms import build_mechanisms  # noqa: E402

X_MIN, X_MAX = 1e-7, 0.9999999
root = Path(sys.argv[1]).resolve()
pc = h.ParallelContext()
h.load_file("stdrun.hoc")
phases: dict[str, float] = {}


class Phase:
    """`with Phase("cells"):` adds the elapsed wall time to phases["cells"]."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        phases[self.name] = phases.get(self.name, 0.0) + time.perf_counter() - self.start


def path_of(value: str) -> Path:
    return Path(value) if os.path.isabs(value) else root / value


with Phase("mechanisms"):
    h.nrn_load_dll(str(build_mechanisms([])))

simulation = json.loads((root / "simulation_config.json").read_text())
dt, tstop = float(simulation["run"]["dt"]), float(simulation["run"]["tstop"])
threshold = float(simulation["run"]["spike_threshold"])
h.celsius = simulation["conditions"]["celsius"]
h.v_init = simulation["conditions"]["v_init"]
h.dt = dt

# --- cells ---------------------------------------------------------------------------
with Phase("cells"):
    circuit = json.loads((root / "circuit_config.json").read_text())
    components = circuit["components"]
    morph_dir = str(path_of(components["morphologies_dir"]))
    templates = path_of(components["biophysical_neuron_models_dir"])
    loader = MorphologyLoader().install(h)
    nodes_entry = circuit["networks"]["nodes"][0]
    kinds = {name: p["type"] for name, p in nodes_entry["populations"].items()}
    with h5py.File(path_of(nodes_entry["nodes_file"]), "r") as f:
        group = f["nodes/detailed/0"]
        morphologies = [m.decode() for m in group["morphology"][...]]
        template = group["model_template"][0].decode().split(":", 1)[1]
    h.load_file(str(templates / f"{template}.hoc"))
    cell_class = getattr(h, template)
    cells, sections, detectors = [], [], []
    for node_id, name in enumerate(morphologies):
        file = name if Path(name).suffix else f"{name}.swc"
        cell = cell_class(node_id, morph_dir, file)
        cells.append(cell)
        sections.append(loader.sections_of(cell))
        pc.set_gid2node(node_id, 0)
        soma = sections[-1][0]
        nc = h.NetCon(soma(1)._ref_v, None, sec=soma)
        nc.threshold = threshold
        pc.cell(node_id, nc)
        detectors.append(nc)

# --- synapses ------------------------------------------------------------------------
rss_before = rss_mb()
synapses, netcons = [], []
edges_entry = circuit["networks"]["edges"][0]
with Phase("synapses"), h5py.File(path_of(edges_entry["edges_file"]), "r") as f:
    for name in edges_entry["populations"]:
        with Phase("synapses_read"):
            pop = f["edges"][name]
            source_pop = pop["source_node_id"].attrs["node_population"]
            if isinstance(source_pop, bytes):
                source_pop = source_pop.decode()
            recurrent = kinds[source_pop] != "virtual"
            g = pop["0"]
            src = pop["source_node_id"][...].tolist()
            tgt = pop["target_node_id"][...].tolist()
            sec_ids = g["afferent_section_id"][...].tolist()
            xs = np.clip(g["afferent_section_pos"][...], X_MIN, X_MAX).tolist()
            decays = g["decay_time"][...].tolist()
            revs = np.where(g["syn_type_id"][...] < 100, -80.0, 0.0).tolist()
            weights = (g["conductance"][...] * 1e-3).tolist()
            delays = (np.trunc(g["delay"][...] / dt + 1e-5) * dt).tolist()
        for i in range(len(tgt)):
            syn = h.SonataExp2Syn(sections[tgt[i]][sec_ids[i]](xs[i]))
            syn.tau_d = decays[i]
            syn.e = revs[i]
            synapses.append(syn)
            if recurrent:
                nc = pc.gid_connect(src[i], syn)
                nc.delay = delays[i]
                nc.weight[0] = weights[i]
                netcons.append(nc)
rss_after = rss_mb()
peak = peak_mb()

result = {
    **phases,
    "rss_before_synapses_mb": rss_before,
    "rss_after_synapses_mb": rss_after,
    "peak_rss_build_mb": peak,
    "edges": len(synapses),
    **model_fingerprint(h),
}
start = time.perf_counter()
pc.set_maxstep(4)
h.stdinit()
pc.psolve(tstop)
result["run"] = time.perf_counter() - start
print("RESULT " + json.dumps(result))
