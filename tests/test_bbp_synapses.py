"""BBP-style detailed cells and stochastic synapses, end to end.

The mini circuit of tests/test_bbp_support.py (Import3d templates that replace the axon,
BBP edge attributes, our SonataProb* synapses with their Random123 streams) is run by the
engine and compared with tests/reference/plain_bbp.py, a plain-NEURON script that writes
the neurodamus conventions out by hand. Then: 1 vs 2 ranks, and what each synapse got.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, run_python
from tests.test_bbp_support import (
    FIRST_APIC,
    FIRST_DEND,
    N_AXON,
    assert_tm_parameters,
    write_bbp_circuit,
)

DRIVER = REPO / "tests" / "test_bbp_driver.py"
PLAIN = REPO / "tests" / "reference" / "plain_bbp.py"


def _load(path: Path) -> tuple[dict, dict]:
    data = np.load(path)
    arrays = {k: data[k] for k in data.files if k != "records"}
    return arrays, json.loads(str(data["records"]))


def _sorted_spikes(arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    gids = arrays["spike_gids"].astype(np.int64)
    times = arrays["spike_times"]
    order = np.lexsort((gids, times))
    return gids[order], times[order]


@pytest.fixture(scope="module")
def bbp_run(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("bbp")
    circuit = write_bbp_circuit(root / "circuit")
    run_python(DRIVER, circuit.simulation_config, root / "engine.npz")
    run_python(PLAIN, circuit.root, mechanisms_built, root / "plain.npz")
    engine, records = _load(root / "engine.npz")
    plain = dict(np.load(root / "plain.npz"))
    return circuit, engine, records, plain


def test_spikes_and_soma_voltages_equal_plain_neuron(bbp_run):
    _, engine, _, plain = bbp_run
    gids, times = _sorted_spikes(engine)
    plain_gids, plain_times = _sorted_spikes(plain)
    assert gids.size >= 8, "the mini circuit should fire"
    assert set(gids.tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(gids, plain_gids)
    np.testing.assert_array_equal(times, plain_times)
    for node in range(4):
        np.testing.assert_array_equal(engine[f"v_cortex_{node}"], plain[f"v_cortex_{node}"])


@pytest.mark.mpi
def test_two_ranks_are_bit_identical(bbp_run, tmp_path):
    circuit, engine, records, _ = bbp_run
    run_python(DRIVER, circuit.simulation_config, tmp_path / "two.npz", ranks=2)
    two, two_records = _load(tmp_path / "two.npz")
    for one, other in zip(_sorted_spikes(engine), _sorted_spikes(two), strict=True):
        np.testing.assert_array_equal(one, other)
    for node in range(4):
        np.testing.assert_array_equal(engine[f"v_cortex_{node}"], two[f"v_cortex_{node}"])

    def by_edge(rec: dict) -> dict:
        return {
            (e, i): k for e, i, k in zip(rec["edges"], rec["edge_id"], rec["keys"], strict=True)
        }

    assert by_edge(records) == by_edge(two_records)


def _pop_hash(name: str) -> int:
    digest = hashlib.md5(name.encode()).digest()
    return ((digest[1] & 0x0F) << 8) + digest[0]


def test_every_synapse_got_neurodamus_keys_and_parameters(bbp_run):
    circuit, _, rec, _ = bbp_run
    sim = json.loads(circuit.simulation_config.read_text())
    seed, calcium = sim["run"]["synapse_seed"], sim["conditions"]["extracellular_calcium"]
    n = len(rec["edges"])
    assert n == 4 * 12 + 2 * 12
    for i in range(n):
        name, edge_id = rec["edges"][i], rec["edge_id"][i]
        attrs = circuit.edge_attributes[name]
        src, tgt = circuit.edges[name]
        node = rec["node_id"][i]
        assert tgt[edge_id] == node
        assert rec["synapse_id"][i] == int(np.sum(tgt[:edge_id] == node))
        assert rec["weight"][i] == attrs["conductance"][edge_id]  # nS on the NetCon
        section_id = int(attrs["afferent_section_id"][edge_id])
        removed = 1 <= section_id <= N_AXON and not (node == 3 and section_id <= 2)
        if removed:  # on the original axon, which the template replaced
            assert rec["mechanism"][i] == ""
            continue
        exc = attrs["syn_type_id"][edge_id] >= 100
        assert rec["mechanism"][i] == ("SonataProbAMPANMDA" if exc else "SonataProbGABAAB")
        source_pop = "thalamus" if name.startswith("thalamus") else "cortex"
        third = _pop_hash(source_pop) * 65536 + _pop_hash("cortex") + seed + 300
        assert rec["keys"][i] == [node + 1 + 250, rec["synapse_id"][i] + 100, third]
        p = rec["params"][i]
        assert_tm_parameters(p, attrs, edge_id, rec["synapse_id"][i], calcium)
        if not exc:
            assert p["tau_r_GABAA"] != 0.2 and 0.0 < p["tau_r_GABAA"] < 2.0  # randomized
        expected_section = _expected_section(node, section_id)
        assert rec["section"][i] == expected_section


def _expected_section(node: int, section_id: int) -> str:
    if section_id == 0:
        return "soma[0]"
    if section_id <= 2:  # only the block-rule template (node 3) keeps these ids
        return f"axon[{section_id - 1}]"
    if section_id < FIRST_APIC:
        return f"dend[{section_id - FIRST_DEND}]"
    return f"apic[{section_id - FIRST_APIC}]"


def test_template_arguments_and_section_tables(bbp_run):
    _, _, rec, _ = bbp_run
    cells = {c["node_id"]: c for c in rec["cells"]}
    # NeededAttributes: AIS_scaler 1 and 2 scale the new axon, soma_scaler 1.5 the soma leak
    assert cells[1]["axon_diam"][0] == pytest.approx(2 * cells[0]["axon_diam"][0])
    assert cells[0]["soma_g_pas"] == pytest.approx(4.5e-5)
    assert cells[2]["soma_g_pas"] == pytest.approx(3e-5)  # no NeededAttributes: one 0
    for node in (0, 1, 2):  # indexSections rule: the replacement axon has no id
        table = cells[node]["table"]
        assert len(table) == FIRST_APIC + 130
        assert table[0] == "soma[0]" and table[1:FIRST_DEND] == [""] * N_AXON
        assert table[FIRST_DEND] == "dend[0]" and table[FIRST_APIC] == "apic[0]"
    block = cells[3]["table"]  # block rule: new axon at nsoma+0/1, holes after
    assert block[:4] == ["soma[0]", "axon[0]", "axon[1]", ""]
    assert block[FIRST_DEND] == "dend[0]" and block[-1] == "apic[129]"


def test_synapse_seed_changes_the_release_draws(bbp_run, tmp_path):
    circuit, engine, _, _ = bbp_run
    config = json.loads(circuit.simulation_config.read_text())
    config["run"]["synapse_seed"] += 1
    changed = circuit.root / "simulation_config_seed.json"
    changed.write_text(json.dumps(config))
    run_python(DRIVER, changed, tmp_path / "seed.npz")
    other, _ = _load(tmp_path / "seed.npz")
    differs = [
        not np.array_equal(engine[f"v_cortex_{n}"], other[f"v_cortex_{n}"]) for n in range(4)
    ]
    assert any(differs)
