"""Driver for tests/test_import3d_cache.py (no tests here): build BBP-style cells, dump them.

Usage: [SONATASIM_IMPORT3D_CACHE=0|1] tests/drivers/import3d_cache.py [--checks] OUT.json MORPH ...
Loads the Import3d template of tests/test_bbp_support.py (it calls load_file("import3d.hoc")
itself) through the engine's template loader, builds every morphology three times in
interleaved order and writes, per cell, every section's name, L, nseg, parent and
connection x, 3D points and arcs, NEURON's contour record (`neuron._sec_db`, what
`_declare_contour` stores for contour somas) and every segment's diam, cm, v and range
variables as float.hex (bit-exact), every section list's names in order, plus the cache's
hit/miss/replay counts. With --checks, for the first file of each extension: a reader of
the (now cached) file instantiated with keepCommands=1 into a fresh cell and the last one
into nil (top-level sections), NEURON's own route, so the `commands` and sections must be
those of a plain run; and two cells of a second template on the same parses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import neuron  # noqa: E402
from neuron import h  # noqa: E402

from engine.managers.cells import import3d_cache  # noqa: E402
from tests.bbp_templates import load_test_template  # noqa: E402

NAME = "SonataBBPPlainCell"
LISTS = ("all", "somatic", "axonal", "basal", "apical")


def _hex(value: float) -> str:
    return float(value).hex()


def _contour(sec) -> list | None:
    """NEURON's record of a contour soma (is_stack, x, y, z, centre, two points), as hex."""
    entry = neuron._sec_db.get(sec.hoc_internal_name())
    if entry is None:
        return None
    flat = []
    for item in entry:
        if hasattr(item, "to_python"):
            flat.append([_hex(v) for v in item.to_python()])
        elif isinstance(item, list):
            flat.append([[_hex(v) for v in point] for point in item])
        else:
            flat.append(_hex(item))
    return flat


def dump(sections) -> list:
    """Everything the cache must not change, exactly (`sections`: e.g. a cell's `all`)."""
    out = []
    for sec in sections:
        parent = sec.parentseg()
        segments = []
        for seg in sec:
            values = {"diam": _hex(seg.diam), "cm": _hex(seg.cm), "v": _hex(seg.v)}
            for mech in seg:
                for var in mech:
                    short = var.name().removesuffix(f"_{mech.name()}")
                    values[var.name()] = _hex(getattr(mech, short))
            segments.append(values)
        out.append(
            {
                "name": sec.name().split(".", 1)[-1],
                "L": _hex(sec.L),
                "nseg": sec.nseg,
                "Ra": _hex(sec.Ra),
                "parent": [parent.sec.name().split(".", 1)[-1], _hex(parent.x)] if parent else None,
                "points": [
                    [_hex(f(i)) for f in (sec.x3d, sec.y3d, sec.z3d, sec.diam3d, sec.arc3d)]
                    for i in range(sec.n3d())
                ],
                "segments": segments,
                "contour": _contour(sec),
            }
        )
    return out


def fallbacks_and_other_template(files: list[Path], folder: Path, stats: dict) -> dict:
    """NEURON's own route (keepCommands=1, a nil cell) and a second template, per kind."""
    kept, replayed = {}, 0
    first_of_each_kind = {path.suffix: k for k, path in reversed(list(enumerate(files)))}
    for k in sorted(first_of_each_kind.values()):
        path = files[k]
        reader = h.Import3d_Neurolucida3() if path.suffix == ".asc" else h.Import3d_SWC_read()
        reader.quiet = 1
        reader.input(str(path))
        gui = h.Import3d_GUI(reader, 0)
        cell = getattr(h, NAME)(k, str(path.parent), path.name, 0)
        before = import3d_cache.statistics()["replayed"]
        gui.instantiate(cell, 1)
        replayed += import3d_cache.statistics()["replayed"] - before
        commands = [gui.commands.o(i).s for i in range(int(gui.commands.count()))]
        kept[str(k)] = {"commands": commands, "cell": dump(cell.all)}
    # another template on the same parses: its first cell runs the forsec / forall
    # statements and sees what they append, the next appends that by index loops
    other = "SonataBBPBlockCell"
    load_test_template(h, other, folder, indexed=False)
    before = import3d_cache.statistics()
    for k in sorted(first_of_each_kind.values()):
        for round_ in range(2):
            cell = getattr(h, other)(k, str(files[k].parent), files[k].name, 0)
            kept[f"{other}.{k}.{round_}"] = {"cell": dump(cell.all)}
    after = import3d_cache.statistics()
    stats["other_template"] = {n: after[n] - before[n] for n in ("replayed", "appended")}
    # a nil cell (top-level sections, `access`): NEURON's own route too
    gui = h.Import3d_GUI(reader, 0)
    before = import3d_cache.statistics()["replayed"]
    gui.instantiate(None)
    replayed += import3d_cache.statistics()["replayed"] - before
    kept["top"] = {"cell": dump(s for s in h.allsec() if s.cell() is None)}
    stats["replayed_after_keep"] = replayed
    return kept


def main() -> int:
    checks = sys.argv[1] == "--checks"
    args = sys.argv[2:] if checks else sys.argv[1:]
    out, files = Path(args[0]), [Path(p) for p in args[1:]]
    folder = load_test_template(h, NAME)
    cells, lists = {}, {}
    for round_ in range(3):
        for k, path in enumerate(files):
            cell = getattr(h, NAME)(k, str(path.parent), path.name, 0)
            cells[f"{k}.{round_}"] = dump(cell.all)
            lists[f"{k}.{round_}"] = {
                name: [sec.name() for sec in getattr(cell, name)] for name in LISTS
            }
    stats = import3d_cache.statistics()
    kept = fallbacks_and_other_template(files, folder, stats) if checks else {}
    out.write_text(json.dumps({"cells": cells, "lists": lists, "cache": stats, "kept": kept}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
