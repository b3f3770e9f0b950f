"""Edge files as bmtk's builder writes them: index table `node_id_to_range`, or no index.

libsonata reads only `node_id_to_ranges`; the engine then reads the index with h5py. The
same circuit with the SONATA index, with bmtk's name for it, and with no index at all must
give the same spikes (libsonata re-reads each spike file), on 1 and on 2 ranks.
"""

from __future__ import annotations

import shutil

import h5py
import libsonata
import numpy as np
import pytest

from engine.generate.allen import generate_allen_network
from tests.conftest import run_cli


def _edit_indices(network_dir, how: str) -> int:
    """Rename (bmtk) or delete (none) the indices of every edges file; returns how many."""
    changed = 0
    for path in sorted(network_dir.glob("*edges*.h5")):
        with h5py.File(path, "r+") as f:
            for population in f["edges"]:
                group = f[f"edges/{population}"]
                if how == "none":
                    del group["indices"]
                    changed += 1
                    continue
                for direction in ("source_to_target", "target_to_source"):
                    group[f"indices/{direction}"].move("node_id_to_ranges", "node_id_to_range")
                    changed += 1
    return changed


def _spikes(path) -> dict:
    reader = libsonata.SpikeReader(str(path))
    return {p: sorted(reader[p].get()) for p in reader.get_population_names()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("edge_index")
    circuit = generate_allen_network(root / "sonata")
    run_cli("run", circuit.simulation_config, "--output-dir", root / "out_sonata")
    spikes = _spikes(root / "out_sonata" / "spikes.h5")
    assert sum(len(v) for v in spikes.values()) > 10
    return root, circuit, spikes


@pytest.mark.parametrize("how", ["bmtk", "none"])
def test_bmtk_index_names_and_missing_indices_give_the_same_spikes(reference, how):
    root, circuit, spikes = reference
    copy = root / how
    shutil.copytree(circuit.root, copy)
    assert _edit_indices(copy / "network", how) >= 2
    config = copy / circuit.simulation_config.relative_to(circuit.root)
    text = config.read_text().replace(str(circuit.root), str(copy))
    config.write_text(text)
    for ranks in (1, 2):
        out = root / f"out_{how}_{ranks}"
        run_cli("run", config, "--output-dir", out, ranks=ranks)
        assert _spikes(out / "spikes.h5") == spikes
    balance = run_cli("balance", config, "--ranks", "2")
    assert "imbalance" in balance.stdout + balance.stderr
    assert np.isfinite(float(balance.stdout.split("imbalance (max/mean cost):")[1].split()[0]))
