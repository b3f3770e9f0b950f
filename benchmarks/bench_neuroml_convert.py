"""Converting and loading a ~1000-cell NeuroML point-neuron network: sonatasim (convert,
then run) against the jNeuroML route (pynml -neuron, nrnivmodl, run the generated script).

    .venv/bin/python benchmarks/bench_neuroml_convert.py [--scale 77] [--length 50]

Both routes run the same LEMS file; the script prints the wall time of each step and the
spike counts of both (they should agree; see tests/test_neuroml_point_cells.py for the
spike-time comparison). Needs Java for the jNeuroML route.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.prefix) / "bin"
REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return time.perf_counter() - start, result.stdout + result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=77, help="13 cells per unit (77 -> 1001)")
    parser.add_argument("--length", type=float, default=50.0, help="simulated ms")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from engine.dialects.neuroml.examples import write_network

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        lems = write_network(base / "model", scale=args.scale, length_ms=args.length)
        cells = 13 * args.scale
        t_convert, _ = timed(
            [
                str(BIN / "sonatasim"),
                "convert",
                str(lems),
                "--to",
                "sonata",
                "-o",
                str(base / "sonata"),
            ],
            REPO,
        )
        t_run, out = timed(
            [
                str(BIN / "sonatasim"),
                "run",
                str(base / "sonata/simulation_config.json"),
                "--no-progress",
            ],
            REPO,
        )
        setup = float(re.search(r"setup time\s+([\d.]+) s", out).group(1))
        ours = int(re.search(r"spikes\s+(\d+)", out).group(1))
        print(
            f"cells {cells}; sonatasim: convert {t_convert:.2f} s, run (process) {t_run:.2f} s, setup {setup:.2f} s, spikes {ours}"
        )
        if shutil.which("java") is None:
            print("no java: jNeuroML route skipped")
            return
        ref = base / "jnml"
        shutil.copytree(lems.parent, ref)
        t_export, _ = timed([str(BIN / "pynml"), lems.name, "-neuron", "-nogui"], ref)
        t_compile, _ = timed([str(BIN / "nrnivmodl"), "."], ref)
        t_sim, _ = timed([sys.executable, f"{lems.stem}_nrn.py", "-nogui"], ref)
        theirs = sum(
            1 for line in (ref / "PointNet.spikes").read_text().split("\n") if line.strip()
        )
        print(
            f"jNeuroML: export {t_export:.2f} s, nrnivmodl {t_compile:.2f} s, build+run {t_sim:.2f} s"
            f" (total {t_export + t_compile + t_sim:.2f} s), spikes {theirs}"
        )


if __name__ == "__main__":
    main()
