"""Dry-run memory estimate against the measured peak of real runs (issue 15 item 3).

Usage: python benchmarks/bench_dry_run.py [--workdir DIR] [--ranks 1 2] [--tstop 100]

Circuits (generated into WORKDIR unless present):
* `ei`: the E/I network of bench_detailed.py (400 exc + 100 inh ball-and-stick cells, 200
  virtual inputs, soma report added);
* `detailed`: the detailed circuit of bench_detailed_build.py (200 cells on the real
  morphologies of ../shared/data/morphologies, ~110,000 edges), when those morphologies
  exist.
For each circuit and rank count: `sonatasim dry-run --ranks N` (its last line) and
`sonatasim run` (no mpiexec for 1 rank, `-n N` otherwise; its `peak memory ... per rank
(max)` line). Prints a table and exits 1 when an estimate is more than 25 % off.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_MORPHOLOGIES = REPO.parent / "shared" / "data" / "morphologies"
TOLERANCE = 0.25


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench-dry-run"))
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--tstop", type=float, default=100.0)
    return p.parse_args()


def sonatasim(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "engine", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if done.returncode != 0:
        sys.exit(f"sonatasim {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    return done.stdout + done.stderr


def ei_circuit(root: Path, tstop: float) -> Path:
    from engine.generate.networks import _add_soma_report, generate_ei_network

    config = root / "simulation_config.json"
    if not config.exists():
        circuit = generate_ei_network(root, 400, 100, 200, tstop=tstop)
        _add_soma_report(circuit.simulation_config, node_set="Cortex", dt=0.1)
    return config


def detailed_circuit(root: Path, tstop: float) -> Path | None:
    if not SHARED_MORPHOLOGIES.is_dir():
        return None
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_detailed_build as build

    config = root / "simulation_config.json"
    if not config.exists():
        args = argparse.Namespace(
            cells=200, virtual=1000, virtual_edges=50_000, recurrent_edges=60_000,
            tstop=tstop, seed=0,
        )  # fmt: skip
        build.generate(root, args)
    return config


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(REPO))
    circuits = {"ei": ei_circuit(args.workdir / "ei", args.tstop)}
    detailed = detailed_circuit(args.workdir / "detailed", args.tstop)
    if detailed is not None:
        circuits["detailed"] = detailed
    rows, failed = [], False
    for name, config in circuits.items():
        for ranks in args.ranks:
            dry = sonatasim("dry-run", config, "--ranks", ranks).strip().splitlines()[-1]
            estimate = float(re.fullmatch(r"estimated peak memory per rank: (\d+) MB", dry)[1])
            launch = ["-n", str(ranks)] if ranks > 1 else []
            out = args.workdir / f"out-{name}-{ranks}"
            text = sonatasim("run", config, "--output-dir", out, "--no-progress", *launch)
            measured = float(re.search(r"peak memory\s+(\d+) MB per rank \(max\)", text)[1])
            error = (estimate - measured) / measured
            failed |= abs(error) > TOLERANCE
            rows.append((name, ranks, estimate, measured, error))
            print(
                f"{name:<10} {ranks:>5} {estimate:>10.0f} {measured:>10.0f} {100 * error:>+8.1f}%"
            )
    (args.workdir / "results-dry-run.json").write_text(json.dumps(rows))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
