"""Run phase NEURON vs CoreNEURON on detailed cells with stochastic synapses (issue 15).

Usage: python benchmarks/bench_coreneuron.py [--cells 200] [--virtual 1000]
           [--virtual-edges 50000] [--recurrent-edges 60000] [--rate 10] [--tstop 200]
           [--workdir DIR] [--repeat 3] [--cell-permute 0 1] [--chunks 1 4]

1. Generates bench_detailed_build.py's circuit (real morphologies of
   /work/shared/data/morphologies, our DetailedCell template: pas everywhere, HH in soma
   and axon) into WORKDIR/coreneuron, gives every edge BBP attributes (u_syn,
   depression_time, facilitation_time, n_rrp_vesicles: SonataProbAMPANMDA/GABAAB
   synapses, Random123 streams) and replays Poisson spikes (`--rate` Hz) of the virtual
   input population, plus a somatic current step (`--drive` nA) so that the cells fire.
2. Builds and runs it in fresh processes through the engine's API (`Simulation.build`,
   `Simulation.run`), alternating: NEURON, then CoreNEURON for each `--cell-permute`
   (CoreNEURON's node ordering) and each `--chunks` (the run split into that many psolve
   calls: each hands the model to CoreNEURON and back, the cost reports pay).
3. Prints the medians of the run phase (CPU seconds of the process, and wall seconds),
   the speed-up over NEURON (CPU), peak memory, and exits
   1 unless every case gave the same spikes as NEURON (same count and cells, times within
   1e-6 ms). Writes WORKDIR/results-coreneuron.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=200)
    p.add_argument("--virtual", type=int, default=1000)
    p.add_argument("--virtual-edges", type=int, default=50000)
    p.add_argument("--recurrent-edges", type=int, default=60000)
    p.add_argument("--rate", type=float, default=10.0, help="input Poisson rate (Hz)")
    p.add_argument("--drive", type=float, default=1.5, help="somatic step current (nA)")
    p.add_argument("--tstop", type=float, default=200.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench-coreneuron"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cell-permute", type=int, nargs="+", default=[0, 1])
    p.add_argument("--chunks", type=int, nargs="+", default=[1])
    p.add_argument("--child", nargs=4, metavar=("CONFIG", "SIM", "PERMUTE", "CHUNKS"),
                   help=argparse.SUPPRESS)  # fmt: skip
    return p.parse_args()


def prepare(args: argparse.Namespace) -> Path:
    """The detailed circuit with BBP synapses and replayed Poisson input."""
    from bench_detailed import add_bbp_attributes
    from bench_detailed_build import generate

    from engine.generate.base import poisson_spikes
    from engine.io.spike_file import write_spike_file

    root = args.workdir / "coreneuron"
    config = root / "simulation_config.json"
    if config.exists():
        return config
    config = generate(root, args)
    add_bbp_attributes(root / "edges.h5", args.seed)
    ids, times = poisson_spikes(args.virtual, args.rate, args.tstop, np.random.default_rng(1))
    spikes = root / "input_spikes.h5"
    write_spike_file(spikes, {"input": (ids.astype(np.uint64), times)})
    data = json.loads(config.read_text())
    data["inputs"] = {
        "input_spikes": {"module": "synapse_replay", "input_type": "spikes", "delay": 0.0,
                         "duration": args.tstop, "node_set": "Input", "spike_file": str(spikes)},
        "drive": {"module": "linear", "input_type": "current_clamp", "delay": 5.0,
                  "duration": args.tstop, "node_set": "Detailed", "amp_start": args.drive},
    }  # fmt: skip
    data["run"]["tstop"] = args.tstop
    config.write_text(json.dumps(data, indent=1))
    return config


def child(config: str, simulator_name: str, permute: int, chunks: int) -> None:
    """One build + run in this process; prints a RESULT JSON line."""
    from engine import simulator
    from engine.config import load_setup
    from engine.coreneuron import runner as core_runner
    from engine.simulation import RunOptions, Simulation

    setup = load_setup(config)
    sim = simulator.start(use_mpi=False)
    options = RunOptions(progress=False, simulator=simulator_name)
    simulation = Simulation(setup, sim, options)
    simulation.build()
    if simulation.coreneuron:
        original = core_runner.CoreNeuronRunner.__init__

        def with_permute(self, *a, **k):
            original(self, *a, **k)
            self.cell_permute = permute

        core_runner.CoreNeuronRunner.__init__ = with_permute
        if chunks > 1:
            simulation.reports.max_chunk_ms = lambda: setup.run.tstop / chunks
    start, cpu = time.perf_counter(), time.process_time()
    simulation.run()
    run = time.perf_counter() - start
    run_cpu = time.process_time() - cpu
    gids, times = simulation.spikes.gather()
    order = np.lexsort((gids, times))
    result = {
        "run_s": run,
        "run_cpu_s": run_cpu,
        "build_s": sum(v for k, v in simulation.timer.phases.items() if k not in ("run", "init")),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cells": simulation.circuit.local_cell_count,
        "synapses": simulation.circuit.local_synapse_count,
        "gids": gids[order].tolist(),
        "times": times[order].tolist(),
    }
    print("RESULT " + json.dumps(result))


def run_case(config: Path, simulator_name: str, permute: int, chunks: int) -> dict:
    env = dict(os.environ, SONATASIM_NO_MPI="1")
    command = [sys.executable, __file__, "--child", str(config), simulator_name,
               str(permute), str(chunks)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{simulator_name} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len("RESULT ") :])


def same_spikes(a: dict, b: dict) -> bool:
    if a["gids"] != b["gids"]:
        return False
    return bool(np.abs(np.array(a["times"]) - np.array(b["times"])).max(initial=0) <= 1e-6)


def main() -> None:
    args = parse_args()
    if args.child:
        config, name, permute, chunks = args.child
        child(config, name, int(permute), int(chunks))
        return
    config = prepare(args)
    cases = [("NEURON", 0, 1)] + [
        ("CORENEURON", p, c) for p in args.cell_permute for c in args.chunks
    ]
    runs: dict[tuple, list[dict]] = {case: [] for case in cases}
    for _ in range(args.repeat):
        for case in cases:
            runs[case].append(run_case(config, *case))
    reference = runs[cases[0]][0]
    ok = True
    table = []
    # CPU seconds of the run phase: on a loaded machine wall time mostly measures the load
    base = statistics.median(r["run_cpu_s"] for r in runs[cases[0]])
    for case in cases:
        median = statistics.median(r["run_cpu_s"] for r in runs[case])
        same = all(same_spikes(reference, r) for r in runs[case])
        ok &= same
        label = (
            case[0] if case[0] == "NEURON" else f"CoreNEURON permute {case[1]}, {case[2]} psolve"
        )
        table.append({
            "case": label, "run_cpu_s": median,
            "run_wall_s": statistics.median(r["run_s"] for r in runs[case]),
            "speedup": base / median, "peak_mb": max(r["peak_mb"] for r in runs[case]),
            "spikes": len(runs[case][0]["gids"]), "same_spikes": same,
        })  # fmt: skip
    print(f"cells {reference['cells']}, synapses {reference['synapses']}, tstop {args.tstop} ms,"
          f" build {reference['build_s']:.1f} s")  # fmt: skip
    print(f"{'case':<36} {'run CPU (s)':>11} {'wall (s)':>9} {'speed-up':>9} {'peak MB':>8}"
          f" {'spikes':>7} same")  # fmt: skip
    for row in table:
        print(f"{row['case']:<36} {row['run_cpu_s']:11.2f} {row['run_wall_s']:9.2f}"
              f" {row['speedup']:9.2f} {row['peak_mb']:8.0f} {row['spikes']:7d}"
              f" {row['same_spikes']}")  # fmt: skip
    (args.workdir / "results-coreneuron.json").write_text(json.dumps(table, indent=1))
    if not ok:
        sys.exit("CoreNEURON spikes differ from NEURON's")


if __name__ == "__main__":
    main()
