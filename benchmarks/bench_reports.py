"""Compartment-report benchmark (issue 6): run-phase overhead of recording every compartment.

Usage: python benchmarks/bench_reports.py [--exc 160] [--inh 40] [--virtual 100]
           [--tstop 1000] [--report-dt 0.1] [--repeat 3] [--workdir DIR] [--profile]
           [--config SIMULATION_CONFIG --node-set NAME]

1. Generates the E/I network of HH ball-and-stick cells (`generate_ei_network`, seed 1,
   dt 0.025 ms) in WORKDIR/circuit and writes two simulation configs next to its own: one
   without reports, one with a compartment report of `v` in all sections and compartments
   of every cortical cell (node set `Cortex`), dt `--report-dt`, 0 to tstop.
2. Runs `python -m engine run CONFIG --no-progress` for both, alternating, `--repeat`
   times each, and parses the printed summary (run time, write time, peak memory, spikes
   and the report line); the process wall time is measured around the subprocess.
3. Prints the medians, the report's overhead on run + write time (median of each side and
   median of the run pairs), the bytes written per second of simulation wall time and per
   second of writing, checks that both sides give the same spikes file content (exit 1
   otherwise) and that the report holds frames x elements values; writes
   WORKDIR/results-reports.json.

`--profile` then runs the report config once more in this process with cProfile around the
run phase and prints where the time goes (the sampler is engine/managers/reports/recorder.py;
with the default native sampler the frames are taken in mod/sonatasim_report_sampler.mod,
`SONATASIM_REPORT_SAMPLER=python` profiles the Python one).
`--config` uses an existing circuit instead (e.g. bench_detailed_build.py's, node set
`Detailed`); the two configs are written next to it, with `--tstop` as tstop.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parent.parent
CASES = ("no_report", "report")
REPORT = "all_v"
SUMMARY = {
    "setup": r"setup time\s+([\d.]+) s",
    "run": r"run time\s+([\d.]+) s",
    "write": r"write time\s+([\d.]+) s",
    "peak_mb": r"peak memory\s+([\d.]+) MB",
    "spikes": r"spikes\s+(\d+)\n",
}
REPORT_LINE = re.compile(
    r"report \S+\s+\S+ \((\d+) nodes, (\d+) elements, ([\d.]+) MB; written in (\d+) block\(s\)"
    r" of at most (\d+) bytes per rank, ([\d.]+) s(?:; ([\d.]+) s more by the writer thread)?"
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exc", type=int, default=160)
    p.add_argument("--inh", type=int, default=40)
    p.add_argument("--virtual", type=int, default=100)
    p.add_argument("--tstop", type=float, default=1000.0)
    p.add_argument("--report-dt", type=float, default=0.1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-bench-reports"))
    p.add_argument("--profile", action="store_true", help="cProfile one run with the report")
    p.add_argument("--config", type=Path, help="an existing simulation config instead")
    p.add_argument("--node-set", default="Cortex", help="cells of the report")
    return p.parse_args()


def prepare(args: argparse.Namespace) -> dict[str, Path]:
    """The circuit and the two simulation configs (in the circuit folder, so paths hold)."""
    from engine.generate.networks import generate_ei_network

    if args.config is None:
        args.config = generate_ei_network(
            args.workdir / "circuit", args.exc, args.inh, args.virtual, tstop=args.tstop
        ).simulation_config
    root = args.config.resolve().parent
    base = json.loads(args.config.read_text())
    base["run"]["tstop"] = args.tstop
    configs = {}
    for case in CASES:
        config = json.loads(json.dumps(base))
        config["output"]["output_dir"] = f"./output_{case}"
        if case == "report":
            config["reports"] = {
                REPORT: {
                    "type": "compartment",
                    "cells": args.node_set,
                    "variable_name": "v",
                    "sections": "all",
                    "compartments": "all",
                    "dt": args.report_dt,
                    "start_time": 0.0,
                    "end_time": args.tstop,
                }
            }
        path = root / f"simulation_config_{case}.json"
        path.write_text(json.dumps(config, indent=2) + "\n")
        configs[case] = path
    return configs


def run_engine(config: Path) -> dict:
    command = [sys.executable, "-m", "engine", "run", str(config), "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    text = done.stdout + done.stderr
    if done.returncode != 0:
        sys.exit(f"engine run failed:\n{text}")
    result: dict = {"wall": wall}
    for key, pattern in SUMMARY.items():
        found = re.search(pattern, text)
        if found is None:
            sys.exit(f"no '{key}' in the summary:\n{text}")
        result[key] = float(found.group(1))
    result["run_write"] = result["run"] + result["write"]
    found = REPORT_LINE.search(text)
    if found is not None:
        nodes, elements, mb, blocks, block_bytes, seconds, background = found.groups()
        result |= {
            "report_nodes": int(nodes),
            "report_elements": int(elements),
            "report_mb": float(mb),
            "report_blocks": int(blocks),
            "report_block_bytes": int(block_bytes),
            "report_write_s": float(seconds),  # what the run waited for
            "report_background_s": float(background or 0.0),  # the writer thread's own
        }
    return result


def spikes_of(config: Path) -> np.ndarray:
    out = config.parent / f"output_{config.stem.removeprefix('simulation_config_')}"
    with h5py.File(out / "spikes.h5", "r") as f:
        pops = [f["spikes"][name] for name in sorted(f.get("spikes", {}))]
        rows = [np.column_stack([p["node_ids"][...], p["timestamps"][...]]) for p in pops]
        return np.concatenate(rows) if rows else np.zeros((0, 2))


def check_report(path: Path, args: argparse.Namespace, elements: int) -> tuple[bool, str]:
    frames = int(round(args.tstop / args.report_dt))
    with h5py.File(path, "r") as f:
        (population,) = f["report"]  # one population in the report
        data = f["report"][population]["data"]
        ok = data.shape == (frames, elements) and bool(np.isfinite(data[-1]).all())
        return ok, f"{data.shape[0]} frames x {data.shape[1]} elements, {data.dtype}"


def _per_call_us(fn, n: int = 2000) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return 1e6 * (time.perf_counter() - started) / n


def profile(config: Path) -> None:
    """One build + run in this process: cProfile of the run phase, then the sampler's parts.

    The parts are timed apart from the run: `PtrVector.gather` of the report's pointers,
    copying one frame into rows of a fresh `np.zeros` buffer (pages touched for the first
    time, as the sampler's buffer is during the run) and into already touched rows, and
    scheduling one `cvode.event`; `ReportRecorder.write_buffer` is timed during the run.
    """
    import cProfile
    import pstats

    from engine import simulator
    from engine.config import load_setup
    from engine.managers.reports.recorder import ReportRecorder
    from engine.simulation import RunOptions, Simulation

    timed = {"_sample": [0.0, 0], "write_buffer": [0.0, 0]}

    def timing(name: str, method):
        def wrapper(self) -> None:
            started = time.perf_counter()
            method(self)
            timed[name][0] += time.perf_counter() - started
            timed[name][1] += 1

        return wrapper

    ReportRecorder._sample = timing("_sample", ReportRecorder._sample)
    ReportRecorder.write_buffer = timing("write_buffer", ReportRecorder.write_buffer)
    setup = load_setup(config)
    sim = simulator.start(use_mpi=False)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    simulation.run()
    prof.disable()
    run = time.perf_counter() - started
    print(f"\nprofile: run {run:.2f} s under cProfile (the sampler's part is below)")
    for name, (seconds, calls) in timed.items():
        print(f"  ReportRecorder.{name}: {calls} calls, {seconds:.3f} s in the run phase")
    pstats.Stats(prof).sort_stats("tottime").print_stats(6)
    recorder = simulation.reports.recorders[0]
    width = recorder.n_elements
    if recorder.kind == "native":
        # the frames are taken in C (SonataReportSampler); time what Python still calls
        resolve = _per_call_us(recorder._native.resolve, 20)
        print(f"native sampler, {width} elements: resolve() {resolve:.1f} us per call"
              f" (once per init), lost frames {int(recorder._native.lost())}; writer"
              f" thread {recorder.background_seconds:.2f} s writing, the run waited"
              f" {recorder.write_seconds:.2f} s")  # fmt: skip
        return
    frame = np.asarray(recorder._view)
    rows = {
        "fresh": np.zeros((2000, width), np.float32),
        "touched": np.ones((2000, width), np.float32),
    }
    parts = {"gather": _per_call_us(lambda: recorder._pointers.gather(recorder._values))}
    for kind, buffer in rows.items():
        row = iter(range(2000))
        parts[f"copy, {kind} rows"] = _per_call_us(
            lambda b=buffer, r=row: b.__setitem__(next(r), frame)
        )
    cvode = sim.h.cvode
    parts["cvode.event"] = _per_call_us(lambda: cvode.event(1e9, lambda: None))
    frames = recorder.spec.n_frames
    print(f"per frame, {width} elements ({frames} frames):")
    for name, us in parts.items():
        print(f"  {name:22s} {us:7.2f} us  ({us * frames / 1e6:.3f} s per run)")


def main() -> None:
    args = parse_args()
    os.environ["SONATASIM_NO_MPI"] = "1"
    args.workdir.mkdir(parents=True, exist_ok=True)
    configs = prepare(args)
    runs: dict[str, list[dict]] = {case: [] for case in CASES}
    for i in range(args.repeat):
        for case in CASES if i % 2 == 0 else CASES[::-1]:
            runs[case].append(run_engine(configs[case]))
            r = runs[case][-1]
            print(f"run {i + 1} {case}: run {r['run']:.2f} s, write {r['write']:.2f} s", flush=True)
    keys = ("setup", "run", "write", "run_write", "wall", "peak_mb", "spikes")
    med = {c: {k: statistics.median(r[k] for r in runs[c]) for k in keys} for c in CASES}
    rep = runs["report"]
    size = (configs["report"].parent / "output_report" / f"{REPORT}.h5").stat().st_size
    elements = rep[0]["report_elements"]
    print(
        f"\n{rep[0]['report_nodes']} cells, {elements} compartments, report dt"
        f" {args.report_dt} ms, {args.tstop:g} ms; medians of {args.repeat} runs"
    )
    print(f"{'':26s}{'no report':>12s}{'report':>12s}{'ratio':>8s}")
    for key in keys:
        a, b = med["no_report"][key], med["report"][key]
        print(f"{key:26s}{a:12.2f}{b:12.2f}{b / a if a else float('nan'):8.3f}")
    overhead = med["report"]["run_write"] / med["no_report"]["run_write"] - 1
    pairs = [
        r["run_write"] / n["run_write"] - 1 for r, n in zip(rep, runs["no_report"], strict=True)
    ]
    run_only = med["report"]["run"] / med["no_report"]["run"] - 1
    write_s = statistics.median(r["report_write_s"] for r in rep)
    background_s = statistics.median(r["report_background_s"] for r in rep)
    per_sim_s = size / med["report"]["run_write"]
    print(f"report file: {size:,} bytes ({size / 2**20:.1f} MiB)")
    print(f"overhead on run + write: {100 * overhead:.1f} % (median of run pairs"
          f" {100 * statistics.median(pairs):.1f} %); run phase alone {100 * run_only:.1f} %")  # fmt: skip
    print(
        f"bytes per second: {per_sim_s / 1e6:.1f} MB/s of run + write wall time,"
        f" {size / (write_s + background_s) / 1e6:.0f} MB/s of the writes' own time"
        f" ({write_s:.2f} s waited for, {background_s:.2f} s in the writer thread during"
        f" the run, {rep[0]['report_blocks']} block(s), at most"
        f" {rep[0]['report_block_bytes']:,} bytes)"
    )
    ok, shape = check_report(configs["report"].parent / "output_report" / f"{REPORT}.h5", args,
                             elements)  # fmt: skip
    same = np.array_equal(spikes_of(configs["report"]), spikes_of(configs["no_report"]))
    print(f"report content: {shape} ({'as expected' if ok else 'UNEXPECTED'})")
    print("spikes with and without the report:", "identical" if same else "DIFFERENT")
    out = args.workdir / f"results-reports-{args.node_set}.json"
    summary = {"overhead": overhead, "pair_overheads": pairs, "report_bytes": size}
    record = {"args": vars(args), "runs": runs, "summary": summary}
    out.write_text(json.dumps(record, default=str))
    print(f"wrote {out}")
    if args.profile:
        profile(configs["report"])
    if not (ok and same):
        sys.exit(1)


if __name__ == "__main__":
    main()
