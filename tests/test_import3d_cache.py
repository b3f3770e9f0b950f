"""The opt-in Import3d parse cache (SONATASIM_IMPORT3D_CACHE=1) builds the same cells.

Each test runs the same thing in two fresh processes, NEURON's own Import3d and the cached
readers, and compares bit for bit: every section's name, L, nseg, parent, 3D points and
every segment's diam and range variables (tests/drivers/import3d_cache.py), on
generated .swc/.asc files and on the real morphologies of ../shared; then spikes and soma
voltages of the BBP-style mini circuit (two cells share a morphology) on 1 and 2 ranks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from engine.generate.morphologies import obi_morphology_name, synthetic_cell, write_cell
from tests.conftest import REPO, run_python, shared_data
from tests.test_bbp_support import write_bbp_circuit
from tests.test_bbp_synapses import DRIVER as BBP_DRIVER
from tests.test_bbp_synapses import _load, _sorted_spikes

DRIVER = REPO / "tests" / "drivers" / "import3d_cache.py"
ENV = "SONATASIM_IMPORT3D_CACHE"


def _both_ways(files: list[Path], tmp_path: Path, monkeypatch) -> tuple[dict, dict]:
    monkeypatch.delenv(ENV, raising=False)
    run_python(DRIVER, tmp_path / "plain.json", *files)
    monkeypatch.setenv(ENV, "1")
    run_python(DRIVER, tmp_path / "cached.json", *files)
    plain = json.loads((tmp_path / "plain.json").read_text())
    cached = json.loads((tmp_path / "cached.json").read_text())
    return plain, cached


def _assert_same_cells(plain: dict, cached: dict, n_files: int) -> None:
    assert plain["cache"]["hits"] == 0
    # three cells per file: one parse, two reuses
    assert cached["cache"] == {"hits": 2 * n_files, "misses": n_files, "files": n_files}
    assert len(plain["cells"]) == 3 * n_files
    for key, sections in plain["cells"].items():
        assert len(sections) > 3
        assert cached["cells"][key] == sections, f"cell {key} differs"


def test_generated_swc_and_asc_cells_are_identical(tmp_path, monkeypatch):
    files = []
    for k, ext in enumerate(("swc", "asc", "swc")):
        cell = synthetic_cell(seed=k, n_axon=20, n_basal=12, n_apical=20, basal_trees=3)
        files.append(write_cell(cell, tmp_path / f"morph{k}" / f"{obi_morphology_name(k)}.{ext}"))
    plain, cached = _both_ways(files, tmp_path, monkeypatch)
    _assert_same_cells(plain, cached, len(files))
    # a cache of one file, cells dealt round-robin over three: every cell parses again
    monkeypatch.setenv("SONATASIM_IMPORT3D_CACHE_FILES", "1")
    run_python(DRIVER, tmp_path / "small.json", *files)
    small = json.loads((tmp_path / "small.json").read_text())
    assert small["cache"] == {"hits": 0, "misses": 3 * len(files), "files": 1}
    assert small["cells"] == plain["cells"]


def test_real_morphologies_are_identical(tmp_path, monkeypatch):
    folder = shared_data("morphologies")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".asc", ".swc"))
    assert files
    _assert_same_cells(*_both_ways(files, tmp_path, monkeypatch), len(files))


@pytest.mark.mpi
def test_circuit_spikes_identical_on_1_and_2_ranks(tmp_path, monkeypatch, mechanisms_built):
    circuit = write_bbp_circuit(tmp_path / "circuit")
    monkeypatch.delenv(ENV, raising=False)
    run_python(BBP_DRIVER, circuit.simulation_config, tmp_path / "plain.npz")
    monkeypatch.setenv(ENV, "1")
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"c{ranks}.npz"
        log = run_python(BBP_DRIVER, circuit.simulation_config, out, ranks=ranks).stdout
        used = re.search(r"Import3d parse cache: (\d+) parses, (\d+) reused", log)
        assert used, log
        parsed, reused = int(used[1]), int(used[2])
        assert parsed + reused == 4  # one Import3d parse per cell without the cache
        assert (parsed, reused) == (3, 1) or ranks > 1  # cells 0 and 1 share a file
        runs[ranks] = _load(out)[0]
    plain = _load(tmp_path / "plain.npz")[0]
    assert plain["spike_gids"].size >= 8, "the mini circuit should fire"
    for ranks, cached in runs.items():
        for one, other in zip(_sorted_spikes(plain), _sorted_spikes(cached), strict=True):
            np.testing.assert_array_equal(one, other, err_msg=f"{ranks} ranks")
        for node in range(4):
            np.testing.assert_array_equal(plain[f"v_cortex_{node}"], cached[f"v_cortex_{node}"])
