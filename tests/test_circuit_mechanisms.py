"""A circuit that ships its own ProbAMPANMDA_EMS / ProbGABAAB_EMS, as OBI circuits do.

The mini BBP circuit of tests/test_bbp_support.py gets a `components.mechanisms_dir`
holding copies of our mod/sonatasim_prob_ampanmda.mod and sonatasim_prob_gabaab.mod in
which only the POINT_PROCESS line is renamed (written here, at test time). The engine must
compile that directory, choose the _EMS mechanisms over ours, give them the
neurodamus keys and parameters (../shared/docs/neurodamus-compat.md §3.2, §4.2), and,
since the equations are ours, produce bit-identical spikes and soma voltages to the same
circuit on SonataProbAMPANMDA / SonataProbGABAAB.

Then `sonatasim run --mechanisms DIR`: the same files given on the command line instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine import mechanisms
from tests.conftest import REPO, run_cli, run_python
from tests.test_bbp_support import N_AXON, assert_tm_parameters, write_bbp_circuit

DRIVER = REPO / "tests" / "drivers" / "circuit_mechanisms_record.py"
MOD = REPO / "mod"
# our file -> (our point process, the circuit's name for the same model)
COPIES = {
    "sonatasim_prob_ampanmda.mod": ("SonataProbAMPANMDA", "ProbAMPANMDA_EMS"),
    "sonatasim_prob_gabaab.mod": ("SonataProbGABAAB", "ProbGABAAB_EMS"),
}


def write_ems_mods(directory: Path) -> Path:
    """Our two TM mod files with only `POINT_PROCESS <name>` changed to the EMS name."""
    directory.mkdir(parents=True, exist_ok=True)
    for file, (ours, theirs) in COPIES.items():
        text = (MOD / file).read_text()
        line = f"    POINT_PROCESS {ours}\n"
        assert text.count(line) == 1, file
        copy = text.replace(line, f"    POINT_PROCESS {theirs}\n")
        before, after = text.splitlines(), copy.splitlines()
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert changed == [(line.rstrip("\n"), f"    POINT_PROCESS {theirs}")]  # nothing else
        (directory / f"{theirs}.mod").write_text(copy)
    return directory


def with_mechanisms_dir(circuit, directory: Path | None, name: str) -> Path:
    """A copy of the circuit and simulation configs, with components.mechanisms_dir."""
    config = json.loads(circuit.circuit_config.read_text())
    if directory is not None:
        config.setdefault("components", {})["mechanisms_dir"] = str(directory)
    circuit_file = circuit.root / f"circuit_{name}.json"
    circuit_file.write_text(json.dumps(config, indent=1))
    sim = json.loads(circuit.simulation_config.read_text())
    sim["network"] = str(circuit_file)
    sim["output"]["output_dir"] = str(circuit.root / f"output_{name}")
    sim_file = circuit.root / f"simulation_{name}.json"
    sim_file.write_text(json.dumps(sim, indent=1))
    return sim_file


def _load(path: Path) -> tuple[dict, dict, dict]:
    data = np.load(path)
    arrays = {k: data[k] for k in data.files if k != "records"}
    info = json.loads(path.with_suffix(".json").read_text())
    return arrays, json.loads(str(data["records"])), info


def _sorted_spikes(arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    gids, times = arrays["spike_gids"].astype(np.int64), arrays["spike_times"]
    order = np.lexsort((gids, times))
    return gids[order], times[order]


def _pop_hash(name: str) -> int:
    """compat §4.1: ((md5[1] & 0x0F) << 8) + md5[0], written out here."""
    digest = hashlib.md5(name.encode()).digest()
    return ((digest[1] & 0x0F) << 8) + digest[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("circuit_mechanisms")
    circuit = write_bbp_circuit(root / "circuit")
    mod_dir = write_ems_mods(circuit.root / "mechanisms")
    ems_config = with_mechanisms_dir(circuit, mod_dir, "ems")
    ours_config = with_mechanisms_dir(circuit, None, "ours")
    # a private cache: the EMS library is compiled by this run (a shared cache may already
    # hold a build of the same contents, whose marker names someone else's files)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SONATASIM_CACHE_DIR", str(root / "cache"))
        run_python(DRIVER, ems_config, root / "ems.npz")
    run_python(DRIVER, ours_config, root / "ours.npz")
    return circuit, mod_dir, ems_config, _load(root / "ems.npz"), _load(root / "ours.npz")


def test_the_circuit_dir_is_compiled_into_the_loaded_library(runs, mechanisms_built):
    _, mod_dir, _, (_, _, ems_info), (_, _, ours_info) = runs
    for file, (_, theirs) in COPIES.items():
        compiled = Path(ems_info["sources"][f"{theirs}.mod"]).resolve()
        assert compiled == (mod_dir / f"{theirs}.mod").resolve()
        assert Path(ems_info["sources"][file]).resolve() == (MOD / file).resolve()  # ours too
        assert f"{theirs}.mod" not in ours_info["sources"]
    assert all(ems_info["exists"].values())
    assert ours_info["exists"] == {
        "ProbAMPANMDA_EMS": False,
        "ProbGABAAB_EMS": False,
        "SonataProbAMPANMDA": True,
        "SonataProbGABAAB": True,
    }
    assert ems_info["library"] != ours_info["library"]
    assert Path(ours_info["library"]).resolve() == Path(mechanisms_built).resolve()
    # the build directory is named by the hash of our files plus the circuit's
    key = mechanisms.build_key(mechanisms.collect_sources([mod_dir]))
    assert key in Path(ems_info["library"]).parts
    assert key != mechanisms.build_key(mechanisms.collect_sources([]))


def test_ems_synapses_get_neurodamus_keys_and_parameters(runs):
    circuit, _, _, (_, rec, _), (_, ours_rec, _) = runs
    sim = json.loads(circuit.simulation_config.read_text())
    seed, calcium = sim["run"]["synapse_seed"], sim["conditions"]["extracellular_calcium"]
    n = len(rec["edges"])
    assert n == 4 * 12 + 2 * 12
    placed = {"ProbAMPANMDA_EMS": 0, "ProbGABAAB_EMS": 0}
    for i in range(n):
        name, edge_id, node = rec["edges"][i], rec["edge_id"][i], rec["node_id"][i]
        attrs = circuit.edge_attributes[name]
        section_id = int(attrs["afferent_section_id"][edge_id])
        if 1 <= section_id <= N_AXON and not (node == 3 and section_id <= 2):
            assert rec["mechanism"][i] == ""  # on the original axon, replaced by the template
            continue
        exc = attrs["syn_type_id"][edge_id] >= 100
        mechanism = "ProbAMPANMDA_EMS" if exc else "ProbGABAAB_EMS"
        assert rec["mechanism"][i] == mechanism
        assert ours_rec["mechanism"][i] == ("SonataProbAMPANMDA" if exc else "SonataProbGABAAB")
        placed[mechanism] += 1
        # NetCon weight[0] = conductance (nS); gmax stays at the mod default
        assert rec["weight"][i] == attrs["conductance"][edge_id]
        # setRNG(gid + 1 + 250, synapse id + 100, src_hash * 65536 + dst_hash + seed + 300)
        _, tgt = circuit.edges[name]
        synapse_id = int(np.sum(tgt[:edge_id] == node))
        assert rec["synapse_id"][i] == synapse_id
        source = "thalamus" if name.startswith("thalamus") else "cortex"
        third = _pop_hash(source) * 65536 + _pop_hash("cortex") + seed + 300
        assert rec["keys"][i] == [node + 1 + 250, synapse_id + 100, third]
        p = rec["params"][i]
        assert_tm_parameters(p, attrs, edge_id, synapse_id, calcium)
        assert p == ours_rec["params"][i]  # the same numbers as on our mechanisms
        assert rec["keys"][i] == ours_rec["keys"][i]
    assert placed["ProbAMPANMDA_EMS"] > 20 and placed["ProbGABAAB_EMS"] >= 3


def test_spikes_and_voltages_are_bit_identical_to_our_mechanisms(runs):
    _, _, _, (ems, _, _), (ours, _, _) = runs
    gids, times = _sorted_spikes(ems)
    assert gids.size >= 8 and set(gids.tolist()) == {0, 1, 2, 3}
    for a, b in zip((gids, times), _sorted_spikes(ours), strict=True):
        np.testing.assert_array_equal(a, b)
    for node in range(4):
        v = ems[f"v_cortex_{node}"]
        assert v.size == ours[f"v_cortex_{node}"].size > 1000
        np.testing.assert_array_equal(v, ours[f"v_cortex_{node}"])


def _cli_spikes(output_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(output_dir / "spikes.h5") as f:
        ids = f["spikes/cortex/node_ids"][...].astype(np.int64)
        times = f["spikes/cortex/timestamps"][...]
    order = np.lexsort((ids, times))
    return ids[order], times[order]


def test_cli_mechanisms_option_compiles_an_extra_dir(runs, tmp_path):
    """`--mechanisms DIR` on a circuit without mechanisms_dir: the EMS globals exist only
    then, and the run equals the one where the circuit ships the same files."""
    circuit, _, _, (ems, _, _), _ = runs
    extra = write_ems_mods(tmp_path / "extra_mods")
    config = json.loads(with_mechanisms_dir(circuit, None, "cli").read_text())
    # globals of the circuit's mechanisms (mod defaults: the run is unchanged by them)
    config["conditions"]["mechanisms"] = {
        "ProbAMPANMDA_EMS": {"init_depleted": False, "minis_single_vesicle": False},
        "ProbGABAAB_EMS": {"init_depleted": False},
    }
    config_file = circuit.root / "simulation_cli.json"
    config_file.write_text(json.dumps(config, indent=1))

    without = run_cli("run", config_file, "--output-dir", tmp_path / "without", check=False)
    assert without.returncode == 2, without.stdout + without.stderr
    pattern = r"mechanism global 'init_depleted_Prob(AMPANMDA|GABAAB)_EMS' does not exist"
    assert re.search(pattern, without.stderr), without.stderr

    result = run_cli("run", config_file, "--output-dir", tmp_path / "with", "--mechanisms", extra)
    assert "spikes" in result.stdout
    ids, times = _cli_spikes(tmp_path / "with")
    expected = _sorted_spikes(ems)  # cortex gids are node ids (offset 0)
    np.testing.assert_array_equal(ids, expected[0])
    np.testing.assert_array_equal(times, expected[1])
