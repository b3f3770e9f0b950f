"""Bad input: one clear message naming the file and key, non-zero exit, no traceback,
no output file left behind. Each case breaks one thing in a freshly generated ring."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from engine.generate.networks import generate_ring
from tests.conftest import run_cli


@pytest.fixture
def ring(tmp_path):
    return generate_ring(tmp_path / "ring", n_cells=3, cell_kind="point")


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def assert_clean_failure(result, *needles: str, output: Path | None = None) -> None:
    assert result.returncode != 0, result.stdout
    text = result.stderr
    assert "Traceback" not in text and "Traceback" not in result.stdout, text
    errors = [line for line in text.splitlines() if line.startswith("sonatasim:")]
    assert len(errors) == 1, text
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    if output is not None:
        assert not (output / "spikes.h5").exists()
        assert not list(output.glob("*.tmp-*"))


def run_broken(ring, tmp_path, *extra: str):
    out = tmp_path / "out"
    return run_cli("run", ring.simulation_config, "--output-dir", out, *extra, check=False), out


def test_missing_config(tmp_path):
    result = run_cli("run", tmp_path / "nope.json", check=False)
    assert_clean_failure(result, "nope.json", "not found")
    assert result.returncode == 2


def test_missing_nodes_file(ring, tmp_path):
    (ring.root / "nodes.h5").unlink()
    result, out = run_broken(ring, tmp_path)
    assert_clean_failure(result, "nodes.h5", "not found", output=out)


def test_truncated_hdf5(ring, tmp_path):
    nodes = ring.root / "nodes.h5"
    nodes.write_bytes(nodes.read_bytes()[: nodes.stat().st_size // 2])
    result, out = run_broken(ring, tmp_path)
    assert_clean_failure(result, "nodes.h5", "HDF5", output=out)


def test_unknown_population_in_edge_file(ring, tmp_path):
    with h5py.File(ring.root / "edges.h5", "r+") as f:
        f["edges/ring__ring/source_node_id"].attrs["node_population"] = "cortex"
    result, out = run_broken(ring, tmp_path)
    assert_clean_failure(result, "edges.h5", "ring__ring", "'cortex'", output=out)


def test_unknown_node_set(ring, tmp_path):
    edit_json(ring.simulation_config, lambda d: d.update(node_set="Layer7"))
    result, out = run_broken(ring, tmp_path)
    assert_clean_failure(result, "Layer7", "node_set", output=out)


def test_non_numeric_tstop(ring, tmp_path):
    edit_json(ring.simulation_config, lambda d: d["run"].update(tstop="long"))
    result, out = run_broken(ring, tmp_path)
    assert_clean_failure(result, "simulation_config.json", "tstop", output=out)


def test_missing_template_names_the_file(tmp_path):
    ring = generate_ring(tmp_path / "ring", n_cells=2, cell_kind="biophysical")
    (ring.root / "templates" / "RingCell.hoc").unlink()
    result, out = run_broken(ring, tmp_path)
    assert_clean_failure(result, "RingCell.hoc", "model_template", output=out)


def test_coreneuron_without_a_mechanism_is_refused_clearly(ring, tmp_path):
    """IntFire1 (the ring's point neurons) has no CoreNEURON version: refused before the run."""
    edit_json(ring.simulation_config, lambda d: d.update(target_simulator="CORENEURON"))
    result, out = run_broken(ring, tmp_path)
    assert_clean_failure(result, "IntFire1", "target_simulator", output=out)


def test_debug_shows_the_traceback(ring, tmp_path):
    (ring.root / "nodes.h5").unlink()
    result, _ = run_broken(ring, tmp_path, "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.mpi
def test_error_on_two_ranks_stops_both_without_hanging(ring, tmp_path):
    edit_json(ring.simulation_config, lambda d: d.update(node_set="Layer7"))
    out = tmp_path / "out"
    result = run_cli(
        "run", ring.simulation_config, "--output-dir", out, ranks=2, check=False, timeout=120
    )
    assert result.returncode != 0
    assert result.stderr.count("Layer7") == 1  # every rank failed; rank 0 says it once
    assert "Traceback" not in result.stderr


def test_validate_reports_every_problem_at_once(ring, tmp_path):
    edit_json(ring.simulation_config, lambda d: d.update(node_set="Layer7"))
    edit_json(
        ring.simulation_config,
        lambda d: d["inputs"]["input_spikes"].update(spike_file=str(tmp_path / "gone.h5")),
    )
    result = run_cli("validate", ring.simulation_config, check=False)
    assert result.returncode == 2
    assert "Layer7" in result.stderr and "gone.h5" in result.stderr
    assert "2 problem(s)" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_accepts_a_good_config(ring):
    result = run_cli("validate", ring.simulation_config)
    assert "OK" in result.stdout
    assert "ring: point_neuron, 3 nodes" in result.stdout
