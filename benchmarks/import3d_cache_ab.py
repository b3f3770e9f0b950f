"""CPU time of BBP-style cell creation with and without the Import3d cache (issue 18.2).

Usage: python benchmarks/import3d_cache_ab.py [--cells 60] [--rounds 2] [MORPHOLOGY ...]

Each measurement is a fresh process that loads the Import3d template of
tests/test_bbp_support.py through the engine's template loader and creates --cells cells
dealt round-robin over the morphologies (default: every .asc/.swc of
../shared/data/morphologies), timing only the constructor calls (time.process_time).
Runs alternate plain / parse cache only / parse cache and bulk replay of instantiate
(A/B/C) --rounds times; prints each run and the ratios to plain. "Parse cache only" turns
the replay off in the benchmark's own process (no user option does that). With --phases,
one more replay run times what is left per replayed cell (a file's first cell is built by
NEURON's plain route, its second by NEURON's route while the program is learned): the
replay (and its hoc statements) and the rest of the constructor.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

NAME = "SonataBBPPlainCell"


class _TimedHoc:
    """`h` whose execute() adds its CPU time per statement kind (benchmark only)."""

    def __init__(self, h, spent: dict[str, float]) -> None:
        self._h, self._spent = h, spent

    def __getattr__(self, name: str):
        return getattr(self._h, name)

    def execute(self, statement: str, context) -> float:
        t0 = time.process_time()
        result = self._h.execute(statement, context)
        kind = statement.split()[0]
        self._spent[kind] = self._spent.get(kind, 0.0) + time.process_time() - t0
        return result


def _time_phases(builder, spent: dict[str, float]) -> None:
    """Wrap the builder so `spent` gets the CPU time of the replay, of its section lists
    part (creates, forsec / forall or their appends), of its hoc statements and of the
    readers' adoption of the cached parse."""

    def timed(method, phase: str):
        def wrapper(*args):
            t0 = time.process_time()
            result = method(*args)
            spent[phase] = spent.get(phase, 0.0) + time.process_time() - t0
            return result

        return wrapper

    builder.readers.adopt = timed(builder.readers.adopt, "adopt")
    builder._build = timed(builder._build, "replay")
    builder._structure = timed(builder._structure, "lists")
    builder.h = _TimedHoc(builder.h, spent)


def child(n_cells: int, files: list[Path], replay: bool, phases: bool) -> None:
    from neuron import h

    from engine.managers.cells import import3d_cache
    from tests.bbp_templates import load_test_template

    load_test_template(h, NAME)
    builder = import3d_cache._state["builder"]
    if builder is not None and not replay:
        builder.replay = lambda gui, cell: -1  # NEURON's instantiate for every cell
    spent: dict[str, float] = {}
    if phases:
        _time_phases(builder, spent)
    cells = []
    t0 = time.process_time()
    for k in range(n_cells):
        if phases and k == 2 * len(files):  # every file parsed and learned: time replays
            spent.clear()
            t0 = time.process_time()
        path = files[k % len(files)]
        cells.append(getattr(h, NAME)(k, str(path.parent), path.name, 0))
    print(f"RESULT {time.process_time() - t0:.3f}")
    if phases:
        print("PHASES " + " ".join(f"{kind}={seconds:.4f}" for kind, seconds in spent.items()))


def measure(n_cells: int, files: list[Path], mode: str) -> float:
    env = dict(os.environ)
    env["SONATASIM_IMPORT3D_CACHE"] = "0" if mode == "plain" else "1"
    command = [sys.executable, __file__, "--child", "--cells", str(n_cells), *map(str, files)]
    command += ["--no-replay"] if mode == "parse" else []
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return float(next(x for x in out.splitlines() if x.startswith("RESULT")).split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("morphologies", nargs="*", type=Path)
    parser.add_argument("--cells", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--no-replay", action="store_true")
    parser.add_argument("--phases", action="store_true")
    args = parser.parse_args()
    files = args.morphologies
    if not files:
        from tests.conftest import shared_path

        folder = shared_path("morphologies")
        files = sorted(p for p in Path(folder).iterdir() if p.suffix in (".asc", ".swc"))
    if args.child:
        child(args.cells, files, replay=not args.no_replay, phases=args.phases)
        return 0
    names = ", ".join(p.name for p in files)
    print(f"{args.cells} cells over {len(files)} morphologies ({names})")
    for r in range(args.rounds):
        t = {mode: measure(args.cells, files, mode) for mode in ("plain", "parse", "replay")}
        ms = {mode: f"{1e3 * seconds / args.cells:.0f}" for mode, seconds in t.items()}
        print(
            f"round {r}: plain {t['plain']:.2f} s CPU, parse cache {t['parse']:.2f} s"
            f" ({t['plain'] / t['parse']:.2f}x), + replay {t['replay']:.2f} s"
            f" ({t['plain'] / t['replay']:.2f}x); per cell {ms['plain']} / {ms['parse']}"
            f" / {ms['replay']} ms",
            flush=True,
        )
    if args.phases:
        _print_phases(args.cells, files)
    return 0


def _print_phases(n_cells: int, files: list[Path]) -> None:
    env = dict(os.environ, SONATASIM_IMPORT3D_CACHE="1")
    command = [sys.executable, __file__, "--child", "--phases", "--cells", str(n_cells)]
    lines = subprocess.run(
        [*command, *map(str, files)], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    total = float(next(x for x in lines if x.startswith("RESULT")).split()[1])
    words = next(x for x in lines if x.startswith("PHASES")).split()[1:]
    spent = {k: float(v) for k, v in (w.split("=") for w in words)}
    replay, lists = spent.pop("replay", 0.0), spent.pop("lists", 0.0)
    adopt = spent.pop("adopt", 0.0)
    per_cell = 1e3 / (n_cells - 2 * len(files))  # s -> ms per replayed cell
    statements = ", ".join(f"{k} {per_cell * v:.2f}" for k, v in spent.items())
    print(
        f"per replayed cell (replay run; a file's first two cells not counted): constructor"
        f" {per_cell * total:.2f} ms = replay {per_cell * replay:.2f} ms [creates and section"
        f" lists {per_cell * lists:.2f} (hoc statements: {statements}); connect, pt3dadd,"
        f" contours {per_cell * (replay - lists):.2f}] + reader adopt {per_cell * adopt:.2f}"
        f" ms + the rest {per_cell * (total - replay - adopt):.2f} ms (Import3d_GUI, the"
        " template's own nseg / index / axon / biophys)"
    )


if __name__ == "__main__":
    sys.exit(main())
