"""Report variables named as neurodamus names them: a mechanism alone (`pas` is i_pas, a
point process its `i`), `MECH.var`, comma lists summed, with neurodamus 4.2.9's weights
(area/100 for every term under area scaling but i_membrane, -1 for IClamp).

Independent routes: pas currents analytically, i = g_pas (v - e_pas), from the voltage
NEURON recorded (Vector.record, tests/drivers/reports_record.py); synapse and membrane
currents from the same recordings; the clamp currents from their known amplitudes.
Both samplers (compiled and Python) write the same files.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.generate.templates import PASSIVE
from tests.conftest import REPO, run_cli, run_python
from tests.test_reports import frames, read_report, ring_with_reports, segment_columns

RECORD = REPO / "tests" / "drivers" / "reports_record.py"
WINDOW = {"dt": 0.1, "start_time": 0.0, "end_time": 100.0}
N_CELLS = 3
ELECTRODE, SOURCE = 0.12, 0.08  # nA: an IClamp on node 0, a membrane source on node 1
ON = (20.0, 60.0)

REPORTS = {
    "c_pas": {"type": "compartment", "variable_name": "pas", "sections": "all",
              "compartments": "all"},
    "c_pasg": {"type": "compartment", "variable_name": "pas.g", "sections": "all"},
    "c_syn": {"type": "compartment", "variable_name": "SonataExp2Syn", "sections": "soma"},
    "s_pas": {"type": "summation", "variable_name": "pas", "sections": "all"},
    "s_pas_cell": {"type": "summation", "variable_name": "pas", "scaling": "none"},
    "s_syn": {"type": "summation", "variable_name": "SonataExp2Syn"},
    "s_clamp": {"type": "summation", "variable_name": "i_membrane,IClamp"},
    "s_source": {"type": "summation", "variable_name": "MembraneCurrentSource"},
    "cs_pas": {"type": "compartment_set", "compartment_set": "probe", "variable_name": "pas"},
}  # fmt: skip
PROBE = [[0, 0, 0.5], [1, 1, 0.3], [2, 1, 0.9]]  # (node, section id, x)


def write_config(root, reports: dict):
    config = ring_with_reports(
        root, {n: {**WINDOW, "unit": "nA", **r} for n, r in reports.items()}, n_cells=N_CELLS
    )
    data = json.loads(config.read_text())
    clamp = {"module": "linear", "input_type": "current_clamp", "delay": ON[0],
             "duration": ON[1] - ON[0]}  # fmt: skip
    data["inputs"]["electrode"] = {**clamp, "amp_start": ELECTRODE, "node_set": "First",
                                   "represents_physical_electrode": True}  # fmt: skip
    data["inputs"]["source"] = {**clamp, "amp_start": SOURCE, "node_set": "Second"}
    sets_file = config.parent / data["node_sets_file"]
    sets = json.loads(sets_file.read_text())
    sets["First"] = {"population": "ring", "node_id": [0]}
    sets["Second"] = {"population": "ring", "node_id": [1]}
    sets_file.write_text(json.dumps(sets))
    (config.parent / "csets.json").write_text(
        json.dumps({"probe": {"population": "ring", "compartment_set": PROBE}})
    )
    data["compartment_sets_file"] = "csets.json"
    config.write_text(json.dumps(data, indent=1))
    return config


@pytest.fixture(scope="module")
def run(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("variables")
    config = write_config(root / "ring", REPORTS)
    run_python(RECORD, config, root / "out", root / "vectors.npz", "ring")
    return {"config": config, "out": root / "out", "vectors": np.load(root / "vectors.npz")}


def columns(vec, sections: str = "all") -> np.ndarray:
    return np.concatenate([segment_columns(vec, n, sections) for n in range(N_CELLS)])


def pas_current(vec, cols) -> np.ndarray:
    """i_pas (mA/cm2) per time step from the recorded voltage: g (v - e). NEURON evaluates
    currents at the start of a step, so the value held at step k uses v of step k - 1."""
    v = vec["seg_v"][:, cols]
    v = np.concatenate([v[:1], v[:-1]])
    return PASSIVE["g_pas"] * (v - PASSIVE["e_pas"])


def test_mechanism_name_records_its_current_per_compartment(run):
    vec, steps = run["vectors"], frames(WINDOW)
    cols = columns(vec)
    data, nodes, elements = read_report(run["out"] / "c_pas.h5")
    np.testing.assert_array_equal(elements, vec["seg_keys"][cols, 1].astype(int))
    expected = pas_current(vec, cols)[steps]
    np.testing.assert_allclose(data, expected, rtol=1e-6, atol=1e-12)
    assert np.abs(data).max() > 1e-4  # the cells spiked: currents are not trivially 0
    data, _, _ = read_report(run["out"] / "c_pasg.h5")
    np.testing.assert_array_equal(data, np.float32(PASSIVE["g_pas"]))
    # compartment_set: the same current at the listed compartments
    data, nodes, elements = read_report(run["out"] / "cs_pas.h5")
    np.testing.assert_array_equal(nodes, [p[0] for p in PROBE])
    np.testing.assert_array_equal(elements, [p[1] for p in PROBE])
    keys = vec["seg_keys"]
    for column, (node, sid, x) in enumerate(PROBE):
        mine = np.flatnonzero((keys[:, 0] == node) & (keys[:, 1] == sid))
        nseg = mine.size
        segment = mine[min(int(x * nseg), nseg - 1)]
        np.testing.assert_allclose(
            data[:, column], pas_current(vec, [segment])[steps, 0], rtol=1e-6, atol=1e-12
        )


def test_summed_mechanism_currents_have_neurodamus_weights(run):
    vec, steps = run["vectors"], frames(WINDOW)
    area = vec["seg_area"]
    cols = columns(vec)
    pas = pas_current(vec, cols)[steps]
    data, _, _ = read_report(run["out"] / "s_pas.h5")  # per segment, area: nA
    np.testing.assert_allclose(data, pas * area[cols] / 100.0, rtol=1e-5, atol=1e-9)
    data, nodes, elements = read_report(run["out"] / "s_pas_cell.h5")  # whole cell, none
    np.testing.assert_array_equal(elements, 0)
    for node in range(N_CELLS):
        mine = segment_columns(vec, node)
        expected = pas_current(vec, mine)[steps].sum(axis=1)
        np.testing.assert_allclose(data[:, node], expected, rtol=1e-5, atol=1e-10)
    # a point process: its i (nA) times the segment area / 100 under area scaling, as
    # neurodamus 4.2.9 weights it; a compartment report takes the plain sum per segment
    syn_i, syn_nodes = vec["syn_i"][steps], vec["syn_keys"][:, 0]
    summed, _, _ = read_report(run["out"] / "s_syn.h5")
    plain, _, _ = read_report(run["out"] / "c_syn.h5")
    for node in range(N_CELLS):
        soma_area = area[segment_columns(vec, node, "soma")[0]]
        expected = syn_i[:, syn_nodes == node].sum(axis=1)
        assert np.abs(expected).max() > 0
        scale = np.abs(expected).max()
        np.testing.assert_allclose(plain[:, node], expected, rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(
            summed[:, node], expected * soma_area / 100.0, rtol=1e-5, atol=1e-6 * scale
        )


def test_comma_lists_and_clamp_currents(run):
    vec, steps = run["vectors"], frames(WINDOW)
    t = steps * 0.025
    on = (t > ON[0] + 0.05) & (t < ON[1] - 0.05)
    off = (t < ON[0] - 0.05) | (t > ON[1] + 0.05)
    imem = vec["seg_i_membrane_"][steps]
    data, nodes, _ = read_report(run["out"] / "s_clamp.h5")
    for node in range(N_CELLS):
        expected = imem[:, segment_columns(vec, node)].sum(axis=1)
        if node == 0:
            expected = expected - np.where(on, ELECTRODE, 0.0)  # the IClamp enters with -1
        window = on | off  # away from the clamp's switching steps
        scale = np.abs(expected).max()
        np.testing.assert_allclose(
            data[window, node], expected[window], rtol=1e-4, atol=1e-5 * scale
        )
    # neurodamus' MembraneCurrentSource is our SonataCurrentSource: i = -amp, area-weighted
    data, nodes, _ = read_report(run["out"] / "s_source.h5")
    np.testing.assert_array_equal(nodes, np.arange(N_CELLS))  # every cell, as neurodamus
    np.testing.assert_array_equal(data[:, [0, 2]], 0.0)  # only node 1 has a source
    soma_area = vec["seg_area"][segment_columns(vec, 1, "soma")[0]]
    np.testing.assert_allclose(data[on, 1], -SOURCE * soma_area / 100.0, rtol=1e-6)
    np.testing.assert_array_equal(data[off, 1], 0.0)


@pytest.mark.parametrize(("sampler", "ranks"), [("python", 1), ("native", 2)])
def test_python_sampler_and_two_ranks_write_the_same_files(
    run, tmp_path, monkeypatch, sampler, ranks
):
    monkeypatch.setenv("SONATASIM_REPORT_SAMPLER", sampler)
    run_cli("run", run["config"], "--output-dir", tmp_path / "out", "--no-progress", ranks=ranks)
    for name in REPORTS:
        ours, _, _ = read_report(tmp_path / "out" / f"{name}.h5")
        native, _, _ = read_report(run["out"] / f"{name}.h5")
        np.testing.assert_array_equal(ours, native, err_msg=name)


@pytest.mark.parametrize("kind", ["compartment", "summation"])
def test_a_mechanism_without_a_current_is_refused(tmp_path, mechanisms_built, kind):
    """hh writes ina and ik, it has no i_hh: neurodamus finds nothing (compartment: error;
    summation: zeros); we say so and name the way out."""
    config = write_config(tmp_path / "ring", {"r": {"type": kind, "variable_name": "hh"}})
    result = run_cli("run", config, "--output-dir", tmp_path / "out", check=False)
    assert result.returncode == 2, result.stderr
    message = result.stdout + result.stderr
    assert "reports.r.variable_name" in message
    assert "hh has no current 'i'" in message
    assert "Traceback" not in message
