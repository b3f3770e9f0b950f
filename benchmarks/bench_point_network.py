"""Issue-2 benchmark: engine setup and run time against a plain-NEURON loop, same circuit.

Usage: python benchmarks/bench_point_network.py [--cells 2000] [--virtual 500]
           [--edges 200000] [--tstop 1000] [--workdir DIR] [--ranks 1] [--repeat 5]

1. Generates an IntFire1 point-neuron circuit with `engine.generate.networks.generate_point_network`
   (a quarter of the edges from the virtual inputs, the rest recurrent), cached in WORKDIR.
2. Runs `sonatasim run CONFIG --no-progress` (`python -m engine`, under the venv's mpiexec
   when --ranks > 1) and parses the summary it prints: phase times, spikes, peak memory.
3. Runs `benchmarks/plain_point_network.py`, which builds the same model with a plain
   NEURON loop and prints its own JSON timings.
4. Prints both side by side, checks that the two spike trains are identical (count and the
   first 100 (node id, time) pairs must match, or the script exits with 1) and writes
   everything to WORKDIR/results-<ranks>rank.json.

Each side is run --repeat times (alternating) and every row shows the best (smallest) value
over the runs, so the setup total need not be the sum of the phase rows; the JSON keeps
every run, and the median setup ratio is printed too (shared machines are noisy).
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
PLAIN = HERE / "plain_point_network.py"
TARGET_RATIO = 1.5
FIRST_N = 100
COUNTS = ("ranks", "cells", "synapses", "spikes")  # integer lines of the engine summary
# (table row, engine phase, plain phase); the engine reads the circuit inside its phases.
ROWS = [
    ("mechanisms", "mechanisms", "mechanisms"),
    ("read circuit", None, "read"),
    ("cells", "cells", "cells"),
    ("recurrent edges", "synapses", "edges"),
    ("virtual inputs", "inputs", "inputs"),
    ("init", "init", "init"),
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=2000)
    p.add_argument("--virtual", type=int, default=500)
    p.add_argument("--edges", type=int, default=200_000, help="total, virtual + recurrent")
    p.add_argument("--tstop", type=float, default=1000.0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench"))
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5, help="runs per side; best value per row")
    return p.parse_args()


def circuit_dir(args: argparse.Namespace) -> Path:
    """Generate the circuit once per parameter set; later calls reuse it."""
    params = {
        "cells": args.cells,
        "virtual": args.virtual,
        "virtual_edges": args.edges // 4,
        "recurrent_edges": args.edges - args.edges // 4,
        "tstop": args.tstop,
    }
    root = args.workdir / f"point-c{args.cells}-v{args.virtual}-e{args.edges}-t{args.tstop:g}"
    marker = root / "benchmark_params.json"
    if marker.is_file() and json.loads(marker.read_text()) == params:
        print(f"circuit: {root} (cached)")
        return root
    from engine.generate.networks import generate_point_network

    start = time.perf_counter()
    generate_point_network(
        root,
        n_cells=args.cells,
        n_virtual=args.virtual,
        n_edges_virtual=params["virtual_edges"],
        n_edges_recurrent=params["recurrent_edges"],
        tstop=args.tstop,
    )
    marker.write_text(json.dumps(params, indent=1) + "\n")
    print(f"circuit: {root} (generated in {time.perf_counter() - start:.1f} s)")
    return root


def launcher(ranks: int) -> list[str]:
    if ranks <= 1:
        return []
    mpiexec = Path(sys.prefix) / "bin" / "mpiexec"
    if not mpiexec.exists():
        sys.exit(f"--ranks {ranks} needs {mpiexec} (the venv's mpich)")
    return [str(mpiexec), "-n", str(ranks)]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    libmpi = Path(sys.prefix) / "lib" / "libmpi.so.12"  # what the engine picks for NEURON
    if libmpi.exists():
        env.setdefault("MPI_LIB_NRN_PATH", str(libmpi))
    return env


def run(command: list[str], cwd: Path) -> tuple[str, float]:
    """Run a command, fail loudly, return (stdout, wall seconds)."""
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed with exit code {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout, wall


def _search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        sys.exit(f"cannot find /{pattern}/ in the engine output:\n{text}")
    return match


def parse_engine_summary(text: str) -> dict:
    """The numbers of the engine's `Summary` block (seconds printed with 2 decimals)."""
    setup = _search(r"^\s+setup time\s+([\d.]+) s \((.*)\)$", text)
    phases = {}
    for item in setup.group(2).split(", "):
        name, value = item.rsplit(" ", 1)
        phases[name] = float(value)
    phases["run"] = float(_search(r"^\s+run time\s+([\d.]+) s", text).group(1))
    memory = _search(r"^\s+peak memory\s+(\d+) MB per rank \(max\), (\d+) MB total", text)
    counts = {k: int(_search(rf"^\s+{k}\s+(\d+)$", text).group(1)) for k in COUNTS}
    return counts | {
        "phases": phases,
        "setup": float(setup.group(1)),
        "peak_memory_mb_max": float(memory.group(1)),
        "peak_memory_mb_total": float(memory.group(2)),
    }


def run_engine(config: Path, out: Path, ranks: int) -> dict:
    command = [*launcher(ranks), sys.executable, "-m", "engine", "run", str(config)]
    stdout, wall = run([*command, "--no-progress", "--output-dir", str(out)], out.parent)
    result = parse_engine_summary(stdout)
    result["process_wall"] = wall
    return result


def run_plain(circuit: Path, spikes_out: Path, ranks: int) -> dict:
    command = [*launcher(ranks), sys.executable, str(PLAIN), str(circuit)]
    command += ["--spikes-out", str(spikes_out)] + (["--mpi"] if ranks > 1 else [])
    stdout, wall = run(command, spikes_out.parent)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["setup"] = sum(v for k, v in result["phases"].items() if k != "run")
    result["process_wall"] = wall
    return result


def best(runs: list[dict]) -> dict:
    """Smallest time of each row over the runs; counts and memory of the fastest setup."""
    out = dict(min(runs, key=lambda r: r["setup"]))
    out["phases"] = {k: min(r["phases"][k] for r in runs) for k in runs[0]["phases"]}
    for key in ("setup", "process_wall"):
        out[key] = min(r[key] for r in runs)
    return out


def compare_spikes(engine_file: Path, plain_file: Path) -> dict:
    """Both trains sorted by (time, node id); identical means bit-for-bit equal times."""
    with h5py.File(engine_file, "r") as f:
        ids = f["spikes/net/node_ids"][...].astype(np.int64)
        times = f["spikes/net/timestamps"][...].astype(np.float64)
    order = np.lexsort((ids, times))
    ids, times = ids[order], times[order]
    plain = np.load(plain_file)
    p_ids, p_times = plain["node_ids"].astype(np.int64), plain["timestamps"]
    n = min(FIRST_N, ids.size, p_ids.size)
    return {
        "engine_spikes": int(ids.size),
        "plain_spikes": int(p_ids.size),
        "counts_equal": bool(ids.size == p_ids.size),
        f"first_{FIRST_N}_equal": bool(
            np.array_equal(ids[:n], p_ids[:n]) and np.array_equal(times[:n], p_times[:n])
        ),
        "all_equal": bool(np.array_equal(ids, p_ids) and np.array_equal(times, p_times)),
        "first_spikes": [[int(i), float(t)] for i, t in zip(ids[:5], times[:5], strict=True)],
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(engine: dict, plain: dict, n_edges: int) -> list[str]:
    lines = [f"{'phase':<22}{'engine [s]':>12}{'plain [s]':>12}{'ratio':>8}"]

    def row(label: str, e: float | None, p: float | None, digits: int = 2) -> None:
        # the engine prints seconds with 2 decimals: no ratio below that resolution
        ratio = e / p if e is not None and p and min(e, p) >= 0.01 else None
        lines.append(f"{label:<22}{_fmt(e, digits):>12}{_fmt(p, digits):>12}{_fmt(ratio):>8}")

    for label, e_phase, p_phase in ROWS:
        row(label, engine["phases"].get(e_phase) if e_phase else None, plain["phases"][p_phase])
    mapped = {e for _, e, _ in ROWS} | {"run", "write"}
    for name in [n for n in engine["phases"] if n not in mapped]:  # phases the engine added
        row(name, engine["phases"][name], None)
    row("setup total", engine["setup"], plain["setup"])
    row("run", engine["phases"]["run"], plain["phases"]["run"])
    row("process wall time", engine["process_wall"], plain["process_wall"])
    lines.append("")
    row("setup per edge [us]", 1e6 * engine["setup"] / n_edges, 1e6 * plain["setup"] / n_edges)
    row("peak memory/rank [MB]", engine["peak_memory_mb_max"], plain["peak_memory_mb_max"], 0)
    lines.append(f"{'spikes':<22}{engine['spikes']:>12}{plain['spikes']:>12}")
    return lines


def engine_revision() -> str:
    """The commit the engine was measured at, "+dirty" with uncommitted engine changes."""

    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *argv], capture_output=True, text=True
        ).stdout

    try:
        dirty = git("status", "--porcelain", "engine", "mod").strip()
        return git("rev-parse", "--short", "HEAD").strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def main() -> None:
    args = parse_args()
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    root = circuit_dir(args)
    from engine.mechanisms import build_mechanisms

    print(f"mechanisms: {build_mechanisms([])}")  # warm the cache: no side pays nrnivmodl
    tag = f"{args.ranks}rank"
    engine_out = args.workdir / f"engine-output-{tag}"
    plain_spikes = args.workdir / f"plain-spikes-{tag}.npz"
    engine_runs, plain_runs = [], []
    for _ in range(max(1, args.repeat)):
        engine_runs.append(run_engine(root / "simulation_config.json", engine_out, args.ranks))
        plain_runs.append(run_plain(root, plain_spikes, args.ranks))
    engine, plain = best(engine_runs), best(plain_runs)
    median_ratio = float(
        np.median([e["setup"] / p["setup"] for e, p in zip(engine_runs, plain_runs, strict=True)])
    )
    spikes = compare_spikes(engine_out / "spikes.h5", plain_spikes)
    ratio = engine["setup"] / plain["setup"]
    n_edges, revision = engine["synapses"], engine_revision()

    print()
    print(
        f"{args.cells} IntFire1 cells, {args.virtual} virtual inputs, {n_edges} edges"
        f" ({args.edges // 4} virtual + {args.edges - args.edges // 4} recurrent),"
        f" {args.tstop:g} ms, {args.ranks} rank(s); best of {len(engine_runs)} run(s) per row;"
        f" engine {revision}"
    )
    print("\n".join(table(engine, plain, n_edges)))
    print()
    verdict = "MET" if ratio <= TARGET_RATIO else "NOT MET"
    print(
        f"setup ratio engine/plain = {ratio:.2f} best-to-best, {median_ratio:.2f} median of"
        f" run pairs (target <= {TARGET_RATIO}): {verdict}"
    )
    first_ok = spikes[f"first_{FIRST_N}_equal"]
    print(
        f"spike trains: counts {spikes['engine_spikes']} vs {spikes['plain_spikes']},"
        f" first {FIRST_N} (id, time) pairs {'identical' if first_ok else 'DIFFER'},"
        f" all spikes {'identical' if spikes['all_equal'] else 'DIFFER'}"
    )

    results = {
        "parameters": vars(args) | {"workdir": str(args.workdir), "circuit": str(root)},
        "engine": engine,
        "plain": plain,
        "engine_runs": engine_runs,
        "plain_runs": plain_runs,
        "engine_revision": revision,
        "setup_ratio": ratio,
        "setup_ratio_median": median_ratio,
        "load_average": os.getloadavg(),
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
        "setup_us_per_edge": {
            "engine": 1e6 * engine["setup"] / n_edges,
            "plain": 1e6 * plain["setup"] / n_edges,
        },
        "spikes": spikes,
    }
    path = args.workdir / f"results-{tag}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {path}")
    if not (spikes["counts_equal"] and first_ok):
        sys.exit("FAILED: the engine and plain NEURON spike trains differ")


if __name__ == "__main__":
    main()
