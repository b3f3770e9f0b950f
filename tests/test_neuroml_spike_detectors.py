"""Connections leaving a multi-compartment NeuroML cell from its pre segments: the network
of tests/test_neuroml_convert_cells.py (whose jNeuroML comparison covers this run), its
cell 0 sending from its distal axon to cell 1 and from a distal dendrite to cell 2.

Each pre place is a spike detector of its own (what jNeuroML's NEURON export watches), the
cell's spikes still recorded at its soma. Without the detectors, the comparison fails;
edges naming a detector their source lacks are refused.
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from engine.dialects.neuroml.spike_detectors import DETECTOR, DETECTORS, parse_places
from tests.conftest import run_cli
from tests.neuroml_reference import sonatasim_spikes
from tests.test_neuroml_convert_cells import POP, PRE_PLACES, convert_model

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return convert_model(tmp_path_factory.mktemp("nml_detectors"))[1]


def _run(config, out) -> dict:
    run_cli("run", config, "--output-dir", out, "--no-progress")
    return sonatasim_spikes(out)


def test_pre_places_are_detectors_of_their_own(config, tmp_path):
    """The node attribute lists cell 0's two places (section, position by segment lengths),
    the edges say which one each leaves from; from the soma instead, cell 2 fires 3 times,
    not 2 as here and in jNeuroML's export (tests/test_neuroml_convert_cells.py)."""
    import libsonata

    nodes = libsonata.NodeStorage(str(config.parent / "nodes.h5")).open_population(POP)
    places = nodes.get_attribute(DETECTORS, libsonata.Selection([(0, 3)]))
    assert [len(parse_places(p)) for p in places] == [2, 0, 0]
    assert parse_places(places[0]) == [(i, pytest.approx(x)) for i, x in PRE_PLACES]
    edges = libsonata.EdgeStorage(str(config.parent / "edges.h5")).open_population(f"{POP}__{POP}")
    everything = libsonata.Selection([(0, edges.size)])
    targets = edges.target_nodes(everything)
    found = dict(zip(targets, edges.get_attribute(DETECTOR, everything), strict=True))
    assert found == {1: 1, 2: 2}
    with_detectors = _run(config, tmp_path / "detectors")
    assert [with_detectors[(POP, i)].size for i in range(3)] == [3, 3, 2]
    soma = tmp_path / "soma"
    shutil.copytree(config.parent, soma)
    with h5py.File(soma / "edges.h5", "r+") as f:
        del f[f"edges/{POP}__{POP}/0/{DETECTOR}"]
    from_soma = _run(soma / config.name, tmp_path / "from_soma")
    assert from_soma[(POP, 2)].size == 3, from_soma
    # cell 1's input leaves the axon before the soma crosses: its spikes come later
    assert np.all(from_soma[(POP, 1)] > with_detectors[(POP, 1)])


def test_edges_from_a_missing_detector_are_refused(config, tmp_path):
    """Edges leaving from a detector the source node does not list (its node attribute
    gone): one line naming the edges file and the attribute, not a silent no-delivery."""
    broken = tmp_path / "broken"
    shutil.copytree(config.parent, broken)
    with h5py.File(broken / "nodes.h5", "r+") as f:
        del f[f"nodes/{POP}/0/{DETECTORS}"]
    result = run_cli("run", broken / config.name, "--no-progress", check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert f"spike detector 1 of node 0 of '{POP}', which has 0" in result.stderr
    assert "edges.h5" in result.stderr and DETECTOR in result.stderr
