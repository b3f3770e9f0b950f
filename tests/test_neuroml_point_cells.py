"""NeuroML point cells and synapses, converted to SONATA and run by sonatasim, against
jNeuroML's NEURON export of the same LEMS file (models written with libNeuroML here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.dialects.neuroml import examples
from tests.conftest import run_cli
from tests.neuroml_reference import (
    compare_spikes,
    run_jneuroml,
    sonatasim_spikes,
    sonatasim_voltage,
)

pytestmark = pytest.mark.slow
STEP = 0.005


def _both_routes(lems: Path, tmp_path: Path, ranks: int = 1, route: str = "neuron"):
    reference_dir = tmp_path / "jnml"
    shutil.copytree(lems.parent, reference_dir)
    reference = run_jneuroml(reference_dir / lems.name, route)
    sonata = tmp_path / "sonata"
    run_cli("convert", lems, "--to", "sonata", "-o", sonata)
    run_cli("run", sonata / "simulation_config.json", "--no-progress", ranks=ranks)
    return reference, sonata


@pytest.mark.parametrize(
    ("cell", "amplitude", "dl", "route"),
    [
        ("rs_izhikevich2007", 0.15, False, "neuron"),
        ("fs_iafRef", 0.3, False, "neuron"),
        ("plain_iaf", 0.5, False, "neuron"),
        ("burst_adex", 0.6, False, "lems"),
        ("tonic_izh2003", 10.0, True, "lems"),
    ],
)
def test_single_point_cell_matches_jneuroml(tmp_path, cell, amplitude, dl, route):
    """Same spike count, times within 0.1 ms, v RMS < 1 mV at dt = 0.005 ms (both routes
    are first order in dt: jNeuroML lags the cell current by a step, we linearise it)."""
    lems = examples.write_single_cell(
        tmp_path / "model", cell, amplitude, dl_input=dl, step_ms=STEP
    )
    (ref_spikes, ref_v), sonata = _both_routes(lems, tmp_path, route=route)
    ours = sonatasim_spikes(sonata / "output")
    assert ref_spikes[("cell", 0)].size >= 3, "the reference cell should fire"
    worst = compare_spikes(ours, ref_spikes, [("cell", 0)], tolerance=0.1)
    v = sonatasim_voltage(sonata / "output" / "v.h5", 0)
    n = min(v.size, ref_v["v"].size)
    rms = float(np.sqrt(np.mean((v[:n] - ref_v["v"][:n]) ** 2)))
    print(f"{cell}: {ours[('cell', 0)].size} spikes, worst {worst:.4f} ms, v rms {rms:.4f} mV")
    assert rms < 1.0, f"soma voltage RMS difference {rms} mV"
