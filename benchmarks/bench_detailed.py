"""Detailed-cell benchmark: what sharing linear synapses saves, and what BBP synapses cost.

Usage: python benchmarks/bench_detailed.py [--exc 400] [--inh 100] [--virtual 200]
           [--p-connect 0.1] [--tstop 200] [--workdir DIR] [--repeat 3]

1. Generates the E/I network of HH ball-and-stick cells (`generate_ei_network`; half the
   synapses at soma(0.5), the rest anywhere on an 11-segment dendrite), cached in WORKDIR,
   plus a copy whose edges also carry BBP attributes (u_syn, depression_time,
   facilitation_time, n_rrp_vesicles), so they become SonataProbAMPANMDA/GABAAB synapses.
2. Builds and runs each case in a fresh process (`--child`) through the engine's API:
   SonataExp2Syn with sharing (the default), without sharing, and the BBP synapses.
   Each child reports point processes, the synapse phase time, build time, run time,
   resident memory after build and the spikes.
3. Prints the cases side by side (best of --repeat runs), checks that sharing did not change
   the spikes (the same (gid, time) pairs up to 1e-9 ms; exit 1 otherwise) and writes
   WORKDIR/results-detailed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CASES = {"shared": ("ei", True), "unshared": ("ei", False), "bbp": ("ei_bbp", True)}
ROWS = ("point_processes", "synapses_s", "build_s", "run_s", "rss_after_build_mb", "spikes")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exc", type=int, default=400)
    p.add_argument("--inh", type=int, default=100)
    p.add_argument("--virtual", type=int, default=200)
    p.add_argument("--p-connect", type=float, default=0.1)
    p.add_argument("--tstop", type=float, default=200.0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench-detailed"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", nargs=2, metavar=("CONFIG", "SHARE"), help=argparse.SUPPRESS)
    return p.parse_args()


def _rss_mb() -> float:
    """Current resident memory of this process (not the peak)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(config: str, share: bool) -> None:
    """One build + run in this process; prints a JSON line."""
    from engine import simulator
    from engine.config import load_setup
    from engine.managers.synapses.edges import EdgeManager
    from engine.simulation import RunOptions, Simulation

    EdgeManager.share_linear_synapses = share
    setup = load_setup(config)
    sim = simulator.start(use_mpi=False)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    start = time.perf_counter()
    simulation.build()
    build = time.perf_counter() - start
    rss = _rss_mb()
    start = time.perf_counter()
    simulation.run()
    run = time.perf_counter() - start
    gids, times = simulation.spikes.gather()
    order = np.lexsort((gids, times))
    result = {
        "point_processes": sum(m.point_processes for m in simulation.circuit.edge_managers),
        "edges": sum(m.synapse_count for m in simulation.circuit.edge_managers),
        "synapses_s": simulation.timer.phases.get("synapses", 0.0),
        "build_s": build,
        "run_s": run,
        "rss_after_build_mb": rss,
        "spikes": int(gids.size),
        "spike_pairs": [[int(gids[i]), float(times[i])] for i in order],
    }
    print("RESULT " + json.dumps(result))


def add_bbp_attributes(edges_file: Path, seed: int = 0) -> None:
    """Give every edge population TM attributes, so the engine makes BBP synapses."""
    rng = np.random.default_rng(seed)
    with h5py.File(edges_file, "r+") as f:
        for pop in f["edges"].values():
            group = pop["0"]
            n = group["conductance"].shape[0]
            values = {
                "u_syn": rng.uniform(0.3, 0.7, n),
                "depression_time": rng.uniform(100.0, 600.0, n),
                "facilitation_time": rng.uniform(5.0, 50.0, n),
                "n_rrp_vesicles": rng.integers(1, 4, n).astype(np.int64),
            }
            for name, data in values.items():
                if name in group:
                    del group[name]
                group.create_dataset(name, data=data)


def prepare(args: argparse.Namespace) -> dict[str, Path]:
    from engine.generate.networks import generate_ei_network

    configs = {}
    for name in ("ei", "ei_bbp"):
        root = args.workdir / name
        circuit = generate_ei_network(
            root, args.exc, args.inh, args.virtual, p_connect=args.p_connect, tstop=args.tstop
        )
        if name == "ei_bbp":
            add_bbp_attributes(root / "edges.h5")
        configs[name] = circuit.simulation_config
    return configs


def run_child(config: Path, share: bool) -> dict:
    env = dict(os.environ, SONATASIM_NO_MPI="1")
    command = [sys.executable, __file__, "--child", str(config), "1" if share else "0"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"benchmark child failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.child[0], args.child[1] == "1")
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    configs = prepare(args)
    runs: dict[str, list[dict]] = {case: [] for case in CASES}
    for _ in range(args.repeat):
        for case, (circuit, share) in CASES.items():
            runs[case].append(run_child(configs[circuit], share))
    best = {
        case: {row: min(r[row] for r in results) for row in ROWS} for case, results in runs.items()
    }
    edges = runs["shared"][0]["edges"]
    print(f"E/I network: {args.exc + args.inh} cells, {edges} edges, tstop {args.tstop} ms")
    print(f"{'':22s}" + "".join(f"{case:>12s}" for case in CASES))
    for row in ROWS:
        print(f"{row:22s}" + "".join(f"{best[case][row]:12.3f}" for case in CASES))
    saved = best["unshared"]["rss_after_build_mb"] - best["shared"]["rss_after_build_mb"]
    print(
        f"sharing: {best['shared']['point_processes']} instead of "
        f"{best['unshared']['point_processes']} point processes, {saved:.1f} MB less,"
        f" synapse phase x{best['unshared']['synapses_s'] / best['shared']['synapses_s']:.2f}"
        " faster"
    )
    shared = np.array(runs["shared"][0]["spike_pairs"]).reshape(-1, 2)
    unshared = np.array(runs["unshared"][0]["spike_pairs"]).reshape(-1, 2)
    same = shared.shape == unshared.shape and np.allclose(shared, unshared, rtol=0, atol=1e-9)
    print("spikes with and without sharing:", "identical" if same else "DIFFERENT")
    for results in runs.values():
        for r in results:
            r.pop("spike_pairs")
    out = args.workdir / "results-detailed.json"
    out.write_text(json.dumps({"args": vars(args) | {"workdir": str(args.workdir)}, "runs": runs}))
    print(f"wrote {out}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
