"""The report writer: pwrite into preallocated HDF5 data sets, from the sampler's thread.

Reports are written while the model runs by the native sampler's writer thread
(mod/sonatasim_report_sampler.mod) or, for the Python sampler, by `ReportPartWriter.write`;
both pwrite rows to the contiguous data sets' offsets. These tests cover what the ring's
report tests do not: a report over two populations (each row split over two data sets, in
many blocks), and a write the operating system refuses (disk full).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import libsonata
import numpy as np

from engine.generate.base import NODES_FILE, biophysical_nodes
from engine.generate.networks import generate_ring
from engine.io.sonata_writer import write_nodes
from tests.conftest import REPO, cli_env
from tests.test_reports_sampler import assert_same_files, run_engine

REPORT = {
    "type": "compartment",
    "variable_name": "v",
    "sections": "all",
    "compartments": "all",
    "dt": 0.1,
    "start_time": 0.0,
    "end_time": 200.0,
}


def ring_with_a_second_population(root: Path, n_second: int = 3) -> Path:
    """The ring plus an unconnected biophysical population `second`; report `v` of both."""
    circuit = generate_ring(root, tstop=200.0)
    write_nodes(
        root / NODES_FILE,
        "second",
        biophysical_nodes(n_second, "RingCell", np.random.default_rng(5)),
    )
    config = json.loads(circuit.circuit_config.read_text())
    config["networks"]["nodes"][0]["populations"]["second"] = {"type": "biophysical"}
    circuit.circuit_config.write_text(json.dumps(config, indent=1))
    sets = json.loads(circuit.node_sets_file.read_text())
    sets["Both"] = {"population": ["ring", "second"]}
    circuit.node_sets_file.write_text(json.dumps(sets))
    simulation = json.loads(circuit.simulation_config.read_text())
    simulation["reports"] = {"v": {**REPORT, "cells": "Both"}}
    simulation["node_set"] = "Both"
    circuit.simulation_config.write_text(json.dumps(simulation, indent=1))
    return circuit.simulation_config


def test_two_populations_in_many_blocks(tmp_path, mechanisms_built):
    """Each row holds both populations' columns; the writer thread gathers each data set's
    part. The same file as the Python sampler's, and the ring's columns equal the ring's
    own report from a run without the second population (another column layout)."""
    config = ring_with_a_second_population(tmp_path / "two")
    budget = {"SONATASIM_REPORT_BUFFER_MB": "0.02"}  # ~60 frames of 90 columns: ~30 blocks
    native = run_engine(config, tmp_path / "native", "native", **budget)
    run_engine(config, tmp_path / "python", "python", **budget)
    assert_same_files(tmp_path / "python", tmp_path / "native")
    blocks = int(native.split(" block(s)")[0].rsplit(" ", 1)[1])
    assert blocks >= 20, native

    alone = json.loads(config.read_text())
    alone["reports"]["v"]["cells"] = "Ring"
    alone["node_set"] = "Ring"
    config_alone = config.with_name("simulation_config_ring.json")
    config_alone.write_text(json.dumps(alone))
    run_engine(config_alone, tmp_path / "alone", "native")

    both = libsonata.ElementReportReader(str(tmp_path / "native" / "v.h5"))
    ring = libsonata.ElementReportReader(str(tmp_path / "alone" / "v.h5"))
    assert sorted(both.get_population_names()) == ["ring", "second"]
    got = both["ring"].get()
    want = ring["ring"].get()
    assert np.asarray(got.data).shape == (2000, np.asarray(want.data).shape[1])
    np.testing.assert_array_equal(np.asarray(got.data), np.asarray(want.data))
    assert np.array_equal(np.asarray(got.ids), np.asarray(want.ids))
    second = both["second"]
    assert second.get_node_ids() == [0, 1, 2]
    frames = np.asarray(second.get().data)
    assert frames.shape[0] == 2000 and np.isfinite(frames).all()
    assert frames[0].max() == np.float32(-65.0)  # no input: every compartment starts at rest


DISK_FULL = r"""
import os, sys
from pathlib import Path
from engine import simulator
from engine.config import load_setup
from engine.errors import UserError
from engine.simulation import RunOptions, Simulation

config, out = sys.argv[1], Path(sys.argv[2])
setup = load_setup(config, out)
simulation = Simulation(setup, simulator.start(use_mpi=False), RunOptions(progress=False))
simulation.build()
# the part file's descriptor, now held by the writer thread, refers to /dev/full from here
(recorder,) = simulation.reports.recorders
os.dup2(os.open("/dev/full", os.O_WRONLY), recorder.writer.fd)
try:
    simulation.run()
    simulation.write_outputs()
except UserError as exc:
    print("ERROR", exc.describe())
    sys.exit(2)  # the engine's atexit hook removes the part file
print("no error")
"""


def test_a_refused_write_stops_with_a_message_and_leaves_no_file(tmp_path, mechanisms_built):
    config = ring_with_a_second_population(tmp_path / "two")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(config), str(out)],
        capture_output=True, text=True, env=cli_env() | {"SONATASIM_REPORT_BUFFER_MB": "0.02"},
        cwd=REPO, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stdout.strip().splitlines()[-1]
    assert message.startswith("ERROR in ") and "v.h5.tmp-" in message, message
    assert message.endswith("could not write the report: No space left on device"), message
    assert "Traceback" not in result.stderr
    assert not list(out.glob("v.h5*")), list(out.iterdir())
