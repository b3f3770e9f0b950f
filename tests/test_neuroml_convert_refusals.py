"""What `sonatasim convert --to sonata` refuses in the multi-compartment network of
tests/test_neuroml_convert_cells.py (the same LEMS and NeuroML files, each edited in one
place): one line naming the file and the element, exit 2, no traceback.
"""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.test_neuroml_convert_cells import (
    CELL,
    GAP,
    POP,
    SOURCE,
    STEP_INPUT,
    _write_model,
)

pytestmark = [pytest.mark.slow]


def test_missing_segments_are_refused(tmp_path):
    """A column, connection (either end), junction or input on a segment the cell lacks
    has no location, and a segment's other quantities are not converted: one line naming
    the file, exit 2."""
    lems = _write_model(tmp_path / "model")
    net = lems.parent / "hh_network.net.nml"
    cases = {
        "missing_report_segment": (
            lems.read_text().replace(f"{POP}/2/{CELL}/v", f"{POP}/2/{CELL}/50/v"),
            net.read_text(),
            f"quantity '{POP}/2/{CELL}/50/v': cell {CELL} has no segment 50",
        ),
        "missing_segment": (
            lems.read_text(),
            net.read_text().replace('postSegmentId="7"', 'postSegmentId="70"'),
            f'<projection id="{SOURCE}__{POP}"> connection 1: cell {CELL} has no segment 70',
        ),
        "missing_pre_segment": (
            lems.read_text(),
            net.read_text().replace('preSegmentId="2"', 'preSegmentId="20"'),
            f'<projection id="{POP}__{POP}"> connection 0: cell {CELL} has no segment 20',
        ),
        "junction_missing_segment": (
            lems.read_text(),
            net.read_text().replace(f'postSegment="{GAP[5]}"', 'postSegment="70"'),
            f'<electricalProjection id="{GAP[0]}"> connection 0: cell {CELL} has no segment 70',
        ),
        "missing_input_segment": (
            lems.read_text(),
            net.read_text().replace('segmentId="6"', 'segmentId="60"'),
            f'<inputList id="{STEP_INPUT[0]}"> input 1: cell {CELL} has no segment 60',
        ),
        "segment_quantity": (
            lems.read_text().replace(f"{POP}/0/{CELL}/6/v", f"{POP}/0/{CELL}/6/caConc"),
            net.read_text(),
            f"quantity '{POP}/0/{CELL}/6/caConc': only the membrane potential v",
        ),
    }
    for name, (lems_text, net_text, message) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / lems.name).write_text(lems_text)
        (folder / net.name).write_text(net_text)
        result = run_cli(
            "convert", folder / lems.name, "--to", "sonata", "-o", folder / "out", check=False
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
