"""Issue-4 benchmark: round-robin against whole-cell load balance on a heterogeneous circuit.

Usage: python benchmarks/bench_load_balance.py [--cells 96] [--tstop 1000] [--repeat 3]
           [--load-repeat 2] [--workdir DIR] [--plan-ranks 2 4] [--run-ranks 2]

1. Generates (once per parameter set, in WORKDIR) ball-and-stick cells of 2 to 500
   compartments in two biophysical populations plus a virtual input population
   (`engine.generate.heterogeneous`, also used by tests/test_load_balance.py).
2. `sonatasim balance CONFIG --ranks N` for each N of --plan-ranks: the estimated
   imbalance (max/mean cost per rank) of whole-cell and of round-robin; then the measured
   one: each rank's share of cells simulated alone in one process, CPU seconds of the run
   phase (best of --load-repeat), which other processes on the machine hardly disturb.
3. `sonatasim run -n R --lb-mode M` for both modes (alternating, --repeat times): the run
   phase time (slowest rank) and that both spike files are identical.
4. Prints a Markdown table and writes WORKDIR/results-load-balance.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.generate.heterogeneous import generate_heterogeneous  # noqa: E402

# Runs the cells one rank would own, alone in one process, and prints the CPU seconds of
# the run phase: a rank's real load, measured without MPI waits or other users' processes
# (CPU time only counts while this process runs).
RANK_LOAD_DRIVER = """
import json, sys, time
from pathlib import Path
from engine import simulator
from engine.config import load_setup
from engine.logs import setup_logging
from engine.simulation import RunOptions, Simulation

config, node_sets, name, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
setup = load_setup(config, output_dir=out + ".output")
setup.node_sets_files.append(node_sets)
setup.node_set = name
sim = simulator.start(use_mpi=False)
setup_logging(sim.rank, sim.nranks)
simulation = Simulation(setup, sim, RunOptions(progress=False))
simulation.build()
cpu = time.process_time()
simulation.run()
print(json.dumps({"cpu": time.process_time() - cpu}))
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=96)
    p.add_argument("--tstop", type=float, default=1000.0)
    p.add_argument("--repeat", type=int, default=3, help="runs per mode (alternating)")
    p.add_argument("--load-repeat", type=int, default=2, help="runs per rank share (best)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench-lb"))
    p.add_argument("--plan-ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--run-ranks", type=int, default=2)
    return p.parse_args()


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("MPI_LIB_NRN_PATH", str(Path(sys.prefix) / "lib" / "libmpi.so.12"))
    return env


def execute(command: list[str]) -> str:
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=REPO, env=environment(), capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def sonatasim(*args: str, ranks: int = 1) -> str:
    command = [sys.executable, "-m", "engine", *map(str, args)]
    if ranks > 1:
        command = [str(Path(sys.prefix) / "bin" / "mpiexec"), "-n", str(ranks), *command]
    return execute(command)


def imbalances(text: str) -> tuple[float, float, Path]:
    """(whole-cell, round-robin) imbalance and the plan file, from `sonatasim balance`."""
    own = float(re.search(r"imbalance \(max/mean cost\): ([\d.]+)", text).group(1))
    other = float(re.search(r"round-robin would give imbalance ([\d.]+)", text).group(1))
    plan = Path(re.search(r"^Plan (?:written|reused): (.*)$", text, re.MULTILINE).group(1))
    return own, other, plan


def rank_node_sets(cells: dict[str, np.ndarray], plan: dict, ranks: int) -> dict:
    """Node sets "rank<r>": the cells a plan gives to rank r (a compound over populations)."""
    sets: dict = {}
    for r in range(ranks):
        members = []
        for p in sorted(cells):
            ids = cells[p][plan[p] == r]
            if ids.size:
                sets[f"rank{r}_{p}"] = {"population": p, "node_id": ids.tolist()}
                members.append(f"rank{r}_{p}")
        sets[f"rank{r}"] = members
    return sets


def measured_loads(
    root: Path, workdir: Path, plan_file: Path, ranks: int, repeat: int
) -> dict[str, list]:
    """CPU seconds of each rank's share (best of `repeat`), per mode.

    The whole-cell plan is the one `sonatasim balance` wrote; round-robin is rebuilt.
    """
    from engine.managers import load_balance

    with np.load(plan_file) as data:
        pops = sorted(k[5:] for k in data.files if k.startswith("rank/"))
        whole = {p: data[f"rank/{p}"] for p in pops}
    with h5py.File(root / "nodes.h5", "r") as f:
        cells = {p: np.arange(f[f"nodes/{p}/node_type_id"].shape[0]) for p in pops}
    plans = {"round-robin": load_balance.round_robin(cells, ranks), "whole-cell": whole}
    driver = workdir / "rank_load_driver.py"
    driver.write_text(RANK_LOAD_DRIVER)
    config = str(root / "simulation_config.json")
    loads: dict[str, list] = {}
    for mode, plan in plans.items():
        node_sets = workdir / f"ranks-{mode}-{ranks}.json"
        node_sets.write_text(json.dumps(rank_node_sets(cells, plan, ranks)))
        loads[mode] = [float("inf")] * ranks
        for _ in range(repeat):
            for r in range(ranks):
                out = str(workdir / f"load-{mode}-{ranks}-{r}")
                text = execute(
                    [sys.executable, str(driver), config, str(node_sets), f"rank{r}", out]
                )
                cpu = json.loads(text.strip().splitlines()[-1])["cpu"]
                loads[mode][r] = min(loads[mode][r], cpu)
    return loads


def spikes(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    with h5py.File(path, "r") as f:
        return [
            (p, f[f"spikes/{p}/node_ids"][:], f[f"spikes/{p}/timestamps"][:])
            for p in sorted(f["spikes"])
        ]


def circuit_dir(args: argparse.Namespace) -> Path:
    params = {"cells": args.cells, "tstop": args.tstop, "generator": 1}
    root = args.workdir / f"het-c{args.cells}-t{args.tstop:g}"
    marker = root / "benchmark_params.json"
    if not (marker.is_file() and json.loads(marker.read_text()) == params):
        generate_heterogeneous(root, n_cells=args.cells, tstop=args.tstop)
        marker.write_text(json.dumps(params) + "\n")
    return root


def ratio(values: list[float]) -> float:
    return max(values) / (sum(values) / len(values))


def main() -> None:
    args = parse_args()
    root = circuit_dir(args)
    config = root / "simulation_config.json"
    results: dict = {"cells": args.cells, "tstop": args.tstop, "plans": {}, "runs": {}}
    for ranks in args.plan_ranks:
        out = args.workdir / f"plan-{ranks}"
        wc, rr, plan_file = imbalances(
            sonatasim("balance", config, "--ranks", ranks, "--output-dir", out)
        )
        loads = measured_loads(root, args.workdir, plan_file, ranks, args.load_repeat)
        results["plans"][ranks] = {
            "estimated": {"whole-cell": wc, "round-robin": rr},
            "cpu_seconds": loads,
            "measured": {mode: ratio(v) for mode, v in loads.items()},
        }
    times: dict[str, list[float]] = {"round-robin": [], "whole-cell": []}
    for _ in range(args.repeat):
        for mode in times:
            out = args.workdir / f"run-{mode}"
            text = sonatasim(
                "run", config, "--lb-mode", mode, "--no-progress", "--output-dir", out,
                ranks=args.run_ranks,
            )  # fmt: skip
            times[mode].append(float(re.search(r"run time\s+([\d.]+) s", text).group(1)))
    a, b = (spikes(args.workdir / f"run-{m}" / "spikes.h5") for m in times)
    identical = all(
        pa == pb and np.array_equal(ia, ib) and np.array_equal(ta, tb)
        for (pa, ia, ta), (pb, ib, tb) in zip(a, b, strict=True)
    )
    results["runs"] = {"ranks": args.run_ranks, "run_seconds": times, "identical": identical}
    print("\n| ranks | mode | estimated max/mean | measured max/mean (CPU s per rank) |")
    print("|---|---|---|---|")
    for ranks, plan in results["plans"].items():
        for mode in ("round-robin", "whole-cell"):
            cpu = ", ".join(f"{v:.2f}" for v in plan["cpu_seconds"][mode])
            print(
                f"| {ranks} | {mode} | {plan['estimated'][mode]:.3f} |"
                f" {plan['measured'][mode]:.3f} ({cpu}) |"
            )
    best = {m: min(t) for m, t in times.items()}
    median = {m: float(np.median(t)) for m, t in times.items()}
    print(
        f"\nrun phase on {args.run_ranks} ranks, {args.repeat} runs each: round-robin best"
        f" {best['round-robin']:.2f} s / median {median['round-robin']:.2f} s, whole-cell best"
        f" {best['whole-cell']:.2f} s / median {median['whole-cell']:.2f} s; gain (best)"
        f" x{best['round-robin'] / best['whole-cell']:.2f}; spikes identical: {identical}"
    )
    (args.workdir / "results-load-balance.json").write_text(json.dumps(results, indent=1))
    if not identical:
        sys.exit("spike trains differ between the two modes")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")
