"""`sonatasim convert` both ways: every written file validates (libNeuroML, libsonata), and
NeuroML -> SONATA -> NeuroML and SONATA -> NeuroML -> SONATA keep populations, node
counts and attributes, edges and their weights and delays exactly."""

from __future__ import annotations

from pathlib import Path

import libsonata
import numpy as np
import pytest
from neuroml.loaders import read_neuroml2_file
from neuroml.utils import validate_neuroml2

from engine.dialects.neuroml import examples
from tests.conftest import REPO, run_cli


def _to_sonata(lems: Path, out: Path) -> Path:
    run_cli("convert", lems, "--to", "sonata", "-o", out)
    return out / "simulation_config.json"


def _to_neuroml(config: Path, out: Path) -> Path:
    run_cli("convert", config, "--to", "neuroml", "-o", out)
    return next(out.glob("LEMS_*.xml"))


def _network(lems: Path):
    net_file = next(lems.parent.glob("*.net.nml"))
    doc = read_neuroml2_file(str(net_file))
    return doc.networks[0]


def _connections(network) -> dict:
    """projection (pre, post populations) -> sorted rows (pre, post, w, delay, segments)."""
    result = {}
    for proj in network.projections:
        rows = sorted(
            (
                c.get_pre_cell_id(),
                c.get_post_cell_id(),
                float(c.weight),
                c.get_delay_in_ms(),
                c.get_pre_segment_id(),
                c.get_post_segment_id(),
                c.get_pre_fraction_along(),
                c.get_post_fraction_along(),
            )
            for c in proj.connection_wds
        )
        result[(proj.presynaptic_population, proj.postsynaptic_population, proj.synapse)] = rows
    return result


def _populations(network) -> dict:
    return {
        p.id: (
            p.component,
            len(p.instances),
            [(i.location.x, i.location.y, i.location.z) for i in p.instances],
        )
        for p in network.populations
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    base = tmp_path_factory.mktemp("neuroml_convert")
    lems = examples.write_network(base / "model", length_ms=100.0)
    sonata = _to_sonata(lems, base / "sonata")
    back = _to_neuroml(sonata, base / "neuroml")
    again = _to_sonata(back, base / "sonata_again")
    return lems, sonata, back, again


def test_every_exported_file_validates(converted):
    _, sonata, back, again = converted
    files = [
        *back.parent.glob("*.nml"),
        *(sonata.parent / "cells").glob("*.nml"),
        *(sonata.parent / "synapses").glob("*.nml"),
    ]
    assert len(files) >= 8
    for path in files:
        validate_neuroml2(str(path))  # raises on an invalid file
    for config in (sonata, again):
        run_cli("validate", config)


def test_neuroml_sonata_neuroml_round_trip(converted):
    lems, _, back, _ = converted
    original, returned = _network(lems), _network(back)
    original_pops = {k: v for k, v in _populations(original).items()}
    assert _populations(returned) == original_pops
    assert _connections(returned) == _connections(original)
    assert sum(len(r) for r in _connections(original).values()) > 30
    spikes = {
        s.id: [float(x.time[:-2]) for x in s.spikes]
        for s in read_neuroml2_file(str(next(back.parent.glob("*.net.nml")))).spike_arrays
    }
    assert spikes == {"drive_spikes": [15.0, 32.5, 60.0, 61.0, 95.0]}


def _nodes(config: Path) -> dict:
    circuit = libsonata.CircuitConfig.from_file(
        str(libsonata.SimulationConfig.from_file(str(config)).network)
    )
    result = {}
    for name in circuit.node_populations:
        pop = circuit.node_population(name)
        everything = libsonata.Selection([(0, pop.size)])
        result[name] = {
            a: np.asarray(pop.get_attribute(a, everything)).tolist()
            for a in sorted(pop.attribute_names)
        }
    edges = {}
    for name in circuit.edge_populations:
        pop = circuit.edge_population(name)
        everything = libsonata.Selection([(0, pop.size)])
        rows = zip(
            pop.source_nodes(everything),
            pop.target_nodes(everything),
            *(pop.get_attribute(a, everything) for a in sorted(pop.attribute_names)),
            strict=True,
        )
        edges[name] = (
            pop.source,
            pop.target,
            sorted(pop.attribute_names),
            sorted(map(tuple, rows)),
        )
    return result, edges


def test_sonata_neuroml_sonata_round_trip(converted):
    _, sonata, _, again = converted
    nodes, edges = _nodes(sonata)
    nodes_again, edges_again = _nodes(again)
    assert nodes_again == nodes
    assert edges_again == edges
    assert sorted(nodes) == ["L23_exc_izh", "L23_inh_iafRef", "L5_burst_adex", "thalamus_drive"]
    assert len(nodes["L23_exc_izh"]["x"]) == 6


def test_hoc_templates_are_refused_by_kind(tmp_path):
    result = run_cli(
        "convert",
        REPO / "configs/example/simulation_config.json",
        "--to",
        "neuroml",
        "-o",
        tmp_path / "out",
        check=False,
    )
    assert result.returncode == 2
    assert "cell templates that are not NeuroML files: cortex (hoc:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unsupported_neuroml_cell_is_refused(tmp_path):
    import neuroml
    import neuroml.writers

    doc = neuroml.NeuroMLDocument(id="tau")
    doc.iaf_tau_cells.append(
        neuroml.IafTauCell(
            id="tau_cell", leak_reversal="-65mV", thresh="-50mV", reset="-65mV", tau="10ms"
        )
    )
    net = neuroml.Network(id="net")
    net.populations.append(neuroml.Population(id="pop", component="tau_cell", size=2))
    doc.networks.append(net)
    path = tmp_path / "tau.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(path))
    result = run_cli("convert", path, "--to", "sonata", "-o", tmp_path / "out", check=False)
    assert result.returncode == 2
    assert (
        str(path) in result.stderr
        and 'population id="pop"' in result.stderr
        and "tau_cell" in result.stderr
    )
