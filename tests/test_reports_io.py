"""Reports as files: bounded buffers, no file from a killed run, config errors that name
the key, and compartment-set reports.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import REPO, cli_env, run_cli, run_python
from tests.test_reports import RECORD, WINDOW, h5_contents, read_report, ring_with_reports

LONG = {"dt": 0.1, "start_time": 0.0, "end_time": 1000.0}
IMEM_ALL = {"type": "compartment", "variable_name": "i_membrane", "sections": "all",
            "compartments": "all"}  # fmt: skip


def run_with_env(config: Path, out: Path, **env: str) -> str:
    command = [sys.executable, "-m", "engine", "run", str(config), "--output-dir", str(out)]
    result = subprocess.run(
        command, capture_output=True, text=True, env=cli_env() | env, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_a_small_buffer_gives_the_same_file_in_many_bounded_blocks(tmp_path, mechanisms_built):
    config = ring_with_reports(
        tmp_path / "ring", {"imem": {**IMEM_ALL, **LONG}, "v": {"type": "compartment",
        "variable_name": "v", **LONG}}, tstop=1000.0,
    )  # fmt: skip
    whole = run_with_env(config, tmp_path / "whole")
    limit_mb = 0.02  # about 87 frames of the 60-element report
    small = run_with_env(config, tmp_path / "small", SONATASIM_REPORT_BUFFER_MB=str(limit_mb))
    for name in ("imem", "v"):
        one = h5_contents(tmp_path / "whole" / f"{name}.h5")
        many = h5_contents(tmp_path / "small" / f"{name}.h5")
        assert one.keys() == many.keys()
        for key in one:
            np.testing.assert_array_equal(one[key][0], many[key][0], err_msg=key)
    pattern = r"report imem .* (\d+) block\(s\) of at most (\d+) bytes"
    blocks_whole, _ = map(int, re.search(pattern, whole).groups())
    blocks, peak = map(int, re.search(pattern, small).groups())
    file_bytes = 10000 * 60 * 4
    assert blocks_whole == 1  # 2.4 MB: below one background write (WRITE_CHUNK_BYTES)
    assert peak <= limit_mb * 1024 * 1024
    assert blocks >= file_bytes / (limit_mb * 1024 * 1024)


def test_a_killed_run_leaves_no_report_file(tmp_path, mechanisms_built):
    """Killed mid-run: only a temporary part; the next run removes it (also in a subfolder)."""
    config = ring_with_reports(
        tmp_path / "ring", {"v": {"type": "compartment", "variable_name": "v", "dt": 0.025,
        "start_time": 0.0, "end_time": 1e5, "file_name": "sub/v"}}, tstop=1e5,
    )  # fmt: skip
    out = tmp_path / "out" / "sub"
    command = [sys.executable, "-m", "engine", "run", str(config), "--output-dir", str(out.parent)]
    env = cli_env() | {"SONATASIM_REPORT_BUFFER_MB": "0.01"}
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("v.h5.tmp-*")) and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        time.sleep(1.0)  # let it write a few blocks
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    parts = list(out.glob("v.h5.tmp-*"))
    assert parts and parts[0].stat().st_size > 0, "the run was writing its part"
    assert not (out / "v.h5").exists()
    data = json.loads(config.read_text())
    data["run"]["tstop"] = 10.0
    data["reports"]["v"]["end_time"] = 10.0
    config.write_text(json.dumps(data))
    run_cli("run", config, "--output-dir", tmp_path / "out")
    assert (out / "v.h5").exists()
    assert not list((tmp_path / "out").rglob("*.tmp-*")), "the stale part was removed"


BAD_REPORTS = [
    ({"dt": 0.03}, "dt", "multiple of the simulation dt"),
    ({"dt": 0.01}, "dt", "multiple of the simulation dt"),
    ({"start_time": 150.0, "end_time": 200.0}, "start_time", "not before tstop"),
    ({"start_time": 50.0, "end_time": 20.0}, "end_time", "before start_time"),
    ({"variable_name": "v, ina"}, "variable_name", "exactly one variable"),
    ({"variable_name": "gna_hh", "sections": "all"}, "variable_name", "does not exist"),
    ({"type": "summation", "variable_name": "nosuch"}, "variable_name", "no such current"),
    ({"cells": "NoSuchSet"}, "cells", "NoSuchSet"),
    ({"type": "lfp", "variable_name": None, "electrodes_file": "missing.h5"}, "electrodes_file",
     "does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "key", "message"), BAD_REPORTS)
def test_bad_report_blocks_name_the_key(tmp_path, mechanisms_built, change, key, message):
    report = {"type": "compartment", "variable_name": "v", **WINDOW, **change}
    report = {k: v for k, v in report.items() if v is not None}
    config = ring_with_reports(tmp_path / "ring", {"bad": report}, n_cells=2)
    result = run_cli("run", config, "--output-dir", tmp_path / "out", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"reports.bad.{key}" in result.stderr and message in result.stderr, result.stderr
    assert not list((tmp_path / "out").glob("bad.h5*"))


def test_compartment_set_report_records_the_listed_compartments(tmp_path, mechanisms_built):
    entries = [[0, 0, 0.5], [0, 1, 0.3], [2, 1, 0.95], [3, 0, 0.5]]
    config = ring_with_reports(
        tmp_path / "ring",
        {"cs": {"type": "compartment_set", "compartment_set": "probes", "variable_name": "v",
                **WINDOW}},
    )  # fmt: skip
    sets = tmp_path / "ring" / "compartment_sets.json"
    sets.write_text(json.dumps({"probes": {"population": "ring", "compartment_set": entries}}))
    data = json.loads(config.read_text())
    data["compartment_sets_file"] = str(sets)
    config.write_text(json.dumps(data))
    run_cli("run", config, "--output-dir", tmp_path / "probe")
    run_python(RECORD, config, tmp_path / "out", tmp_path / "vectors.npz", "ring")
    vec = np.load(tmp_path / "vectors.npz")
    data, nodes, elements = read_report(tmp_path / "out" / "cs.h5")
    np.testing.assert_array_equal(nodes, [e[0] for e in entries])
    np.testing.assert_array_equal(elements, [e[1] for e in entries])
    keys, steps = vec["seg_keys"], np.arange(data.shape[0]) * 4
    for column, (node, sid, x) in enumerate(entries):
        nseg = int(np.sum((keys[:, 0] == node) & (keys[:, 1] == sid)))
        centre = (min(int(x * nseg), nseg - 1) + 0.5) / nseg
        match = np.flatnonzero((keys[:, 0] == node) & (keys[:, 1] == sid)
                               & np.isclose(keys[:, 2], centre))  # fmt: skip
        expected = vec["seg_v"][steps, match[0]].astype(np.float32)
        np.testing.assert_array_equal(data[:, column], expected)
    with h5py.File(tmp_path / "out" / "cs.h5", "r") as f:
        assert list(f["report"]) == ["ring"]


def test_summation_of_clamp_currents_has_the_membrane_sign(tmp_path, mechanisms_built):
    """IClamp (electrode, +amp in) enters with -1, SonataCurrentSource (membrane) with +1
    (scaling none: under area scaling point processes are weighted by area/100 too)."""
    clamp = {"module": "linear", "input_type": "current_clamp", "delay": 20.0, "duration": 40.0,
             "amp_start": 0.1}  # fmt: skip
    config = ring_with_reports(
        tmp_path / "ring",
        {"clamps": {"type": "summation", "variable_name": "IClamp, SonataCurrentSource",
                    "scaling": "none", "unit": "nA", **WINDOW}},
        n_cells=2,
    )  # fmt: skip
    data = json.loads(config.read_text())
    data["inputs"]["electrode"] = {**clamp, "node_set": "First",
                                   "represents_physical_electrode": True}  # fmt: skip
    data["inputs"]["source"] = {**clamp, "node_set": "Second"}
    config.write_text(json.dumps(data))
    sets_file = Path(data["node_sets_file"])
    if not sets_file.is_absolute():
        sets_file = config.parent / sets_file
    sets = json.loads(sets_file.read_text())
    sets["First"] = {"population": "ring", "node_id": [0]}
    sets["Second"] = {"population": "ring", "node_id": [1]}
    sets_file.write_text(json.dumps(sets))
    run_cli("run", config, "--output-dir", tmp_path / "out")
    values, nodes, elements = read_report(tmp_path / "out" / "clamps.h5")
    np.testing.assert_array_equal(nodes, [0, 1])
    np.testing.assert_array_equal(elements, [0, 0])
    t = np.arange(values.shape[0]) * WINDOW["dt"]
    on = (t > 20.05) & (t < 59.95)
    off = (t < 19.95) | (t > 60.05)
    np.testing.assert_allclose(values[on], -0.1, rtol=1e-6)
    np.testing.assert_array_equal(values[off], 0.0)


def test_synapse_report_elements_have_their_own_point_processes(tmp_path, mechanisms_built):
    """Linear synapses sharing a point process would all report its summed conductance:
    the cells of a synapse report get one point process per edge, the others still share."""
    from engine.generate.networks import generate_ei_network

    circuit = generate_ei_network(tmp_path / "ei", tstop=200.0)
    config = json.loads(circuit.simulation_config.read_text())
    window = {"dt": 0.1, "start_time": 0.0, "end_time": 200.0}
    config["reports"] = {
        "syn": {"type": "synapse", "cells": "Excitatory", "variable_name": "SonataExp2Syn.g",
                "sections": "all", "compartments": "all",
                "unit": "uS", **window},
    }  # fmt: skip
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    out, vectors = tmp_path / "out", tmp_path / "vectors.npz"
    run_python(RECORD, circuit.simulation_config, out, vectors, "cortex")
    vec = np.load(vectors)
    keys, names = vec["syn_keys"], vec["syn_names"]
    data, nodes, elements = read_report(out / "syn.h5", "cortex")
    reported = np.isin(keys[:, 0], np.unique(nodes))
    assert 0 < reported.sum() < len(keys)
    assert len(set(names[reported])) == reported.sum()  # one point process per edge
    assert len(set(names[~reported])) < (~reported).sum()  # sharing stays on elsewhere
    stride = round(window["dt"] / 0.025)
    traces = vec["syn_g"][: data.shape[0] * stride : stride].astype(np.float32)
    # columns are in segment order; (node, synapse id) repeats across edge populations,
    # so each column must take away one recorded trace of the same (node, synapse id)
    expected: dict[tuple[int, int], list[bytes]] = {}
    for k in np.flatnonzero(reported):
        expected.setdefault((int(keys[k, 0]), int(keys[k, 2])), []).append(traces[:, k].tobytes())
    for j in range(data.shape[1]):
        candidates = expected[int(nodes[j]), int(elements[j])]
        candidates.remove(data[:, j].astype(np.float32).tobytes())  # ValueError: no match
    assert not any(expected.values())
    assert data.max() > 0


def test_a_long_report_keeps_process_memory_bounded(tmp_path, mechanisms_built):
    """96 MB of report samples: kept whole with the default budget, in 1 MB blocks with a
    small one; the operating system's peak RSS (getrusage, printed in the summary) must
    drop by about the report's size, and the files must be the same."""
    from engine.generate.networks import generate_ei_network

    circuit = generate_ei_network(tmp_path / "ei", n_exc=160, n_inh=40, n_virtual=100,
                                  tstop=1000.0)  # fmt: skip
    config = json.loads(circuit.simulation_config.read_text())
    config["reports"] = {"all_v": {**IMEM_ALL, "variable_name": "v", **LONG}}
    circuit.simulation_config.write_text(json.dumps(config))
    peaks, files = {}, {}
    for name, budget in (("whole", None), ("blocks", "1")):
        env = {"SONATASIM_REPORT_BUFFER_MB": budget} if budget else {}
        text = run_with_env(circuit.simulation_config, tmp_path / name, **env)
        peaks[name] = float(re.search(r"peak memory\s+(\d+) MB per rank", text).group(1))
        files[name] = h5_contents(tmp_path / name / "all_v.h5")
    size_mb = 10000 * 2400 * 4 / 2**20
    assert files["whole"]["report/cortex/data"][0].nbytes / 2**20 == pytest.approx(size_mb)
    assert peaks["whole"] - peaks["blocks"] > 0.6 * size_mb, peaks
    for key, (data, _) in files["whole"].items():
        np.testing.assert_array_equal(data, files["blocks"][key][0], err_msg=key)
