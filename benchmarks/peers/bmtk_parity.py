#!/usr/bin/env python
"""Issue 17 (bmtk parity) checks against real bmtk 1.2.0 bionet, on the peer harness.

Runners from drivers.py and bmtk_driver.py, comparisons from comparison.py (outputs) and
model_comparison.py.

Usage (repository root, project venv; bmtk venv in $BMTK_VENV):

  .venv/bin/python benchmarks/peers/bmtk_parity.py [SCENARIO ...] [--work DIR]

Scenarios: gap_junctions (bmtk `is_gap_junction` edge types mixed into the recurrent
population, preselected sections, 8 cells), gap_junctions_mpi2 (the same on 2 ranks for
both simulators), ecp (see ecp_check.py). Each compares spikes and the soma-v membrane report
of every cortex cell with compare_bmtk's comparisons (same tolerances, shifts explained
in README_bmtk.md D2). bmtk needs a `Gap` point process its wheel does not ship: ours,
benchmarks/peers/bmtk_mod/bmtk_gap.mod (written from i = g (v - vgap)), is compiled with
our mod/ into `<work>/mech_parity`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[2]))

import comparison  # noqa: E402
import drivers  # noqa: E402

DRIVER = HERE.parent / "bmtk_driver.py"
DEFAULT_WORK = Path(os.environ.get("BMTK_PEER_WORK", "/tmp/bmtk_peer"))

SCENARIOS = {
    "gap_junctions": "8 cells, lgn 20 Hz, IClamp on exc, bmtk gap junctions 0.01 uS (mixed population)",
    "gap_junctions_mpi2": "as gap_junctions, both simulators on 2 MPI ranks",
    "ecp": "8 cells, ecp report (6 electrodes, minimum_distance auto, contributions_dir)",
    "ecp_mindist": "as ecp, minimum_distance 5 um",
    "ecp_mpi2": "as ecp, both simulators on 2 MPI ranks",
    "iclamp_nwb": "8 cells, IClamp input_type nwb (an Allen-style sweep at 10 kHz, delay 20 ms)",
    "iclamp_csv": "8 cells, IClamp input_type csv (steps of 5 ms from t = 0)",
    "iclamp_csv_onset": "8 cells, IClamp input_type csv from 15 ms, 20 ms steps (bmtk pads on the 5 ms gcd grid)",
    "nwb_spikes": "8 cells, lgn spikes from an nwb file in bmtk's /processing layout",
}
ELECTRODES = [(0, 0, 0), (40, 80, 20), (-30, 200, 60), (10, -150, -40), (60, 20, 50), (0, 300, 0)]


def mechanisms(work: Path) -> Path:
    mech = work / "mech_parity"
    if not (mech / "x86_64").exists():
        mech.mkdir(parents=True, exist_ok=True)
        for mod in [
            *(drivers.REPO / "mod").glob("*.mod"),
            *(HERE.parent / "bmtk_mod").glob("*.mod"),
        ]:
            shutil.copy(mod, mech / mod.name)
        nrnivmodl = str(drivers.BMTK_VENV / "bin" / "nrnivmodl")
        subprocess.run([nrnivmodl, "."], cwd=mech, check=True, capture_output=True)
    return mech


def scenario_circuit(name: str, root: Path):
    from engine.generate.allen import generate_allen_network

    iclamp = {"amp": 0.3, "delay": 20.0, "duration": 100.0}
    gaps = 0.01 if name.startswith("gap") else None
    c = generate_allen_network(
        root, n_exc=6, n_inh=2, n_lgn=5, lgn_rate_hz=20.0, tstop=200.0, seed=5,
        iclamp=iclamp, gap_junctions=gaps,
    )  # fmt: skip
    sets = json.loads((root / "node_sets.json").read_text())
    sets["all_cortex"] = {"population": "cortex"}
    (root / "node_sets.json").write_text(json.dumps(sets))
    sim = json.loads(c.simulation_config.read_text())
    sim["reports"]["membrane_potential"]["cells"] = "all_cortex"
    if name == "iclamp_nwb":
        import h5py
        import numpy as np

        samples = np.concatenate([np.zeros(300), np.linspace(0, 0.4, 600), np.full(600, 0.2)])
        with h5py.File(root / "sweep.nwb", "w") as f:
            group = f.create_group("epochs/Sweep_3/stimulus/timeseries")
            group["data"] = np.concatenate([samples, np.zeros(500)]) * 1e-9
            group.create_dataset("starting_time", data=0.0).attrs["rate"] = 10000.0
        sim["inputs"]["current_clamp"] = {
            "input_type": "nwb", "module": "IClamp", "node_set": "exc",
            "file": "$BASE_DIR/sweep.nwb", "sweep_id": 3, "delay": 20.0,
        }  # fmt: skip
    if name.startswith("iclamp_csv"):
        onset, step = (15.0, 2.0) if name.endswith("onset") else (0.0, 0.5)
        amps = [0.0, 0.1, 0.25, 0.4, 0.3, 0.3, 0.15, 0.35, 0.2, 0.0]
        rows = [f"{onset + step * 10 * k} {a}" for k, a in enumerate(amps)]
        (root / "clamp.csv").write_text("timestamps amps\n" + "\n".join(rows) + "\n")
        sim["inputs"]["current_clamp"] = {
            "input_type": "csv", "module": "IClamp", "node_set": "exc",
            "file": "$BASE_DIR/clamp.csv",
        }  # fmt: skip
    if name == "nwb_spikes":
        import h5py
        import numpy as np

        ids, times = c.lgn_spikes
        with h5py.File(root / "lgn.nwb", "w") as f:
            for node in range(c.populations["lgn"]):
                f[f"processing/trial_0/spike_train/{node}/data"] = times[ids == node]
        sim["inputs"]["lgn_spikes"] = {
            "input_type": "spikes", "module": "nwb", "node_set": "lgn",
            "input_file": "$BASE_DIR/lgn.nwb", "trial": "trial_0",
        }  # fmt: skip
    if name.startswith("ecp"):
        lines = ["x_pos y_pos z_pos channel"]
        lines += [f"{x} {y} {z} {i}" for i, (x, y, z) in enumerate(ELECTRODES)]
        (root / "electrodes.csv").write_text("\n".join(lines) + "\n")
        sim["reports"]["ecp"] = {
            "cells": "all_cortex", "variable_name": "v", "module": "extracellular",
            "electrode_positions": "$BASE_DIR/electrodes.csv", "file_name": "ecp.h5",
            "minimum_distance": 5.0 if name == "ecp_mindist" else "auto",
            "contributions_dir": "ecp_contributions",
        }  # fmt: skip
    c.simulation_config.write_text(json.dumps(sim, indent=1))
    return c


def run_scenario(name: str, work: Path) -> dict:
    base = work / name
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    circuit = scenario_circuit(name, base / "net")
    drivers.add_node_ids(circuit)
    mpi = name.endswith("mpi2")
    ranks = [str(drivers.MPIEXEC), "-n", "2"] if mpi else []
    bmtk_out, ours_out = base / "bmtk", base / "sonatasim"
    bmtk_out.mkdir()
    ours_out.mkdir()
    config = drivers._bmtk_config(circuit, bmtk_out)
    mech = mechanisms(work)
    bmtk_py = str(drivers.BMTK_VENV / "bin" / "python")
    drivers._run(
        [*ranks, bmtk_py, str(DRIVER), "bmtk-run", str(config), str(mech), str(base / "bmtk_state.json")],
        base / "bmtk.log", drivers._env(mpi),
    )  # fmt: skip
    ours_py = str(drivers.SS_VENV / "bin" / "python")
    drivers._run(
        [*ranks, ours_py, str(DRIVER), "sonatasim-run", str(circuit.simulation_config), str(ours_out), str(base / "ours_state.json")],
        base / "sonatasim.log", drivers._env(mpi),
    )  # fmt: skip
    result = {"scenario": name, "description": SCENARIOS[name]}
    result["spikes"] = comparison.compare_spikes(bmtk_out / "spikes.h5", ours_out / "spikes.h5")
    result["report"] = comparison.compare_reports(
        bmtk_out / "membrane_potential.h5", ours_out / "membrane_potential.h5"
    )
    if name.startswith("ecp"):
        result["ecp"] = compare_ecp(bmtk_out, ours_out)
    return result


def compare_ecp(bmtk_out: Path, ours_out: Path) -> dict:
    """Our row k + 1 against bmtk's row k (bmtk samples after each step), and per cell."""
    import h5py
    import numpy as np

    def rows(path: Path) -> np.ndarray:
        with h5py.File(path, "r") as f:
            return f["/ecp/data"][()]

    theirs, ours = rows(bmtk_out / "ecp.h5"), rows(ours_out / "ecp.h5")
    scale = float(np.abs(theirs).max())
    out = {"shape_bmtk": list(theirs.shape), "shape_ours": list(ours.shape), "max_abs_mV": scale}
    diff = np.abs(ours[1:] - theirs[:-1])
    out["max_abs_diff_shift1"] = float(diff.max())
    out["max_rel_diff_shift1"] = float(diff.max() / scale)
    out["max_abs_diff_shift0"] = float(np.abs(ours - theirs).max())
    worst = 0.0
    for path in sorted((bmtk_out / "ecp_contributions").glob("*.h5")):
        mine = rows(ours_out / "ecp_contributions" / path.name)
        worst = max(worst, float(np.abs(mine[1:] - rows(path)[:-1]).max()))
    out["contributions_max_abs_diff_shift1"] = worst
    return out


def headline(r: dict) -> str:
    s, rep = r["spikes"], r["report"]
    verdict = "IDENTICAL" if s["identical"] else "DIFFER"
    if s.get("identical_up_to_bmtk_text_roundtrip"):
        verdict = f"IDENTICAL up to bmtk's csv round trip (<= {s['max_ulps']:.0f} ulp)"
    text = f"spikes {verdict} ({s['bmtk_spikes']} bmtk / {s['ours_spikes']} ours)"
    if "best_shift" in rep:
        best = rep[f"shift_{rep['best_shift']}"]["max_abs"]
        text += f"; v best shift {rep['best_shift']} max|dv| {best:.3g}"
    if "ecp" in r:
        e = r["ecp"]
        text += (
            f"; ecp {e['shape_ours']} max {e['max_abs_mV']:.3g} mV, shift 1 max|d| "
            f"{e['max_abs_diff_shift1']:.3g} (rel {e['max_rel_diff_shift1']:.2g}), per cell "
            f"{e['contributions_max_abs_diff_shift1']:.3g}"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = parser.parse_args()
    work = args.work.resolve()
    names = args.scenarios or list(SCENARIOS)
    out = work / "parity_results.json"
    drivers.run_scenarios(names, lambda n: run_scenario(n, work), headline, out, width=20)


if __name__ == "__main__":
    main()
