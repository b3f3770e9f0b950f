"""CPU time of BBP-style cell creation with and without the Import3d parse cache (issue 18.2).

Usage: python benchmarks/import3d_cache_ab.py [--cells 60] [--rounds 2] [MORPHOLOGY ...]

Each measurement is a fresh process that loads the Import3d template of
tests/test_bbp_support.py through the engine's template loader and creates --cells cells
dealt round-robin over the morphologies (default: every .asc/.swc of
../shared/data/morphologies), timing only the constructor calls (time.process_time).
Runs alternate plain / cached (A/B) --rounds times; prints each run and the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

NAME = "SonataBBPPlainCell"


def child(n_cells: int, files: list[Path]) -> None:
    from neuron import h

    from engine.config import NodePopulationInfo
    from engine.managers.cells import templates
    from tests.test_bbp_support import template_text

    folder = Path(tempfile.mkdtemp())
    (folder / f"{NAME}.hoc").write_text(template_text(NAME, needed=False, indexed=True))
    info = NodePopulationInfo(
        name="bench", type="biophysical", nodes_file=folder / "unused.h5",
        biophysical_neuron_models_dir=folder,
    )  # fmt: skip
    templates.load_template(h, info, NAME)
    cells = []
    t0 = time.process_time()
    for k in range(n_cells):
        path = files[k % len(files)]
        cells.append(getattr(h, NAME)(k, str(path.parent), path.name, 0))
    print(f"RESULT {time.process_time() - t0:.3f}")


def measure(n_cells: int, files: list[Path], cached: bool) -> float:
    env = dict(os.environ)
    env.pop("SONATASIM_IMPORT3D_CACHE", None)
    if cached:
        env["SONATASIM_IMPORT3D_CACHE"] = "1"
    command = [sys.executable, __file__, "--child", "--cells", str(n_cells), *map(str, files)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return float(next(x for x in out.splitlines() if x.startswith("RESULT")).split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("morphologies", nargs="*", type=Path)
    parser.add_argument("--cells", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    files = args.morphologies
    if not files:
        from tests.conftest import shared_path

        folder = shared_path("morphologies")
        files = sorted(p for p in Path(folder).iterdir() if p.suffix in (".asc", ".swc"))
    if args.child:
        child(args.cells, files)
        return 0
    names = ", ".join(p.name for p in files)
    print(f"{args.cells} cells over {len(files)} morphologies ({names})")
    for r in range(args.rounds):
        plain = measure(args.cells, files, cached=False)
        cached = measure(args.cells, files, cached=True)
        print(
            f"round {r}: plain {plain:.2f} s CPU, cached {cached:.2f} s CPU,"
            f" {plain / cached:.2f}x; per cell {1e3 * plain / args.cells:.0f} ->"
            f" {1e3 * cached / args.cells:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
