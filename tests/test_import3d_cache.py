"""The Import3d parse cache and section-tree replay (on by default) build the same cells.

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


def _both_ways(files: list[Path], tmp_path: Path, monkeypatch, *checks: str) -> tuple[dict, dict]:
    monkeypatch.setenv(ENV, "0")
    run_python(DRIVER, *checks, tmp_path / "plain.json", *files)
    monkeypatch.setenv(ENV, "1")
    run_python(DRIVER, *checks, tmp_path / "cached.json", *files)
    plain = json.loads((tmp_path / "plain.json").read_text())
    cached = json.loads((tmp_path / "cached.json").read_text())
    return plain, cached


def _assert_same_cells(plain: dict, cached: dict, n_files: int) -> None:
    assert plain["cache"]["hits"] == 0
    # three cells per file: one parse, two reuses; NEURON builds the second and the
    # program is learned from it, the third is replayed in bulk (its forsec / forall
    # appends too); another template's first cell is replayed with the forsec / forall
    # statements themselves, its second with their appends
    expected = {
        "hits": 2 * n_files, "misses": n_files, "files": n_files,
        "replayed": n_files, "appended": n_files,
    }  # fmt: skip
    if plain["kept"]:  # with --checks
        kinds = len({key.split(".")[1] for key in plain["kept"] if key.count(".") == 2})
        expected["replayed_after_keep"] = 0
        expected["other_template"] = {"replayed": 2 * kinds, "appended": kinds}
    assert cached["cache"] == expected
    assert len(plain["cells"]) == 3 * n_files
    for key, sections in plain["cells"].items():
        assert len(sections) > 3
        assert cached["cells"][key] == sections, f"cell {key} differs"
        assert cached["lists"][key] == plain["lists"][key], f"cell {key}: lists differ"
        assert len(plain["lists"][key]["all"]) > len(plain["lists"][key]["basal"]) > 0
    # keepCommands=1 and a nil cell run NEURON's own instantiate: same commands and cells
    for key, kept in plain["kept"].items():
        assert "commands" not in kept or len(kept["commands"]) > len(kept["cell"])
        assert len(kept["cell"]) > 3
        assert cached["kept"][key] == kept, f"file {key} with keepCommands=1 (or nil) differs"


def _with_spines_and_markers(path: Path) -> Path:
    """`path` (a generated .asc) with spines after some points and Dot markers ending some
    branches, as Neurolucida writes them; Import3d records the spines, skips the markers."""
    lines = path.read_text().splitlines()
    point = re.compile(r"^(\s+)\(-?\d")
    out, spines, markers = [], 0, 0
    for i, line in enumerate(lines[:-1]):
        out.append(line)
        found = point.match(line)
        if found is None or i < 40:
            continue
        indent, next_is_point = found[1], point.match(lines[i + 1]) is not None
        if spines < 4 and next_is_point and i % 7 == 0:
            out.append(f"{indent}<(1.5 2.5 3.5 0.5)>")
            spines += 1
        elif markers < 3 and not next_is_point:
            marker = ["(Dot", "  (Color Yellow)", '  (Name "Marker 1")', "  (1.0 2.0 3.0 0.5)", ")"]
            out += [indent + text for text in marker]
            markers += 1
    assert (spines, markers) == (4, 3)
    path.write_text("\n".join([*out, lines[-1]]) + "\n")
    return path


def test_generated_swc_and_asc_cells_are_identical(tmp_path, monkeypatch):
    files = []
    # contour somas (swc: a chain of zero-radius samples; asc with spines and markers),
    # single-point somas
    kinds = [("swc", True), ("asc", True), ("swc", False), ("asc", False)]
    for k, (ext, contour) in enumerate(kinds):
        cell = synthetic_cell(
            seed=k, n_axon=20, n_basal=12, n_apical=20, basal_trees=3, contour=contour
        )
        path = tmp_path / f"morph{k % 3}" / f"{obi_morphology_name(k)}.{ext}"
        files.append(write_cell(cell, path))
    _with_spines_and_markers(files[1])
    plain, cached = _both_ways(files, tmp_path, monkeypatch, "--checks")
    assert len(plain["kept"]) == 2 + 4 + 1  # keepCommands=1 x 2 kinds, other template, nil
    _assert_same_cells(plain, cached, len(files))
    assert sum(s["contour"] is not None for s in plain["cells"]["1.0"]) == 1  # asc contour
    assert len(plain["cells"]["2.0"][0]["points"]) == 3  # a single-point soma's 3 points
    # a cache of one file, cells dealt round-robin over three: every cell parses again,
    # and the dropped parse's program goes with it (nothing replayed)
    monkeypatch.setenv("SONATASIM_IMPORT3D_CACHE_FILES", "1")
    run_python(DRIVER, tmp_path / "small.json", *files[:3])
    small = json.loads((tmp_path / "small.json").read_text())
    assert small["cache"] == {
        "hits": 0, "misses": 9, "files": 1, "replayed": 0, "appended": 0,
    }  # fmt: skip
    assert small["cells"] == {k: v for k, v in plain["cells"].items() if int(k.split(".")[0]) < 3}


def test_real_morphologies_are_identical(tmp_path, monkeypatch):
    folder = shared_data("morphologies")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".asc", ".swc"))
    assert files
    _assert_same_cells(*_both_ways(files, tmp_path, monkeypatch), len(files))


@pytest.mark.mpi
def test_circuit_spikes_identical_on_1_and_2_ranks(tmp_path, monkeypatch, mechanisms_built):
    circuit = write_bbp_circuit(tmp_path / "circuit")
    monkeypatch.setenv(ENV, "0")
    plain_log = run_python(BBP_DRIVER, circuit.simulation_config, tmp_path / "plain.npz").stdout
    assert "Import3d parse cache" not in plain_log  # switched off: NEURON's own Import3d
    monkeypatch.delenv(ENV)  # the default: on
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"c{ranks}.npz"
        log = run_python(BBP_DRIVER, circuit.simulation_config, out, ranks=ranks).stdout
        used = re.search(r"Import3d parse cache: (\d+) parses, (\d+) reused, (\d+) sec", log)
        assert used, log
        parsed, reused, replayed = int(used[1]), int(used[2]), int(used[3])
        assert parsed + reused == 4  # one Import3d parse per cell without the cache
        # a file's second cell is built by NEURON and learned from, later ones replayed
        # (here no file has three cells on a rank; the tests above cover the replay)
        assert replayed == 0
        assert (parsed, reused) == (3, 1) or ranks > 1  # cells 0 and 1 share a file
        runs[ranks] = _load(out)[0]
    plain = _load(tmp_path / "plain.npz")[0]
    assert plain["spike_gids"].size >= 8, "the mini circuit should fire"
    for ranks, cached in runs.items():
        for one, other in zip(_sorted_spikes(plain), _sorted_spikes(cached), strict=True):
            np.testing.assert_array_equal(one, other, err_msg=f"{ranks} ranks")
        for node in range(4):
            np.testing.assert_array_equal(plain[f"v_cortex_{node}"], cached[f"v_cortex_{node}"])
