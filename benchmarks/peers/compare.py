#!/usr/bin/env python
"""Any SONATA simulation through a peer tool and through sonatasim, compared in one command.

    .venv/bin/python benchmarks/peers/compare.py --tool neurodamus PATH [--ranks N]
    .venv/bin/python benchmarks/peers/compare.py --tool bmtk PATH [--ranks N]
        [--workdir DIR] [--nd-venv DIR] [--bmtk-venv DIR] [--json FILE]

PATH is a simulation config, or a directory holding one (`simulation_config*.json`; with
several, name one). The circuit is not modified and nothing is written beside it except a
derived config (`.peer-<tool>-<name>`, removed at the end) whose only change is the output
directory: the peer tools resolve the config's relative paths from its own folder.

* neurodamus (OBI dialect): neurodamus' own mods plus the circuit's `mechanisms_dir` are
  compiled without libsonatareport (not on PyPI), so neurodamus writes no SONATA files;
  nd_driver.py takes its spikes from its own spike vectors and the soma voltage of every
  cell. sonatasim runs the same config plus one soma-voltage report. Compared: spikes of
  every population bit for bit; soma voltages of every cell at float32; each report of the
  config that is a soma `v` compartment report, frame by frame against neurodamus' soma
  voltage. Other reports are listed as not comparable (neurodamus cannot write them).
* bmtk (Allen dialect): bmtk bionet runs in its venv with our mod/ compiled there (for
  `VecStim`, see bmtk_driver.py). Compared: spikes of every population; every report both
  tools wrote, per population and node, at float32 (bmtk's frame k is sonatasim's frame
  k + 1: the shift that fits best is reported).

One line per population and per report; exit code 0 only when everything compared is
identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from comparison import compare, compare_report_files, compare_spike_files, nd_results, ss_results  # noqa: E402
from drivers import (  # noqa: E402
    BMTK_VENV,
    MPIEXEC,
    SS_VENV,
    _env,
    _run,
    build_nd_mechanisms,
    run_neurodamus,
    run_sonatasim,
    setup_bmtk,
)

PEER_REPORT = "sonatasim_peer_soma_v"


def find_config(path: Path) -> Path:
    """The simulation config named, or the one simulation_config*.json in a directory."""
    path = path.resolve()
    if path.is_file():
        return path
    found = sorted(path.glob("simulation_config*.json")) if path.is_dir() else []
    if len(found) != 1:
        what = ", ".join(p.name for p in found) or "none"
        raise SystemExit(f"{path}: name one simulation config (found: {what})")
    return found[0]


def derived_config(config: Path, tool: str, change) -> Path:
    """A copy of `config` beside it, changed by `change(dict)`; the caller removes it."""
    data = json.loads(config.read_text())
    change(data)
    path = config.with_name(f".peer-{tool}-{config.name}")
    path.write_text(json.dumps(data, indent=2))
    return path


def _reports(config: Path) -> dict[str, dict]:
    return json.loads(config.read_text()).get("reports", {}) or {}


def _report_file(name: str, block: dict) -> str:
    file_name = block.get("file_name") or name
    return file_name if file_name.endswith(".h5") else f"{file_name}.h5"


def _is_soma_v(block: dict) -> bool:
    return (
        block.get("type", "compartment") == "compartment"
        and block.get("sections", "soma") == "soma"
        and block.get("variable_name", "v") == "v"
    )


def _spike_file(config: Path) -> str:
    return (json.loads(config.read_text()).get("output") or {}).get("spikes_file", "spikes.h5")


def run_with_neurodamus(config: Path, args: argparse.Namespace) -> list[tuple[str, bool]]:
    import libsonata

    work = args.workdir
    sim = libsonata.SimulationConfig.from_file(str(config))
    tstop, dt = sim.run.tstop, sim.run.dt
    circuit = json.loads(libsonata.CircuitConfig.from_file(sim.network).expanded_json)
    mech_dir = (circuit.get("components") or {}).get("mechanisms_dir")
    mech = Path(sim.network).parent / mech_dir if mech_dir else work / "no_mechanisms"
    mech.mkdir(parents=True, exist_ok=True)
    lib = build_nd_mechanisms(args.nd_venv, mech, work)
    cells = sim.node_set or None

    def for_neurodamus(data: dict) -> None:
        data.setdefault("output", {})["output_dir"] = str(work / "out_nd_sonata")

    def for_sonatasim(data: dict) -> None:
        report = {"type": "compartment", "sections": "soma", "variable_name": "v", "dt": dt,
                  "start_time": 0.0, "end_time": tstop}  # fmt: skip
        if cells:
            report["cells"] = cells
        data.setdefault("reports", {})[PEER_REPORT] = report

    nd_config = derived_config(config, "neurodamus", for_neurodamus)
    ss_config = derived_config(config, "sonatasim", for_sonatasim)
    try:
        nd_out, _ = run_neurodamus(args.nd_venv, nd_config, lib, args.ranks, out=work / "out_nd")
        ss_out, _ = run_sonatasim(ss_config, args.ranks, out=work / "out_ss")
    finally:  # neurodamus also leaves `<config>.SUCCESS` beside the config it ran
        for path in (nd_config, ss_config, nd_config.with_name(nd_config.name + ".SUCCESS")):
            path.unlink(missing_ok=True)
    nd = nd_results(nd_out)
    ss = ss_results(ss_out, Path(_spike_file(config)).name, f"{PEER_REPORT}.h5")
    result = compare(nd, ss)
    lines = []
    for pop, entry in result["spikes"].items():
        ok = entry["identical"]
        lines.append((f"spikes {pop}: neurodamus {entry['neurodamus']} / sonatasim "
                      f"{entry['sonatasim']} {'identical' if ok else 'DIFFER'}", ok))  # fmt: skip
    volts = result["voltages"]
    ok = bool(volts) and all(v["identical_f32"] for v in volts.values())
    worst = max((v["max_abs_diff_mV"] for v in volts.values()), default=float("nan"))
    lines.append((f"soma v: {sum(v['identical_f32'] for v in volts.values())}/{len(volts)} "
                  f"cells identical (f32), max |dv| {worst:.3g} mV", ok))  # fmt: skip
    for name, block in _reports(config).items():
        if not _is_soma_v(block):
            lines.append((f"report {name}: not compared (neurodamus from PyPI has no report "
                          "writer; only soma v is recorded from it)", True))  # fmt: skip
            continue
        ours = ss_results(ss_out, Path(_spike_file(config)).name, _report_file(name, block))[1]
        start, step = float(block.get("start_time", 0.0)), float(block.get("dt", dt))
        bad = 0
        for key, trace in ours.items():
            frames = (start + step * np.arange(trace.size)) / dt
            index = frames.round().astype(int)
            reference = nd[1].get(key)
            if reference is None or index[-1] >= reference.size:
                bad += 1
                continue
            bad += int(not (reference[index].astype("float32") == trace.astype("float32")).all())
        lines.append((f"report {name}: {len(ours) - bad}/{len(ours)} cells identical to "
                      "neurodamus' soma v (f32)", bad == 0 and bool(ours)))  # fmt: skip
    (work / "results.json").write_text(json.dumps(result, indent=1, default=str))
    return lines


def run_with_bmtk(config: Path, args: argparse.Namespace) -> list[tuple[str, bool]]:
    work = args.workdir
    if not (work / "mech").exists():
        setup_bmtk(work, args.bmtk_venv)
    bmtk_out, ss_out = work / "out_bmtk", work / "out_ss"
    bmtk_out.mkdir(parents=True, exist_ok=True)

    def for_bmtk(data: dict) -> None:
        manifest = data.setdefault("manifest", {})
        for key, value in list(manifest.items()):  # bmtk's ${configdir}: the original's
            manifest[key] = str(value).replace("${configdir}", str(config.parent))
        manifest["$OUTPUT_DIR"] = str(bmtk_out)
        data.setdefault("output", {})["output_dir"] = str(bmtk_out)

    bmtk_config = derived_config(config, "bmtk", for_bmtk)
    mpi = args.ranks > 1
    ranks = [str(MPIEXEC), "-n", str(args.ranks)] if mpi else []
    driver = str(HERE / "bmtk_driver.py")
    try:
        _run([*ranks, str(args.bmtk_venv / "bin" / "python"), driver, "bmtk-run",
              str(bmtk_config), str(work / "mech"), str(work / "bmtk_state.json")],
             work / "bmtk.log", _env(mpi))  # fmt: skip
    finally:
        bmtk_config.unlink(missing_ok=True)
    run_sonatasim(config, args.ranks, out=ss_out)
    spikes = Path(_spike_file(config)).name
    lines = []
    for pop, entry in compare_spike_files(bmtk_out / spikes, ss_out / spikes).items():
        ok = entry["identical"] or entry.get("identical_up_to_bmtk_text_roundtrip", False)
        lines.append((f"spikes {pop}: bmtk {entry['bmtk_spikes']} / sonatasim "
                      f"{entry['ours_spikes']} {'identical' if ok else 'DIFFER'}", ok))  # fmt: skip
    for name, block in _reports(config).items():
        file_name = _report_file(name, block)
        for pop, entry in compare_report_files(bmtk_out / file_name, ss_out / file_name).items():
            if "missing" in entry:
                lines.append((f"report {name}: missing {', '.join(entry['missing'])}", False))
                continue
            best = entry["best_shift"]
            ok = entry["identical_at_best_shift"]
            lines.append((f"report {name} {pop}: {'identical' if ok else 'DIFFER'} at frame "
                          f"shift {best}, max |d| {entry[f'shift_{best}']['max_abs']:.3g}", ok))  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("path", type=Path, help="simulation config, or a directory holding one")
    p.add_argument("--tool", choices=["neurodamus", "bmtk"], required=True)
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks for both tools")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/sonatasim-peer"))
    p.add_argument("--nd-venv", type=Path, default=Path(os.environ.get("ND_VENV", "/tmp/ndvenv")))
    p.add_argument("--bmtk-venv", type=Path, default=BMTK_VENV)
    args = p.parse_args(argv)
    config = find_config(args.path)
    args.workdir = args.workdir.resolve() / args.tool
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.nd_venv, args.bmtk_venv = args.nd_venv.resolve(), args.bmtk_venv.resolve()
    if not (SS_VENV / "bin" / "sonatasim").exists():
        raise SystemExit(f"no sonatasim in {SS_VENV}: run `make venv` first")
    print(f"{args.tool} vs sonatasim: {config} on {args.ranks} rank(s), outputs in {args.workdir}")
    run = run_with_neurodamus if args.tool == "neurodamus" else run_with_bmtk
    try:
        lines = run(config, args)
    except RuntimeError as exc:
        print(f"ERROR {exc}")
        return 1
    for text, ok in lines:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if lines and all(ok for _, ok in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
