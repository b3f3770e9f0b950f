"""Cell and synapse creation side by side: neurodamus, sonatasim, plain NEURON (issue 18.4).

    .venv/bin/python benchmarks/peers/bench_cells_neurodamus.py [--cells 200] [--rounds 2]
        [--ranks 1 2] [--nd-venv /work/peers/neurodamus] [--workdir DIR] [--cases ...]

1. Writes one BBP-style circuit (circuit_cells_bench.py): --cells cells dealt over the
   real .asc/.swc morphologies of ../shared/data (two populations, an swc directory and
   an asc one), the peer harness' hoc templates that load their morphology through
   NEURON's Import3d, ProbAMPANMDA_EMS / ProbGABAAB_EMS synapses with BBP attributes
   (--replay-per-cell from a virtual population, replayed, + --recurrent-per-cell).
2. Runs it in fresh processes, alternating the order of the cases every round and rank
   count, each under the project venv's mpiexec at every --ranks:
     neurodamus       neurodamus 4.2.9 in its own venv (nd_timed.py: nd_driver.py with
                      its phases timed by wrapping neurodamus' own methods)
     sonatasim        `sonatasim run --no-morphology-cache` (ss_timed.py: the CLI, the
                      engine's PhaseTimer phases also timed in CPU seconds)
     sonatasim_cache  the same with `--morphology-cache` (the CLI option)
     plain            plain_bbp_build.py: the same templates and synapse point processes
                      built by a direct NEURON script (no random streams, no replay)
   Every process writes CPU and wall seconds per phase and its peak RSS per rank
   (phase_clock.py); the set-up is the whole process up to the end of stdinit.
3. Checks that neurodamus and both sonatasim runs fired the same spikes (bit for bit),
   prints a table per rank count (CPU seconds: the largest rank's, every round) and
   writes WORKDIR/results-cells.json. Exit 1 when spikes differ.
SONATASIM_IMPORT3D_CACHE is removed from the environment of every run but the cached one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from circuit_cells_bench import write_bench_circuit  # noqa: E402
from comparison import compare, nd_results, ss_results  # noqa: E402
from drivers import (  # noqa: E402
    LIBMPI,
    MPIEXEC,
    SS_VENV,
    build_nd_mechanisms,
    run_neurodamus,
    run_sonatasim,
)

CASES = ("neurodamus", "sonatasim", "sonatasim_cache", "plain")
COMPARED = ("neurodamus", "sonatasim", "sonatasim_cache")
# table rows: label, phases summed (per tool), from the per-rank timing files
PHASES = {
    "cells": {"neurodamus": ("cells",), "*": ("cells",)},
    "synapses": {"neurodamus": ("synapses_read", "synapses_make"), "*": ("synapses",)},
    "inputs (replay)": {"*": ("inputs",)},
    "init (stdinit)": {"*": ("init",)},
    "run": {"*": ("run",)},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cells", type=int, default=200)
    p.add_argument("--fibres", type=int, default=200)
    p.add_argument("--replay-per-cell", type=int, default=400)
    p.add_argument("--recurrent-per-cell", type=int, default=225)
    p.add_argument("--tstop", type=float, default=50.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--nd-venv", type=Path, default=Path("/work/peers/neurodamus"))
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench-cells"))
    p.add_argument(
        "--table-only",
        action="store_true",
        help="run nothing: print the tables of the runs already in WORKDIR (r<round>-n<ranks>-<case>)",
    )
    return p.parse_args(argv)


def collected(workdir: Path, ranks: list[int], cases: list[str]) -> dict:
    """The completed runs found in workdir, per rank count and case, in round order."""
    results: dict = {n: {} for n in ranks}
    for n in ranks:
        for case in cases:
            for out in sorted(workdir.glob(f"r*-n{n}-{case}")):
                try:
                    results[n].setdefault(case, []).append(read_timing(out, case))
                except (RuntimeError, ValueError):
                    print(f"{out}: incomplete, left out")
    return results


def read_timing(folder: Path, case: str) -> dict:
    """Per rank: CPU of each table row, set-up CPU/wall, peak RSS; plus the max over ranks."""
    ranks = [json.loads(f.read_text()) for f in sorted(folder.glob("timing_rank*.json"))]
    if not ranks or any("setup_cpu" not in r for r in ranks):
        raise RuntimeError(f"{case}: no complete timing files in {folder}")
    rows = {}
    for label, names in PHASES.items():
        wanted = names.get(case, names["*"])
        per_rank = [sum(r["phases"].get(n, {}).get("cpu", 0.0) for n in wanted) for r in ranks]
        rows[label] = max(per_rank)
    both = [
        sum(r["phases"].get(n, {}).get("cpu", 0.0) for k in ("cells", "synapses")
            for n in PHASES[k].get(case, PHASES[k]["*"]))
        for r in ranks
    ]  # fmt: skip
    rows["cells + synapses"] = max(both)  # a rank's wait may move from one to the other
    rows["set-up (process, to stdinit)"] = max(r["setup_cpu"] for r in ranks)
    rows["set-up wall"] = max(r["setup_wall"] for r in ranks)
    rows["peak RSS per rank after set-up (MB)"] = max(r["setup_peak_rss_mb"] for r in ranks)
    rows["peak RSS per rank, end (MB)"] = max(r["peak_rss_mb"] for r in ranks)
    rows["cells wall"] = max(
        sum(r["phases"].get(n, {}).get("wall", 0.0) for n in PHASES["cells"].get(case, ("cells",)))
        for r in ranks
    )
    return {"rows": rows, "ranks": ranks}


def run_case(case: str, config: Path, ranks: int, out: Path, args, nd_lib: Path | None) -> dict:
    env = {"BENCH_TIMING_DIR": str(out)}
    if case == "neurodamus":
        run_neurodamus(args.nd_venv, config, nd_lib, ranks, out, "nd_timed.py", env)
    elif case.startswith("sonatasim"):
        cache = case == "sonatasim_cache"
        options = ("--morphology-cache",) if cache else ("--no-morphology-cache",)
        run_sonatasim(config, ranks, out=out, options=options, driver="ss_timed.py", env_extra=env)
    else:
        out.mkdir(parents=True, exist_ok=True)
        cmd = [str(SS_VENV / "bin" / "python"), str(HERE / "plain_bbp_build.py"), str(config)]
        full_env = {**os.environ, **env, "MPI_LIB_NRN_PATH": str(LIBMPI)}
        with open(out / "plain.log", "w") as log:
            subprocess.run([str(MPIEXEC), "-n", str(ranks), *cmd], cwd=out, env=full_env,
                           stdout=log, stderr=subprocess.STDOUT, check=True)  # fmt: skip
    return read_timing(out, case)


def spikes_of(case: str, out: Path) -> tuple[dict, dict]:
    return nd_results(out) if case == "neurodamus" else ss_results(out)


def print_table(results: dict, ranks: int, cases: list[str]) -> None:
    cases = [c for c in cases if results.get(c)]
    if not cases:
        return
    print(f"\n{ranks} rank(s): CPU seconds of the busiest rank (every round), RSS MB")
    print(f"{'':38s}" + "".join(f"{c:>22s}" for c in cases))
    labels = list(results[cases[0]][0]["rows"])
    for label in labels:
        cells = []
        for c in cases:
            values = [r["rows"][label] for r in results[c]]
            cells.append(" / ".join(f"{v:.1f}" for v in values))
        print(f"{label:38s}" + "".join(f"{x:>22s}" for x in cells))
    if "neurodamus" in cases:
        for c in cases:
            if c == "neurodamus":
                continue
            ratios = []
            for label in ("cells", "synapses", "cells + synapses", "set-up (process, to stdinit)"):
                nd = statistics.median(r["rows"][label] for r in results["neurodamus"])
                ours = statistics.median(r["rows"][label] for r in results[c])
                ratios.append(f"{label} {nd / ours:.2f}x" if ours else f"{label} -")
            print(f"neurodamus / {c}: " + ", ".join(ratios))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.pop("SONATASIM_IMPORT3D_CACHE", None)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        results = collected(args.workdir, args.ranks, args.cases)
        for ranks in args.ranks:
            print_table(results[ranks], ranks, args.cases)
        return 0
    root = args.workdir / "circuit"
    config = write_bench_circuit(root, args.cells, args.fibres, args.replay_per_cell,
                                 args.recurrent_per_cell, args.tstop)  # fmt: skip
    from engine.mechanisms import build_mechanisms

    build_mechanisms([root / "mechanisms"])  # compiled once here, so no run times it
    nd_lib = None
    if "neurodamus" in args.cases:
        nd_lib = build_nd_mechanisms(args.nd_venv, root / "mechanisms", args.workdir)
    print(f"circuit {root}: {args.cells} cells; uptime: {os.popen('uptime').read().strip()}")
    results: dict = {n: {c: [] for c in args.cases} for n in args.ranks}
    spikes_ok = True
    for r in range(args.rounds):
        for k, ranks in enumerate(args.ranks):
            order = args.cases if (r + k) % 2 == 0 else args.cases[::-1]
            spikes = {}
            for case in order:
                out = args.workdir / f"r{r}-n{ranks}-{case}"
                started = time.perf_counter()
                res = run_case(case, config, ranks, out, args, nd_lib)
                res["elapsed"] = time.perf_counter() - started
                results[ranks][case].append(res)
                row = res["rows"]
                print(f"round {r} {ranks} rank(s) {case:16s} cells {row['cells']:6.1f} s CPU,"
                      f" synapses {row['synapses']:5.1f}, set-up {row['set-up (process, to stdinit)']:6.1f},"
                      f" peak {row['peak RSS per rank after set-up (MB)']:6.0f} MB", flush=True)  # fmt: skip
                if case in COMPARED:
                    spikes[case] = spikes_of(case, out)
            for case in spikes:
                if case == "neurodamus" or "neurodamus" not in spikes:
                    continue
                res = compare(spikes["neurodamus"], spikes[case])["spikes"]
                same = all(e["identical"] for e in res.values()) and bool(res)
                counts = ", ".join(
                    f"{p} {e['neurodamus']}/{e['sonatasim']}" for p, e in res.items()
                )
                print(
                    f"  spikes neurodamus vs {case}: {'identical' if same else 'DIFFER'} ({counts})"
                )
                spikes_ok &= same
    for ranks in args.ranks:
        print_table(results[ranks], ranks, args.cases)
    print(f"uptime at the end: {os.popen('uptime').read().strip()}")
    out = args.workdir / "results-cells.json"
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                               "results": results}, indent=1))  # fmt: skip
    print(f"wrote {out}")
    return 0 if spikes_ok else 1


if __name__ == "__main__":
    sys.exit(main())
