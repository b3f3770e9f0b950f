"""In-process unit checks of the BBP cell conventions: section tables, template arguments,
the segment-offset location fallback and the synapse stream keys (real NEURON, no mods).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import simulator
from engine.managers.cells.cell import BiophysicalCell
from engine.managers.cells.templates import block_sections, needed_attributes, section_table
from engine.managers.synapses.base import scale_use_by_calcium
from engine.managers.synapses.bbp import stream_keys

# A template whose `all` is soma, 3 axon, 2 dend, 1 apic; it indexes (or not), then
# replaces the axon by two new sections appended to `all` and `axonal`.
TEMPLATE = """
strdef {name}_NeededAttributes
{name}_NeededAttributes = " AIS_scaler ;soma_scaler;"
begintemplate {name}
public soma, axon, dend, apic, all, somatic, axonal, basal, apical, nSecAll, nSecAxonalOrig
create soma[1], axon[3], dend[2], apic[1]
objref all, somatic, axonal, basal, apical, this
proc init() {{ local i
    execute1("create axon[3]", this)  // hoc keeps the previous instance's array size
    all = new SectionList()
    somatic = new SectionList()
    axonal = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    soma all.append()
    soma somatic.append()
    for i = 0, 2 axon[i] {{ all.append() axonal.append() }}
    for i = 0, 1 dend[i] {{ all.append() basal.append() }}
    apic all.append()
    apic apical.append()
    if ($1) {{
        i = 0
        forsec all {{ v(0.0001) = i  i += 1 }}
        nSecAll = i
    }}
    nSecAxonalOrig = 3
    forsec axonal delete_section()
    execute1("create axon[2]", this)
    axonal = new SectionList()
    for i = 0, 1 axon[i] {{ all.append() axonal.append() }}
}}
endtemplate {name}
"""


@pytest.fixture(scope="module")
def h():
    handle = simulator.start(use_mpi=False).h
    if not hasattr(handle, "SonataTableCell"):
        handle(TEMPLATE.format(name="SonataTableCell"))
    return handle


def _names(table):
    return [s.name().split(".")[-1] if s is not None else None for s in table]


def test_indexed_table_leaves_removed_axon_ids_empty(h):
    cell = h.SonataTableCell(1)
    assert _names(section_table(cell)) == [
        "soma[0]", None, None, None, "dend[0]", "dend[1]", "apic[0]",
    ]  # fmt: skip


def test_block_table_puts_the_new_axon_first_in_the_original_axon_block(h):
    cell = h.SonataTableCell(0)
    expected = ["soma[0]", "axon[0]", "axon[1]", None, "dend[0]", "dend[1]", "apic[0]"]
    assert _names(section_table(cell)) == expected
    assert _names(block_sections(cell)) == expected


def test_needed_attributes_are_split_and_stripped(h):
    assert needed_attributes(h, "SonataTableCell") == ["AIS_scaler", "soma_scaler"]
    assert needed_attributes(h, "NoSuchTemplateAtAll") == []


def test_missing_section_gives_no_segment_and_out_of_range_is_an_error(h):
    from engine.errors import CircuitError

    hoc = h.SonataTableCell(1)
    cell = BiophysicalCell(gid=0, node_id=0, hoc=hoc, sections=section_table(hoc))
    assert cell.segment(2, 0.5) is None
    assert cell.segment(4, -0.5).x == pytest.approx(1e-7)
    with pytest.raises(CircuitError):
        cell.segment(7, 0.5)


def test_segment_offset_fallback(h):
    sec = h.Section(name="offset_test")
    for x in (0.0, 10.0, 30.0, 100.0):
        sec.pt3dadd(x, 0.0, 0.0, 1.0)
    sec.nseg = 101
    cell = BiophysicalCell(gid=0, node_id=0, hoc=None, sections=[sec])
    assert cell.segment_at_offset(h, 0, 1, 5.0).x == pytest.approx(0.15)
    assert cell.segment_at_offset(h, 0, 7, 5.0).x == pytest.approx(0.5)  # past the points
    parent = h.Section(name="offset_parent")
    sec.connect(parent(0), 1)  # orientation 1: points counted from the other end
    assert h.section_orientation(sec=sec) == 1
    # point 1 mirrors to 4-1-1 = 2 (arc 30), offset -5: x = 0.25, then 1 - x
    assert cell.segment_at_offset(h, 0, 1, 5.0).x == pytest.approx(0.75)


def test_stream_keys_and_calcium_scaling():
    keys = stream_keys(np.array([0, 1001]), np.array([0, 5]), "default", "NodeA", 10)
    third = 4034 * 65536 + 4058 + 10 + 300
    np.testing.assert_array_equal(keys, [[251, 100, third], [1252, 105, third]])
    use = scale_use_by_calcium(np.array([0.5]), np.array([-1.0]), 2.0)
    assert use[0] == pytest.approx(0.5 * (17 / 16) * (16 / 17))


def test_report_sections_use_the_block_rule_when_the_axon_was_replaced(h):
    hoc = h.SonataTableCell(1)
    cell = BiophysicalCell(gid=0, node_id=0, hoc=hoc, sections=section_table(hoc))
    assert _names(cell.report_sections())[:4] == ["soma[0]", "axon[0]", "axon[1]", None]
