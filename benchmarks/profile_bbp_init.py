"""Where a BBP emodel template's init spends its time, phase by phase (issue 18.1).

Usage: python benchmarks/profile_bbp_init.py [--repeat 5] [MORPHOLOGY ...]

Plain NEURON, no engine: a BBP-style template (Import3d load, geom_nseg by d_lambda,
biophys with a distance-dependent exponential density on apical/basal segments written
through sprint/execute1 as BBP emodels' distribute_channels does, then axon replacement)
whose init creates only the lists; this script calls the phases one by one and records
the CPU time (time.process_time; the machine is shared) of each:

  parse      reader.input(path)            (Import3d's hoc/C morphology parser)
  build      Import3d_GUI(reader).instantiate(this)  (sections, connections, pt3dadd)
  geom_nseg  d_lambda rule over all sections
  axon       replace_axon (delete the axon, two 30 um stubs), before biophys as in BBP
  biophys    insert + uniform parameters + distance-dependent distribution
  morphio    for comparison: morphio.Morphology(path) of the same file (if installed)

Then, per morphology, three cells are built from ONE parsed reader (a new Import3d_GUI
each, as the per-rank cache would) and compared bit for bit with a fresh-reader cell
(sections, L, nseg, parents, 3D points, segment diam and g_pas).

Morphologies default to every .asc/.swc of ../shared/data/morphologies. Prints one line per
morphology and phase (median over --repeat cells of that morphology, ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from neuron import h

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

TEMPLATE = """
begintemplate ProfiledBBPCell
public init, soma, axon, dend, apic, all, somatic, axonal, basal, apical
public load_morphology, geom_nseg, biophys, replace_axon, instantiate_from
create soma[1], axon[1], dend[1], apic[1]
objref all, somatic, axonal, basal, apical, this

proc init() {
    all = new SectionList()
    somatic = new SectionList()
    axonal = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
}

proc load_morphology() { localobj reader, gui, strings
    strdef path
    sprint(path, "%s/%s", $s1, $s2)
    strings = new StringFunctions()
    if (strings.substr($s2, ".asc") >= 0) {
        reader = new Import3d_Neurolucida3()
    } else {
        reader = new Import3d_SWC_read()
    }
    reader.quiet = 1
    if ($3 == 1) { reader.input(path) return }
    reader.input(path)
    gui = new Import3d_GUI(reader, 0)
    gui.instantiate(this)
}

// build from an already parsed reader (the per-rank cache route)
proc instantiate_from() { localobj gui
    gui = new Import3d_GUI($o1, 0)
    gui.instantiate(this)
}

proc geom_nseg() { local freq, d_lambda
    freq = 100
    d_lambda = 0.1
    forsec all { if (diam(0.5) > 0) { nseg = int((L/(d_lambda*lambda_f(freq))+0.9)/2)*2 + 1 } }
}

func lambda_f() { // length constant at $1 Hz (NEURON's d_lambda rule)
    return 1e5*sqrt(diam/(4*PI*$1*Ra*cm))
}

proc biophys() {
    forsec all { insert pas  cm = 1  Ra = 100  e_pas = -75 }
    forsec somatic { insert hh }
    forsec axonal { insert hh }
    distribute("apical", "g_pas", "(0.0 + 1.0*exp(%.17g*0.003))*3e-5")
    distribute("basal", "g_pas", "(0.0 + 1.0*exp(%.17g*0.002))*2e-5")
}

// BBP's distribute_channels: distance from soma(0.5), one execute1 per segment
proc distribute() { local x, dist  localobj sl
    strdef stmp, distfunc, expr
    soma[0] distance(0, 0.5)
    sprint(distfunc, "%s", $s3)
    if (strcmp($s1, "apical") == 0) { sl = apical } else { sl = basal }
    forsec sl for (x, 0) {
        dist = distance(x)
        sprint(expr, distfunc, dist)
        sprint(stmp, "%s(%-5.10f) = %s", $s2, x, expr)
        execute(stmp)
    }
}

proc replace_axon() { local n, d, i
    n = 0
    d = 1
    forsec axonal { if (n == 0) { d = diam(0.5) } n += 1 }
    forsec axonal { delete_section() }
    execute1("create axon[2]", this)
    axonal = new SectionList()
    for i = 0, 1 {
        axon[i] { L = 30  diam = d  nseg = 1  all.append()  axonal.append() }
    }
    connect axon[0](0), soma[0](1)
    connect axon[1](0), axon[0](1)
}
endtemplate ProfiledBBPCell
"""

PHASES = ("morphio", "parse", "build", "geom_nseg", "axon", "biophys", "total")


def profile_one(folder: str, name: str) -> dict[str, float]:
    """CPU seconds of each phase for one cell (parse timed on its own reader)."""
    t0 = time.process_time()
    h.ProfiledBBPCell().load_morphology(folder, name, 1)  # parse only, cell dropped
    parse = time.process_time() - t0
    cell = h.ProfiledBBPCell()
    t0 = time.process_time()
    cell.load_morphology(folder, name, 2)  # parse + build
    t1 = time.process_time()
    cell.geom_nseg()
    t2 = time.process_time()
    cell.replace_axon()
    t3 = time.process_time()
    cell.biophys()
    t4 = time.process_time()
    try:
        import morphio

        t5 = time.process_time()
        morphio.Morphology(str(Path(folder) / name))
        morphio_parse = time.process_time() - t5
    except ImportError:
        morphio_parse = float("nan")
    return {
        "morphio": morphio_parse,
        "parse": parse,
        "build": (t1 - t0) - parse,
        "geom_nseg": t2 - t1,
        "axon": t3 - t2,
        "biophys": t4 - t3,
        "total": t4 - t0,
    }


def dump(cell: object) -> list:
    """Every section's name, L, nseg, parent, 3D points and segment diam / g_pas, exactly."""
    out = []
    for sec in cell.all:
        points = [
            (sec.x3d(i), sec.y3d(i), sec.z3d(i), sec.diam3d(i), sec.arc3d(i))
            for i in range(sec.n3d())
        ]
        parent = sec.parentseg()
        out.append(
            (
                sec.name().split(".")[-1],
                sec.L,
                sec.nseg,
                [(seg.diam, seg.g_pas) for seg in sec],
                points,
                (parent.sec.name().split(".")[-1], parent.x) if parent else None,
                sec.orientation(),
            )
        )
    return out


def reuse_check(path: Path) -> tuple[bool, float]:
    """Build 3 cells from ONE parsed reader; (all identical to a fresh-reader cell, ms CPU)."""
    ref = h.ProfiledBBPCell()
    ref.load_morphology(str(path.parent), path.name, 0)
    ref.geom_nseg()
    ref.replace_axon()
    ref.biophys()
    expected = dump(ref)
    reader = h.Import3d_Neurolucida3() if path.suffix == ".asc" else h.Import3d_SWC_read()
    reader.quiet = 1
    reader.input(str(path))
    same, times = True, []
    for _ in range(3):
        cell = h.ProfiledBBPCell()
        t0 = time.process_time()
        cell.instantiate_from(reader)
        cell.geom_nseg()
        cell.replace_axon()
        cell.biophys()
        times.append(time.process_time() - t0)
        same &= dump(cell) == expected
    return same, 1e3 * min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("morphologies", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files = args.morphologies
    if not files:
        from tests.conftest import shared_path  # needs pytest: only without arguments

        folder = shared_path("morphologies")
        files = sorted(p for p in Path(folder).iterdir() if p.suffix in (".asc", ".swc"))
    h.load_file("stdrun.hoc")
    h.load_file("import3d.hoc")
    with tempfile.NamedTemporaryFile("w", suffix=".hoc", delete=False) as tmp:
        tmp.write(TEMPLATE)
    h.load_file(tmp.name)
    print(f"{'morphology':28s}" + "".join(f"{p:>11s}" for p in PHASES) + "   (ms CPU, median)")
    for path in files:
        runs = [profile_one(str(path.parent), path.name) for _ in range(args.repeat)]
        med = {p: 1e3 * statistics.median(r[p] for r in runs) for p in PHASES}
        same, cached = reuse_check(path)
        line = "".join(f"{med[p]:11.1f}" for p in PHASES)
        print(f"{path.name:28s}{line}  reused reader: {cached:.1f} ms, identical={same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
