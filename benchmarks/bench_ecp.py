"""bmtk ecp report: CPU time of the run with a product per step against batched products.

Why: the ecp report used to multiply each cell's transfer matrix by its currents in a
Python loop after every step; now a step only gathers the currents (one compiled call)
and the products run once per batch. `SONATASIM_ECP_BATCH_ROWS=1` gives the old cost (a
product per step, per cell). Runs alternate A/B/A/B in fresh processes (the machine is
shared: CPU time of the child, not wall-clock).

    .venv/bin/python benchmarks/bench_ecp.py [--cells 12] [--tstop 200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.generate.allen import generate_allen_network  # noqa: E402


def circuit(root: Path, cells: int, tstop: float, channels: int) -> Path:
    made = generate_allen_network(root, n_exc=cells, n_inh=cells // 4, n_lgn=6, tstop=tstop,
                                  iclamp={"amp": 0.3, "delay": 5.0, "duration": tstop})  # fmt: skip
    lines = ["x_pos y_pos z_pos channel"]
    lines += [f"0 {20.0 * k - 200.0} 0 {k}" for k in range(channels)]
    (root / "electrodes.csv").write_text("\n".join(lines) + "\n")
    sim = json.loads(made.simulation_config.read_text())
    sim["reports"]["ecp"] = {
        "module": "extracellular", "variable_name": "v", "file_name": "ecp.h5",
        "electrode_positions": "$BASE_DIR/electrodes.csv", "minimum_distance": "auto",
    }  # fmt: skip
    made.simulation_config.write_text(json.dumps(sim, indent=1))
    return made.simulation_config


def run(config: Path, out: Path, batch: str | None) -> tuple[float, np.ndarray]:
    env = dict(os.environ)
    env.pop("SONATASIM_ECP_BATCH_ROWS", None)
    if batch:
        env["SONATASIM_ECP_BATCH_ROWS"] = batch
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "engine", "run", str(config), "--output-dir",
                    str(out), "--no-progress"], check=True, env=env, cwd=REPO,
                   capture_output=True)  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with h5py.File(out / "ecp.h5", "r") as f:
        return cpu, f["/ecp/data"][()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=12)
    parser.add_argument("--tstop", type=float, default=200.0)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = circuit(root / "net", args.cells, args.tstop, args.channels)
        times: dict[str, list[float]] = {"per step": [], "batched": []}
        data = {}
        for k in range(args.repeats):
            for label, batch in (("per step", "1"), ("batched", None)):
                cpu, data[label] = run(config, root / f"out{k}{batch}", batch)
                times[label].append(cpu)
        diff = np.abs(data["per step"] - data["batched"]).max()
        scale = np.abs(data["batched"]).max()
        for label, values in times.items():
            print(f"{label:9s} CPU s: {', '.join(f'{v:.2f}' for v in values)}")
        ratio = min(times["per step"]) / min(times["batched"])
        print(f"speed-up (best of each): {ratio:.2f}x; max |difference| {diff:.2e} mV"
              f" (signal max {scale:.2e} mV)")  # fmt: skip


if __name__ == "__main__":
    main()
