"""Reports: values equal plain `Vector.record` of the same variables, sums equal the sums of
recorded currents, files are read by libsonata, and the content never depends on the rank
count or on how often the buffer went to disk.

One engine run (tests/drivers/reports_record.py) records every segment and synapse with
NEURON Vectors next to the reports; the tests compare the files with those recordings.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import libsonata
import numpy as np
import pytest

from engine.generate.networks import generate_ring
from tests.conftest import REPO, run_cli, run_python

RECORD = REPO / "tests" / "drivers" / "reports_record.py"
SIM_DT = 0.025
WINDOW = {"dt": 0.1, "start_time": 0.0, "end_time": 100.0}
N_CELLS, N_COMPARTMENTS, N_ELECTRODES = 5, 12, 3  # ring cell: soma (1 seg) + dend (11 segs)

REPORTS = {
    "soma_v": {"type": "compartment", "variable_name": "v", "cells": "Ring", **WINDOW},
    "imem": {
        "type": "compartment",
        "variable_name": "i_membrane",
        "sections": "all",
        "compartments": "all",
        **WINDOW,
    },
    # end_time beyond tstop (100 ms) is clipped; start_time is not 0; dt is 2 steps
    "ina": {
        "type": "compartment",
        "variable_name": "ina",
        "dt": 0.05,
        "start_time": 10.0,
        "end_time": 500.0,
        "unit": "mA/cm2",
    },  # fmt: skip
    "gna": {"type": "compartment", "variable_name": "hh.gna", **WINDOW},
    "sum_cell": {
        "type": "summation",
        "variable_name": "ina, ik, i_pas, SonataExp2Syn",
        "unit": "nA",
        **WINDOW,
    },
    "sum_pas": {
        "type": "summation",
        "variable_name": "i_pas",
        "sections": "all",
        "scaling": "none",
        **WINDOW,
    },  # fmt: skip
    "sum_imem": {"type": "summation", "variable_name": "i_membrane", "sections": "all", **WINDOW},
    "syn_g": {"type": "synapse", "variable_name": "SonataExp2Syn.g", "unit": "uS", **WINDOW},
    "lfp": {"type": "lfp", "electrodes_file": "electrodes.h5", **WINDOW},
    "off": {"type": "compartment", "variable_name": "v", "enabled": False, **WINDOW},
    "named": {"type": "compartment", "variable_name": "v", "file_name": "sub/voltage", **WINDOW},
}


def ring_with_reports(root: Path, reports: dict, **ring) -> Path:
    """A generated ring whose simulation config has a `reports` block; returns the config."""
    circuit = generate_ring(root, n_cells=ring.pop("n_cells", N_CELLS), **ring)
    config = json.loads(circuit.simulation_config.read_text())
    config["reports"] = reports
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    return circuit.simulation_config


def write_electrodes(path: Path, n_nodes: int, seed: int = 3) -> np.ndarray:
    """An electrodes file (libsonata ElectrodeReader layout) for population ring."""
    factors = np.random.default_rng(seed).normal(size=(n_nodes * N_COMPARTMENTS, N_ELECTRODES))
    with h5py.File(path, "w") as f:
        f["ring/node_ids"] = np.arange(n_nodes, dtype=np.uint64)
        f["ring/offsets"] = (np.arange(n_nodes + 1) * N_COMPARTMENTS).astype(np.uint64)
        f["electrodes/ring/scaling_factors"] = factors
        for k in range(N_ELECTRODES):
            f[f"electrodes/e{k}/ring"] = np.uint64(k)
            f[f"electrodes/e{k}/position"] = np.array([50.0 * k, 0.0, 0.0], dtype=np.float32)
            f[f"electrodes/e{k}/type"] = "LineSource"
    return factors.astype(np.float32).astype(np.float64)  # what the reader hands out


@pytest.fixture(scope="module")
def run(tmp_path_factory, mechanisms_built):
    """The ring with every report type, run once with Vector recordings next to it."""
    root = tmp_path_factory.mktemp("reports")
    config = ring_with_reports(root / "ring", REPORTS)
    factors = write_electrodes(root / "ring" / "electrodes.h5", N_CELLS)
    run_python(RECORD, config, root / "out", root / "vectors.npz", "ring")
    return {"config": config, "out": root / "out", "vectors": np.load(root / "vectors.npz"),
            "factors": factors}  # fmt: skip


def frames(report: dict, n: int | None = None) -> np.ndarray:
    """Indices (in time steps) of the frames of a report block."""
    first, stride = round(report["start_time"] / SIM_DT), round(report["dt"] / SIM_DT)
    end = min(report["end_time"], 100.0)
    count = int(np.ceil((end - report["start_time"]) / report["dt"] - 1e-9))
    return first + stride * np.arange(count if n is None else n)


def read_report(path: Path, population: str = "ring"):
    """(data [frames x elements], node ids per column, element ids) through libsonata."""
    pop = libsonata.ElementReportReader(str(path))[population]
    frame = pop.get()
    ids = np.asarray(frame.ids, dtype=np.int64)
    return np.asarray(frame.data), ids[:, 0], ids[:, 1]


def segment_columns(vectors, node: int, sections: str = "all") -> np.ndarray:
    keys = vectors["seg_keys"]
    mask = keys[:, 0] == node
    if sections == "soma":
        mask &= keys[:, 1] == 0
    return np.flatnonzero(mask)  # section id then x order, as the engine lists them


def test_compartment_reports_equal_vector_record(run):
    vec = run["vectors"]
    for name, var, sections in (("soma_v", "v", "soma"), ("imem", "i_membrane_", "all"),
                                ("ina", "ina", "soma"), ("gna", "gna_hh", "soma")):  # fmt: skip
        data, nodes, elements = read_report(run["out"] / f"{name}.h5")
        steps = frames(REPORTS[name])
        assert data.shape[0] == steps.size
        expected, expected_elements = [], []
        for node in range(N_CELLS):
            cols = segment_columns(vec, node, sections)
            expected.append(vec[f"seg_{var}"][steps][:, cols])
            expected_elements.extend(vec["seg_keys"][cols, 1].astype(int))
        expected = np.concatenate(expected, axis=1).astype(np.float32)
        assert data.dtype == np.float32
        np.testing.assert_array_equal(data, expected, err_msg=name)
        np.testing.assert_array_equal(elements, expected_elements)
    data, _, _ = read_report(run["out"] / "soma_v.h5")
    assert data.max() > 0 and data[0, 0] == np.float32(-65.0)  # spikes; frame 0 = v_init


def test_summation_reports_equal_sums_of_recorded_currents(run):
    vec = run["vectors"]
    area = vec["seg_area"]
    steps = frames(WINDOW)
    data, nodes, elements = read_report(run["out"] / "sum_cell.h5")
    np.testing.assert_array_equal(elements, 0)
    np.testing.assert_array_equal(nodes, np.arange(N_CELLS))
    syn_i = vec["syn_i"][steps]
    for node in range(N_CELLS):
        cols = segment_columns(vec, node)
        density = sum(
            np.nan_to_num(vec[f"seg_{v}"][steps][:, cols]) for v in ("ina", "ik", "i_pas")
        )
        expected = (density * area[cols] / 100.0).sum(axis=1)
        # point processes are area-weighted too (neurodamus 4.2.9); the synapses are on the
        # one-segment soma
        soma_area = area[segment_columns(vec, node, "soma")[0]]
        expected += syn_i[:, vec["syn_keys"][:, 0] == node].sum(axis=1) * soma_area / 100.0
        scale = np.abs(expected).max()
        np.testing.assert_allclose(data[:, node], expected, rtol=1e-5, atol=1e-6 * scale)
    # sections=all, scaling=none: the density itself, per segment
    data, _, elements = read_report(run["out"] / "sum_pas.h5")
    cols = np.concatenate([segment_columns(vec, n) for n in range(N_CELLS)])
    np.testing.assert_array_equal(data, vec["seg_i_pas"][steps][:, cols].astype(np.float32))
    np.testing.assert_array_equal(elements, vec["seg_keys"][cols, 1].astype(int))
    # i_membrane is already absolute (nA): no area factor, same values as the compartment report
    summed, _, _ = read_report(run["out"] / "sum_imem.h5")
    np.testing.assert_array_equal(summed, read_report(run["out"] / "imem.h5")[0])


def test_synapse_report_equals_vector_record_with_synapse_ids(run):
    vec = run["vectors"]
    data, nodes, elements = read_report(run["out"] / "syn_g.h5")
    keys = vec["syn_keys"]  # (node, edge population index, synapse id), all on the soma
    order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0]))
    np.testing.assert_array_equal(nodes, keys[order, 0])
    np.testing.assert_array_equal(elements, keys[order, 2])
    expected = vec["syn_g"][frames(WINDOW)][:, order].astype(np.float32)
    np.testing.assert_array_equal(data, expected)
    assert data.max() > 0  # the synapses were activated


def test_lfp_report_is_the_weighted_sum_of_membrane_currents(run):
    vec = run["vectors"]
    data, nodes, elements = read_report(run["out"] / "lfp.h5")
    np.testing.assert_array_equal(nodes, np.repeat(np.arange(N_CELLS), N_ELECTRODES))
    np.testing.assert_array_equal(elements, np.tile(np.arange(N_ELECTRODES), N_CELLS))
    imem = vec["seg_i_membrane_"][frames(WINDOW)]
    for node in range(N_CELLS):
        rows = run["factors"][node * N_COMPARTMENTS : (node + 1) * N_COMPARTMENTS]
        expected = imem[:, segment_columns(vec, node)] @ rows
        got = data[:, node * N_ELECTRODES : (node + 1) * N_ELECTRODES]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_files_follow_the_sonata_layout_and_name_the_circuit_nodes(run):
    out = run["out"]
    expected = {n for n, r in REPORTS.items() if r.get("enabled", True) and n != "named"}
    written = {p.stem for p in out.glob("*.h5")} - {"spikes"}
    assert written == expected
    assert (out / "sub" / "voltage.h5").is_file()
    assert not list(out.rglob("*.tmp-*")), "no temporary file is left behind"
    for name in expected:
        with h5py.File(out / f"{name}.h5", "r") as f:
            group = f["report/ring"]
            assert group["data"].dtype == np.float32
            assert group["mapping/node_ids"].dtype == np.uint64
            assert group["mapping/index_pointers"].dtype == np.uint64
            assert group["mapping/element_ids"].dtype == np.uint32
            assert group["mapping/time"].dtype == np.float64
            assert group["mapping/time"].attrs["units"] == "ms"
        pop = libsonata.ElementReportReader(str(out / f"{name}.h5"))["ring"]
        assert pop.get_node_ids() == list(range(N_CELLS))
        report = REPORTS[name]
        end = min(report["end_time"], 100.0)
        assert pop.times == (report["start_time"], end, report["dt"])
        assert pop.time_units == "ms"
        assert pop.data_units == report.get("unit", "mV")
    sonata = libsonata.ElementReportReader(str(out / "ina.h5"))["ring"]
    assert sonata.times == (10.0, 100.0, 0.05)
    assert np.asarray(sonata.get().data).shape == (1800, N_CELLS)


@pytest.mark.mpi
def test_one_and_two_ranks_write_identical_reports(run, tmp_path):
    run_cli("run", run["config"], "--output-dir", tmp_path / "one")
    run_cli("run", run["config"], "--output-dir", tmp_path / "two", ranks=2)
    names = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.h5"))
    assert len(names) == len(REPORTS)  # every enabled report and the spikes
    for name in names:
        if name.stem == "spikes":
            continue
        one, two = h5_contents(tmp_path / "one" / name), h5_contents(tmp_path / "two" / name)
        assert one.keys() == two.keys()
        for key in one:
            np.testing.assert_array_equal(one[key][0], two[key][0], err_msg=f"{name}:{key}")
            assert one[key][1] == two[key][1]
        # and the same values as the single-process run with the Vector recordings
        np.testing.assert_array_equal(
            one["report/ring/data"][0], h5_contents(run["out"] / name)["report/ring/data"][0]
        )
    assert not list((tmp_path / "two").rglob("*.tmp-*"))


def h5_contents(path: Path) -> dict:
    """Every dataset of a file: name -> (values, attributes as plain values)."""
    out: dict = {}

    def visit(name: str, item) -> None:
        if isinstance(item, h5py.Dataset):
            attrs = {k: np.asarray(v).tolist() for k, v in item.attrs.items()}
            out[name] = (item[...], attrs)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out
