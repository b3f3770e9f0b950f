"""Checkpoint and restore (`run --save DIR`, `run --restore DIR`): a run cut in two segments
gives the same spikes and report frames, bit for bit, as one uninterrupted run.

The circuit has every random stream at once (stochastic TM synapses, minis, noise, shot
noise, poisson input, replay), a delayed weight override after the cut and a soma voltage
report. The first segment stops at T_SAVE (tstop, or --save-time with the run going on);
the second restores it with the full tstop. Its spike file holds the spikes after T_SAVE,
its report the frames from T_SAVE on (as a neurodamus restore writes its own segment), so
segment one + segment two must equal the uninterrupted run, on 1 and on 2 ranks.
"""

from __future__ import annotations

import json

import h5py
import libsonata
import numpy as np
import pytest

from tests.conftest import run_cli
from tests.test_bbp_support import write_bbp_circuit
from tests.test_reproducibility import INPUTS

TSTOP = 200.0
T_SAVE = 90.0
REPORT = {"type": "compartment", "variable_name": "v", "cells": "Cortex", "dt": 0.1,
          "start_time": 5.0, "end_time": 200.0}  # fmt: skip
POISSON = {"module": "poisson", "input_type": "spikes", "node_set": "Thalamus", "rate": 20.0,
           "weight": 1.0, "delay": 0.0, "duration": 200.0}  # fmt: skip
OVERRIDE = {"name": "later", "source": "Thalamus", "target": "Cortex", "delay": 130.0,
            "weight": 1.5}  # fmt: skip


def _config(circuit, path, tstop):
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"].update(INPUTS, trains=POISSON)
    config["reports"] = {"soma": REPORT}
    config["run"].update(tstop=tstop, minis_seed=11, stimulus_seed=5)
    config["connection_overrides"] = [OVERRIDE]
    path.write_text(json.dumps(config, indent=1))
    return path


@pytest.fixture(scope="module")
def circuit(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("checkpoint")
    circuit = write_bbp_circuit(root / "bbp")
    with h5py.File(circuit.root / "nodes.h5", "r+") as f:
        group = f["nodes/cortex/0"]
        group["exc_mini_frequency"] = np.array([2.0, 1.0, 3.0, 0.5])
        group["inh_mini_frequency"] = np.array([1.0, 4.0, 0.0, 2.0])
    full = _config(circuit, circuit.root / "full.json", TSTOP)
    first = _config(circuit, circuit.root / "first.json", T_SAVE)
    return root, full, first


def _spikes(path) -> list[tuple[int, float]]:
    reader = libsonata.SpikeReader(str(path))
    return sorted(reader["cortex"].get())


def _report(path):
    population = libsonata.ElementReportReader(str(path))["cortex"]
    frame = population.get()
    return np.asarray(frame.data), np.asarray(frame.ids), population.times


def _check_segments(full, first, second, minimum=10):
    spikes = _spikes(full / "spikes.h5")
    assert len(spikes) > minimum, "the circuit should fire"
    assert any(t > T_SAVE for _, t in spikes) and any(t < T_SAVE for _, t in spikes)
    assert all(t > T_SAVE for _, t in _spikes(second / "spikes.h5"))
    assert sorted(_spikes(first / "spikes.h5") + _spikes(second / "spikes.h5")) == spikes
    data, ids, times = _report(full / "soma.h5")
    data1, ids1, times1 = _report(first / "soma.h5")
    data2, ids2, times2 = _report(second / "soma.h5")
    assert times2[0] == pytest.approx(T_SAVE) and times1[1] == pytest.approx(T_SAVE)
    np.testing.assert_array_equal(ids1, ids)
    np.testing.assert_array_equal(ids2, ids)
    assert data1.shape[0] + data2.shape[0] == data.shape[0]
    np.testing.assert_array_equal(np.concatenate([data1, data2]), data)


@pytest.mark.mpi
@pytest.mark.parametrize("ranks", [1, 2])
def test_two_segments_equal_one_run(circuit, tmp_path, ranks):
    root, full, first = circuit
    out = {k: tmp_path / k for k in ("full", "first", "second", "midway", "again")}
    run_cli("run", full, "--output-dir", out["full"], ranks=ranks)
    ckpt = tmp_path / "ckpt"
    result = run_cli("run", first, "--output-dir", out["first"], "--save", ckpt, ranks=ranks)
    assert "Checkpoint at t = 90" in result.stderr + result.stdout
    manifest = json.loads((ckpt / "manifest.json").read_text())
    assert manifest["nranks"] == ranks and manifest["time"] == pytest.approx(T_SAVE)
    assert "SonataProbAMPANMDA.rng" in manifest["random_variables"]
    assert "SonataInhPoissonStim.exp_rng" in manifest["random_variables"]
    run_cli("run", full, "--output-dir", out["second"], "--restore", ckpt, ranks=ranks)
    _check_segments(out["full"], out["first"], out["second"])
    # --save-time: the checkpoint is taken on the way, the run goes on to tstop
    midway = tmp_path / "midway_ckpt"
    run_cli("run", full, "--output-dir", out["midway"], "--save", midway,
            "--save-time", T_SAVE, ranks=ranks)  # fmt: skip
    assert _spikes(out["midway"] / "spikes.h5") == _spikes(out["full"] / "spikes.h5")
    run_cli("run", full, "--output-dir", out["again"], "--restore", midway, ranks=ranks)
    _check_segments(out["full"], out["first"], out["again"])


def test_three_chained_segments_of_one_config(circuit, tmp_path):
    """As a chained Slurm job: one config, --tstop per segment, each restores the last."""
    root, full, _ = circuit
    run_cli("run", full, "--output-dir", tmp_path / "full")
    ends = [T_SAVE, 150.0, None]
    for k, end in enumerate(ends):
        args = ["run", full, "--output-dir", tmp_path / f"part{k}"]
        args += ["--tstop", end, "--save", tmp_path / f"ckpt{k}"] if end else []
        args += ["--restore", tmp_path / f"ckpt{k - 1}"] if k else []
        run_cli(*args)
    spikes = sorted(s for k in range(3) for s in _spikes(tmp_path / f"part{k}" / "spikes.h5"))
    assert spikes == _spikes(tmp_path / "full" / "spikes.h5")
    data = np.concatenate([_report(tmp_path / f"part{k}" / "soma.h5")[0] for k in range(3)])
    np.testing.assert_array_equal(data, _report(tmp_path / "full" / "soma.h5")[0])


@pytest.mark.mpi
def test_restore_on_other_rank_count_is_refused(circuit, tmp_path):
    root, full, first = circuit
    ckpt = tmp_path / "ckpt"
    run_cli("run", first, "--output-dir", tmp_path / "a", "--save", ckpt)
    result = run_cli(
        "run", full, "--output-dir", tmp_path / "b", "--restore", ckpt, ranks=2, check=False
    )
    assert result.returncode == 2
    assert "written by 1 rank(s), this run has 2" in result.stderr
    assert "Traceback" not in result.stderr
    # a tstop not after the checkpoint, and a directory that is no checkpoint
    result = run_cli("run", first, "--restore", ckpt, check=False)
    assert result.returncode == 2 and "is not after the checkpoint time" in result.stderr
    result = run_cli("run", full, "--restore", tmp_path / "a", check=False)
    assert result.returncode == 2 and "not a sonatasim checkpoint" in result.stderr


def _without_overrides(path):
    config = json.loads(path.read_text())
    config["connection_overrides"] = []
    target = path.with_name(f"core_{path.name}")  # beside it: relative paths still hold
    target.write_text(json.dumps(config, indent=1))
    return target


@pytest.mark.mpi
@pytest.mark.parametrize("ranks", [1, 2])
def test_coreneuron_two_segments_equal_one_coreneuron_run(circuit, tmp_path, ranks):
    """CoreNEURON: each psolve hands its state back to NEURON, whose checkpoint carries it.

    No delayed weight override here: CoreNEURON refuses those (Python events mid-run).
    """
    full, first = (_without_overrides(path) for path in circuit[1:])
    core = ("--simulator", "coreneuron")
    out = {k: tmp_path / k for k in ("full", "first", "second")}
    run_cli("run", full, *core, "--output-dir", out["full"], ranks=ranks)
    ckpt = tmp_path / "ckpt"
    run_cli("run", first, *core, "--output-dir", out["first"], "--save", ckpt, ranks=ranks)
    assert json.loads((ckpt / "manifest.json").read_text())["simulator"] == "CORENEURON"
    run_cli("run", full, *core, "--output-dir", out["second"], "--restore", ckpt, ranks=ranks)
    _check_segments(out["full"], out["first"], out["second"], minimum=5)
    if ranks == 1:  # --save-time: CoreNEURON stops, the state is saved, CoreNEURON goes on
        midway, again = tmp_path / "midway_ckpt", tmp_path / "again"
        run_cli("run", full, *core, "--output-dir", tmp_path / "midway", "--save", midway,
                "--save-time", T_SAVE)  # fmt: skip
        assert _spikes(tmp_path / "midway" / "spikes.h5") == _spikes(out["full"] / "spikes.h5")
        run_cli("run", full, *core, "--output-dir", again, "--restore", midway)
        _check_segments(out["full"], out["first"], again, minimum=5)
    if ranks == 1:  # a CoreNEURON checkpoint is continued by CoreNEURON only
        result = run_cli("run", full, "--output-dir", tmp_path / "n", "--restore", ckpt,
                         check=False)  # fmt: skip
        assert result.returncode == 2 and "--simulator coreneuron" in result.stderr
