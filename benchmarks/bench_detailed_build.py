"""Detailed-circuit build benchmark (issue 3): engine cell and synapse build against plain NEURON.

Usage: python benchmarks/bench_detailed_build.py [--cells 200] [--virtual 1000]
           [--virtual-edges 50000] [--recurrent-edges 60000] [--tstop 10]
           [--workdir DIR] [--repeat 3]

1. Generates WORKDIR/circuit: `--cells` biophysical nodes (population `detailed`) whose
   morphologies cycle over the real .asc/.swc files of ../shared/data/morphologies (read
   from there: the circuit config's morphologies_dir points at that folder; found through
   tests/conftest.shared_path, the benchmark stops with a message without it), our own
   template `DetailedCell` (engine.generate.templates, sections built by the engine's morphio
   loader), a virtual population `input` and two chemical edge populations with random
   afferent_section_id (any of the target's sections, soma included) and
   afferent_section_pos: input -> detailed and detailed -> detailed (last 20 % of the
   cells inhibitory). Edges carry conductance / decay_time / syn_type_id, so the engine
   makes SonataExp2Syn synapses (decay 2 ms excitatory, 8 ms inhibitory).
2. Builds the circuit in fresh processes, alternating: the engine through its API with
   linear-synapse sharing (the default) and without it (`share_linear_synapses = False`),
   and `plain_detailed_build.py` (one point process per edge). Each process records its
   phase times, resident memory before and after the synapse phase, peak RSS
   (getrusage) and what it built; after the build it runs `--tstop` ms as a sanity check.
3. Prints medians over `--repeat` runs, exits 1 unless the unshared engine and the plain
   script built the same sections, segments, point processes (same places and parameters)
   and NetCons, and writes WORKDIR/results-build.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from tests.conftest import shared_path  # noqa: E402

SHARED_MORPHOLOGIES = shared_path("morphologies")
# (attribute value, file): swc names go without extension (the engine adds .swc)
MORPHOLOGIES = (
    ("C060114A7.asc", "C060114A7.asc"),
    ("C210401C", "C210401C.swc"),
    ("Pvalb_469628681_m", "Pvalb_469628681_m.swc"),
    ("C210401C.asc", "C210401C.asc"),
    ("Rorb_325404214_m", "Rorb_325404214_m.swc"),
    ("Scnn1a_473845048_m", "Scnn1a_473845048_m.swc"),
)
TEMPLATE = "DetailedCell"
CASES = ("engine_shared", "engine_unshared", "plain")
INH_FRACTION = 0.2
G_INPUT, G_EXC, G_INH = 0.7, 0.5, 2.0  # nS
DECAY_EXC, DECAY_INH = 2.0, 8.0  # ms


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=200)
    p.add_argument("--virtual", type=int, default=1000)
    p.add_argument("--virtual-edges", type=int, default=50_000)
    p.add_argument("--recurrent-edges", type=int, default=60_000)
    p.add_argument("--tstop", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench-detailed"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", nargs=2, metavar=("CONFIG", "SHARE"), help=argparse.SUPPRESS)
    return p.parse_args()


def generate(root: Path, args: argparse.Namespace) -> Path:
    """Write the circuit under `root`; returns the simulation config."""
    import morphio

    from engine.generate import base as gb
    from engine.generate.templates import write_template
    from engine.io.sonata_writer import write_node_sets, write_nodes

    morphio.set_maximum_warnings(0)
    rng = np.random.default_rng(args.seed)
    circuit = gb.new_circuit(root)
    circuit.spike_file = None  # no replay: virtual edges get their synapses, no NetCons
    n, nv = args.cells, args.virtual
    circuit.populations = {"detailed": n, "input": nv}
    write_template(circuit.root / gb.TEMPLATE_DIR / f"{TEMPLATE}.hoc", TEMPLATE)
    # section ids per morphology: morphio's sections plus the soma (id 0)
    n_sections = np.array(
        [
            len(morphio.Morphology(str(SHARED_MORPHOLOGIES / f)).sections) + 1
            for _, f in MORPHOLOGIES
        ]
    )
    kind = np.arange(n) % len(MORPHOLOGIES)
    attrs = gb.biophysical_nodes(n, TEMPLATE, rng)
    attrs["morphology"] = np.array([MORPHOLOGIES[k][0] for k in kind], dtype=object)
    n_inh = int(round(n * INH_FRACTION))
    attrs["mtype"] = np.array(["EXC"] * (n - n_inh) + ["INH"] * n_inh, dtype=object)
    write_nodes(circuit.root / gb.NODES_FILE, "detailed", attrs)
    write_nodes(circuit.root / gb.NODES_FILE, "input", gb.virtual_nodes(nv))

    def locations(tgt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        section = (rng.random(tgt.size) * n_sections[kind[tgt]]).astype(np.int64)
        return section, rng.uniform(0.0, 1.0, tgt.size)

    ne = args.recurrent_edges
    tgt = rng.integers(0, n, ne)
    src = (tgt + rng.integers(1, n, ne)) % n  # no autapses
    inh = src >= n - n_inh
    section, pos = locations(tgt)
    gb.add_edges(
        circuit, "detailed__detailed", "detailed", "detailed", src, tgt,
        gb.synapse_attrs(
            np.where(inh, G_INH, G_EXC), np.round(rng.uniform(1.0, 3.0, ne), 3),
            np.where(inh, DECAY_INH, DECAY_EXC),
            np.where(inh, gb.INH_SYN_TYPE, gb.EXC_SYN_TYPE), section, pos,
        ),
    )  # fmt: skip
    ne = args.virtual_edges
    src, tgt = rng.integers(0, nv, ne), rng.integers(0, n, ne)
    section, pos = locations(tgt)
    gb.add_edges(
        circuit, "input__detailed", "input", "detailed", src, tgt,
        gb.synapse_attrs(
            np.full(ne, G_INPUT), np.round(rng.uniform(1.0, 3.0, ne), 3),
            np.full(ne, DECAY_EXC), np.full(ne, gb.EXC_SYN_TYPE), section, pos,
        ),
    )  # fmt: skip
    write_node_sets(
        circuit.node_sets_file,
        {"Detailed": {"population": "detailed"}, "Input": {"population": "input"}},
    )
    components = {
        "morphologies_dir": str(SHARED_MORPHOLOGIES),
        "biophysical_neuron_models_dir": str(circuit.root / gb.TEMPLATE_DIR),
    }
    gb.write_configs(
        circuit, {"detailed": "biophysical", "input": "virtual"},
        {"detailed__detailed": "chemical", "input__detailed": "chemical"}, components,
        tstop=args.tstop, dt=0.025, replay_node_set="Input", seed=args.seed,
    )  # fmt: skip
    return circuit.simulation_config


def rss_mb() -> float:
    """Current resident memory of this process (not the peak)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def model_fingerprint(h) -> dict:
    """What NEURON holds after the build: sections, segments, synapses (places, params)."""
    sections = list(h.allsec())
    syns = list(h.List("SonataExp2Syn"))
    areas = np.array([s.get_segment().area() for s in syns])
    xs = np.array([s.get_segment().x for s in syns])
    return {
        "sections": len(sections),
        "segments": int(sum(s.nseg for s in sections)),
        "point_processes": len(syns),
        "netcons": int(len(h.List("NetCon"))),
        "sum_syn_area": float(areas.sum()),
        "sum_syn_x": float(xs.sum()),
        "sum_tau_d": float(sum(s.tau_d for s in syns)),
        "sum_e": float(sum(s.e for s in syns)),
    }


def child(config: str, share: bool) -> None:
    """Engine build (and a short run) in this process; prints a RESULT JSON line."""
    import time

    from engine import simulator
    from engine.config import load_setup
    from engine.managers.circuit import CircuitManager
    from engine.managers.synapses.edges import EdgeManager
    from engine.simulation import RunOptions, Simulation

    EdgeManager.share_linear_synapses = share
    marks: dict[str, float] = {}
    create_edges = CircuitManager.create_edges

    def measured_create_edges(self) -> None:
        marks["rss_before_synapses_mb"] = rss_mb()
        create_edges(self)
        marks["rss_after_synapses_mb"] = rss_mb()

    CircuitManager.create_edges = measured_create_edges
    setup = load_setup(config)
    sim = simulator.start(use_mpi=False)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    peak = peak_mb()
    managers = simulation.circuit.edge_managers
    result = {
        **{k: float(v) for k, v in simulation.timer.phases.items()},
        **marks,
        "peak_rss_build_mb": peak,
        "edges": sum(m.synapse_count for m in managers),
        **model_fingerprint(sim.h),
        "engine_point_processes": sum(m.point_processes for m in managers),
    }
    start = time.perf_counter()
    simulation.run()
    result["run"] = time.perf_counter() - start
    print("RESULT " + json.dumps(result))


def run_case(case: str, config: Path) -> dict:
    env = dict(os.environ, SONATASIM_NO_MPI="1")
    if case == "plain":
        command = [sys.executable, str(HERE / "plain_detailed_build.py"), str(config.parent)]
    else:
        share = "1" if case == "engine_shared" else "0"
        command = [sys.executable, __file__, "--child", str(config), share]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{case} failed:\n{done.stdout}\n{done.stderr}")
    r = json.loads(lines[-1][len("RESULT ") :])
    r["build"] = r["cells"] + r["synapses"]
    r["synapse_delta_mb"] = r["rss_after_synapses_mb"] - r["rss_before_synapses_mb"]
    r["kb_per_synapse"] = r["synapse_delta_mb"] * 1024 / r["edges"]
    return r


ROWS = (
    ("mechanisms", "mechanisms (s)", 2),
    ("cells", "cells (s)", 2),
    ("synapses", "synapses (s)", 2),
    ("build", "cells + synapses (s)", 2),
    ("run", "run, sanity (s)", 2),
    ("rss_before_synapses_mb", "RSS before synapses (MB)", 1),
    ("rss_after_synapses_mb", "RSS after synapses (MB)", 1),
    ("synapse_delta_mb", "synapse phase delta (MB)", 1),
    ("kb_per_synapse", "per synapse (kB)", 3),
    ("peak_rss_build_mb", "peak RSS after build (MB)", 1),
    ("edges", "edges", 0),
    ("point_processes", "point processes", 0),
    ("netcons", "NetCons (incl. spike detectors)", 0),
    ("sections", "sections", 0),
    ("segments", "segments", 0),
)
RATIO_ROWS = {"cells", "synapses", "build", "peak_rss_build_mb", "synapse_delta_mb"}
SAME = ("sections", "segments", "point_processes", "netcons", "edges")
CLOSE = ("sum_syn_area", "sum_syn_x", "sum_tau_d", "sum_e")


def main() -> None:
    args = parse_args()
    if SHARED_MORPHOLOGIES is None:
        sys.exit("bench_detailed_build.py needs the real morphologies of ../shared/data")
    if args.child:
        child(args.child[0], args.child[1] == "1")
        return
    root = args.workdir / "circuit"
    config = generate(root, args)
    runs: dict[str, list[dict]] = {case: [] for case in CASES}
    for i in range(args.repeat):
        for case in CASES if i % 2 == 0 else CASES[::-1]:
            runs[case].append(run_case(case, config))
            print(f"run {i + 1} {case}: build {runs[case][-1]['build']:.2f} s", flush=True)
    med = {
        c: {k: statistics.median(r[k] for r in rs) for k, _, _ in ROWS} for c, rs in runs.items()
    }
    print(
        f"\n{args.cells} cells, {args.virtual} virtual, {med['plain']['edges']:.0f} edges;"
        f" medians of {args.repeat} runs"
    )
    header = f"{'':34s}" + "".join(f"{c:>16s}" for c in CASES)
    print(header + f"{'shared/plain':>14s}{'unshared/plain':>16s}")
    for key, label, digits in ROWS:
        line = f"{label:34s}" + "".join(f"{med[c][key]:16,.{digits}f}" for c in CASES)
        if key in RATIO_ROWS:
            for c in CASES[:2]:
                line += f"{med[c][key] / med['plain'][key]:15.2f}"
        print(line)
    pairs = [
        u["build"] / p["build"] for u, p in zip(runs["engine_unshared"], runs["plain"], strict=True)
    ]
    print(
        f"median run-pair (cells + synapses) ratio unshared/plain: {statistics.median(pairs):.2f}"
    )
    unshared, plain = runs["engine_unshared"][0], runs["plain"][0]
    same = all(unshared[k] == plain[k] for k in SAME) and all(
        np.isclose(unshared[k], plain[k], rtol=1e-9, atol=1e-9) for k in CLOSE
    )
    print("unshared engine and plain script built the same model:", "yes" if same else "NO")
    out = args.workdir / "results-build.json"
    out.write_text(json.dumps({"args": vars(args) | {"workdir": str(args.workdir)}, "runs": runs}))
    print(f"wrote {out}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
