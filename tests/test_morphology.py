"""Sections built from morphologies: SONATA order, geometry, hoc templates, errors (finding
and reading the files: tests/test_morphology_files.py).

Runs real NEURON and morphio on generated cells (the same tree written as swc, asc and h5,
`gen:` names) and, when ../shared is present, on real reconstructions (other names; they
skip without ../shared and fail under CI=true, see tests/conftest.py).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import h5py
import morphio
import numpy as np
import pytest

from engine import simulator
from engine.errors import CircuitError
from engine.io.morphology import (
    read_morphology,
    resolve_morphology_path,
    template_file_name,
)
from engine.managers.cells.morphology import MorphologyLoader, section_areas_and_lengths
from tests.test_morphology_files import DOTTED

GENERATED = [
    "gen:pyramidal.asc",
    "gen:pyramidal.h5",
    "gen:pyramidal.swc",
    "gen:allen_spiny.swc",
    "gen:allen_aspiny.swc",
    "gen:small.h5",
]
REAL = [
    "C060114A7.asc",
    "C060114A7.h5",
    "C210401C.asc",
    "C210401C.swc",
    "Pvalb_469628681_m.swc",
    "Rorb_325404214_m.swc",
    "Scnn1a_473845048_m.swc",
    "simple.h5",
]
ALL_FILES = GENERATED + REAL
TEMPLATE = "SonatasimMorphTestCell"
ARRAY_OF_TYPE = {2: "axon", 3: "dend", 4: "apic"}


@pytest.fixture
def h():
    return simulator.current().h


@pytest.fixture
def loader(h):
    """A fresh loader installed as hoc's sonatasim_morphology, plus the test template."""
    installed = MorphologyLoader().install(h)
    if not hasattr(h, TEMPLATE):  # a template can be defined once per process
        h(f"""
begintemplate {TEMPLATE}
public soma, dend, apic, axon, all, somatic, basal, apical, axonal
external sonatasim_morphology
objref this, all, somatic, basal, apical, axonal
create soma[1], dend[1], apic[1], axon[1]
proc init() {{
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    sonatasim_morphology.load(this, $s2, $s3)
}}
endtemplate {TEMPLATE}
""")
    return installed


def build(h, loader, path, morph_dir=None):
    """A template instance and its sections; callers keep the cell or its sections die.
    `path` is a file, or a name inside `morph_dir`."""
    if morph_dir is None:
        morph_dir, path = Path(path).parent, Path(path).name
    cell = loader.new_cell(getattr(h, TEMPLATE), 0, str(morph_dir), str(path))
    return cell, loader.sections_of(cell)


def path_length(points):
    """Sum of segment lengths of morphio's float32 points.

    NEURON also stores 3-d points as float32 and takes point differences in float32
    before the double sqrt; doing the same matches to ~1e-15 (float64 differences of the
    same points would differ by up to ~5e-8 relative).
    """
    steps = np.diff(np.asarray(points, dtype=np.float32), axis=0).astype(float)
    return float(np.sqrt((steps**2).sum(axis=1)).sum())


def array_name(sec):
    return sec.name().split(".")[-1].split("[")[0]


@pytest.mark.parametrize(
    "first, second",
    [
        ("gen:pyramidal.swc", "gen:pyramidal.asc"),
        ("gen:pyramidal.asc", "gen:pyramidal.h5"),
        ("C210401C.swc", "C210401C.asc"),
        ("C060114A7.asc", "C060114A7.h5"),
    ],
)
def test_same_cell_in_two_formats_gives_same_sections(h, loader, path_of, first, second):
    cell_a, a = build(h, loader, path_of(first))  # keep the cells: sections die with them
    cell_b, b = build(h, loader, path_of(second))
    assert len(a) == len(b)
    assert [array_name(s) for s in a] == [array_name(s) for s in b]
    la, aa = section_areas_and_lengths(a)
    lb, ab = section_areas_and_lengths(b)
    assert la[1:].sum() == pytest.approx(lb[1:].sum(), rel=1e-9)
    assert aa[1:].sum() == pytest.approx(ab[1:].sum(), rel=1e-9)
    # The soma agrees too, because both files describe the same outline: asc/h5 as a
    # contour, the swc as a chain of zero-radius soma points (an outline exported to swc),
    # which we read as a contour since a zero-area soma cannot be simulated.
    assert la[0] == pytest.approx(lb[0], rel=1e-9)
    assert aa[0] == pytest.approx(ab[0], rel=1e-9)
    assert aa[0] > 100.0


@pytest.mark.parametrize("name", ALL_FILES)
def test_sections_follow_morphio_order_and_lengths(h, loader, path_of, name):
    m = read_morphology(path_of(name))
    cell, sections = build(h, loader, path_of(name))
    assert len(sections) == len(m.sections) + 1
    assert array_name(sections[0]) == "soma"
    for msec in m.sections:
        sec = sections[msec.id + 1]
        assert array_name(sec) == ARRAY_OF_TYPE.get(int(msec.type), "dend")
        assert sec.n3d() == len(msec.points)  # the shared first point is not doubled
        first = [sec.x3d(0), sec.y3d(0), sec.z3d(0)]
        np.testing.assert_allclose(first, msec.points[0], rtol=0, atol=1e-5)
        assert math.isclose(sec.L, path_length(msec.points), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    "name",
    [
        "gen:allen_spiny.swc",
        "gen:allen_aspiny.swc",
        "Pvalb_469628681_m.swc",
        "Scnn1a_473845048_m.swc",
    ],
)
def test_single_point_soma_is_a_cylinder_with_the_sphere_area(h, loader, path_of, name):
    m = read_morphology(path_of(name))
    assert m.soma.type == morphio.SomaType.SOMA_SINGLE_POINT
    radius = float(m.soma.diameters[0]) / 2
    cell, sections = build(h, loader, path_of(name))
    lengths, areas = section_areas_and_lengths(sections)
    assert lengths[0] == pytest.approx(2 * radius, rel=1e-7)  # 3-d points stored as float32
    assert areas[0] == pytest.approx(4 * math.pi * radius**2, rel=1e-6)


@pytest.mark.parametrize(
    "name",
    [
        "gen:pyramidal.h5",
        "gen:allen_spiny.swc",
        "C060114A7.h5",
        "C210401C.asc",
        "Scnn1a_473845048_m.swc",
    ],
)
def test_template_lists_and_connections(h, loader, path_of, name):
    m = read_morphology(path_of(name))
    cell, sections = build(h, loader, path_of(name))
    soma = sections[0]
    assert [s.name() for s in cell.all] == [s.name() for s in sections]
    assert [s.name() for s in cell.somatic] == [soma.name()]
    for list_name, code in (("axonal", 2), ("basal", 3), ("apical", 4)):
        expected = [sections[s.id + 1].name() for s in m.sections if int(s.type) == code]
        assert [s.name() for s in getattr(cell, list_name)] == expected
    h.define_shape()
    for msec in m.sections:
        ref = h.SectionRef(sec=sections[msec.id + 1])
        assert ref.has_parent()
        if msec.is_root:
            assert ref.parent == soma
            assert sections[msec.id + 1].parentseg().x == 0.5
            # pt3dstyle keeps roots where the file puts them after define_shape
            sec = sections[msec.id + 1]
            np.testing.assert_allclose(
                [sec.x3d(0), sec.y3d(0), sec.z3d(0)], msec.points[0], rtol=0, atol=1e-5
            )
        else:
            assert ref.parent == sections[msec.parent.id + 1]
            assert sections[msec.id + 1].parentseg().x == 1.0


def test_new_instance_does_not_inherit_previous_array_sizes(h, loader, path_of):
    # hoc remembers an array's last size per template: the pyramidal cell has 130 apical
    # sections, the aspiny one none, so the second cell must keep one apic placeholder only.
    build(h, loader, path_of("gen:pyramidal.h5"))
    cell, sections = build(h, loader, path_of("gen:allen_aspiny.swc"))
    owned = [s for s in h.allsec() if s.cell() == cell]
    assert len(owned) == len(sections) + 1
    assert len(cell.apic) == 1 and cell.apic[0].name() not in {s.name() for s in sections}


def test_loader_caches_parsed_morphologies(h, loader, path_of):
    small = path_of("gen:small.h5")
    build(h, loader, small)
    path = resolve_morphology_path(small.parent, "small", "h5")
    assert path == small
    assert loader.morphology(path) is loader.morphology(path)


def test_merged_h5_container(h, loader, tmp_path, path_of):
    container = tmp_path / "merged.h5"
    small = path_of("gen:small.h5")
    with h5py.File(small, "r") as src, h5py.File(container, "w") as dst:
        for cell_name in ("cell_a", DOTTED):
            group = dst.create_group(cell_name)
            for key in src:
                src.copy(src[key], group, name=key)
    path = resolve_morphology_path(container, f"{DOTTED}.h5", None)
    assert path == container / DOTTED
    assert template_file_name(container, DOTTED, "h5") == f"{DOTTED}.h5"  # as neurodamus
    cell, sections = build(h, loader, f"{DOTTED}.h5", morph_dir=container)
    assert len(sections) == len(read_morphology(small).sections) + 1
    with pytest.raises(CircuitError, match="no morphology .cell_c. in this container"):
        read_morphology(container / "cell_c")


def test_missing_and_corrupted_files_name_the_file(h, loader, tmp_path, path_of):
    with pytest.raises(CircuitError, match="not found") as err:
        read_morphology(tmp_path / "absent.swc")
    assert str(tmp_path / "absent.swc") in str(err.value)
    broken_asc = tmp_path / "broken.asc"
    broken_asc.write_text('("CellBody"\n  (CellBody)\n  (1 2 3 4)\n')
    broken_h5 = tmp_path / "broken.h5"
    broken_h5.write_bytes(path_of("gen:small.h5").read_bytes()[:300])
    for broken in (broken_asc, broken_h5):
        with pytest.raises(CircuitError, match="cannot read morphology") as err:
            read_morphology(broken)
        assert str(broken) in str(err.value)
        assert "\x1b[" not in str(err.value)
    # through a hoc template: the loader's own error, not hoc's generic one
    with pytest.raises(CircuitError) as err:
        build(h, loader, "broken.h5", morph_dir=tmp_path)
    assert str(broken_h5) in str(err.value)


def test_simple_h5_loads(h, loader, path_of):
    cell, sections = build(h, loader, path_of("simple.h5"))
    assert [array_name(s) for s in sections].count("axon") == 3
    assert [array_name(s) for s in sections].count("dend") == 3
    lengths, _ = section_areas_and_lengths(sections)
    assert lengths[1:].sum() == pytest.approx(31.0)


def test_small_generated_h5_loads(h, loader, path_of):
    path = path_of("gen:small.h5")
    cell, sections = build(h, loader, path)
    assert [array_name(s) for s in sections].count("axon") == 3
    assert [array_name(s) for s in sections].count("dend") == 3
    lengths, _ = section_areas_and_lengths(sections)
    expected = sum(path_length(s.points) for s in morphio.Morphology(str(path)).sections)
    assert lengths[1:].sum() == pytest.approx(expected, rel=1e-12)


THREE_POINT_SWC = """\
1 1 0 0 0 5 -1
2 1 0 -5 0 5 1
3 1 0 5 0 5 1
4 3 6 0 0 1 1
5 3 16 0 0 1 4
6 2 -6 0 0 0.5 1
7 2 -20 0 0 0.5 6
"""
STACK_SWC = """\
1 1 0 0 0 3 -1
2 1 4 0 0 4 1
3 1 8 0 0 4 2
4 1 12 0 0 2 3
5 3 -4 0 0 1 1
6 3 -14 0 0 1 5
7 3 16 0 0 1 4
8 3 26 0 0 1 7
9 4 8 6 0 1 3
10 4 8 16 0 1 9
"""


def test_neuromorpho_three_point_soma_is_a_sphere(h, loader, tmp_path):
    (tmp_path / "three.swc").write_text(THREE_POINT_SWC)
    m = read_morphology(tmp_path / "three.swc")
    assert m.soma.type == morphio.SomaType.SOMA_NEUROMORPHO_THREE_POINT_CYLINDERS
    cell, sections = build(h, loader, "three.swc", morph_dir=tmp_path)
    lengths, areas = section_areas_and_lengths(sections)
    assert lengths[0] == pytest.approx(10.0)
    assert areas[0] == pytest.approx(4 * math.pi * 5.0**2)
    assert {s.parentseg().x for s in sections[1:]} == {0.5}


def test_cylinder_stack_soma_keeps_its_points(h, loader, tmp_path):
    (tmp_path / "stack.swc").write_text(STACK_SWC)
    m = read_morphology(tmp_path / "stack.swc")
    assert m.soma.type == morphio.SomaType.SOMA_CYLINDERS
    cell, sections = build(h, loader, "stack.swc", morph_dir=tmp_path)
    lengths, areas = section_areas_and_lengths(sections)
    radii, steps = [3.0, 4.0, 4.0, 2.0], 4.0
    frusta = sum(
        math.pi * (r1 + r2) * math.hypot(r1 - r2, steps) for r1, r2 in itertools.pairwise(radii)
    )
    assert lengths[0] == pytest.approx(12.0)
    assert areas[0] == pytest.approx(frusta)
    # as Import3d: roots at the first soma point attach at soma(0), at the last at soma(1),
    # elsewhere at soma(0.5)
    first_points = {tuple(s.points[0]): sections[s.id + 1] for s in m.root_sections}
    assert first_points[(-4.0, 0.0, 0.0)].parentseg().x == 0.0
    assert first_points[(16.0, 0.0, 0.0)].parentseg().x == 1.0
    assert first_points[(8.0, 6.0, 0.0)].parentseg().x == 0.5


def test_template_without_apic_and_axon_puts_them_in_dend(h, loader, path_of):
    name = "SonatasimMorphTestBare"
    if not hasattr(h, name):
        h(f"""
begintemplate {name}
public all
external sonatasim_morphology
objref this, all
create soma[1], dend[1]
proc init() {{ all = new SectionList() sonatasim_morphology.load(this, $s1, $s2) }}
endtemplate {name}
""")
    path = path_of("gen:allen_spiny.swc")
    cell = loader.new_cell(getattr(h, name), str(path.parent), path.name)
    sections = loader.sections_of(cell)
    assert len(sections) == len(read_morphology(path).sections) + 1
    assert {array_name(s) for s in sections[1:]} == {"dend"}
    assert len(list(cell.all)) == len(sections)


def test_degenerate_soma_outline_is_a_circuit_error(h, loader, tmp_path):
    flat = tmp_path / "flat.swc"
    flat.write_text("1 1 0 0 0 0 -1\n2 1 0 0 5 0 1\n3 1 0 0 9 0 2\n4 3 0 3 0 1 1\n5 3 0 9 0 1 4\n")
    with pytest.raises(CircuitError) as err:
        build(h, loader, "flat.swc", morph_dir=tmp_path)
    assert "soma outline is degenerate" in err.value.plain_message
    assert err.value.file == str(flat)
