"""conditions.modifications and the other conditions, run by the engine on the probe circuit.

Every section and segment of every cell is compared with an unmodified run: exactly the
ones a block selects change, in file order; TTX abolishes the spikes of its cells.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from engine.managers.modifications import is_sodium_conductance, written_currents
from tests.conftest import REPO, run_cli, run_python
from tests.test_overrides_support import N_CELLS, variant, write_probe_circuit

DRIVER = REPO / "tests" / "drivers" / "conditions_probe.py"
MODIFICATIONS = [
    {"name": "block_na", "type": "ttx", "node_set": "Cell0"},
    {"name": "membrane", "type": "configure_all_sections", "node_set": "Cell1",
     "section_configure": "%s.cm *= 2; %s.g_pas = 5e-5"},
    {"name": "hh_only", "type": "configure_all_sections", "node_set": "Cell3",
     "section_configure": "%s.gkbar_hh *= 0.5\n%s.cm = 1.5"},
    {"name": "basal", "type": "section_list", "node_set": "Passive",
     "section_configure": "basal.g_pas = 1e-4"},
    {"name": "one_axon", "type": "section", "node_set": "Cell3",
     "section_configure": "axon[2].gnabar_hh = 0.06"},
    {"name": "spot", "type": "compartment_set", "compartment_set": "spot",
     "section_configure": "g_pas *= 4"},
    {"name": "ghost", "type": "section", "node_set": "Cell2",
     "section_configure": "apic[3].cm = 2"},
]  # fmt: skip
SPOT = {"spot": {"population": "cells", "compartment_set": [[1, 1, 0.3], [2, 0, 0.5]]}}


def _load(path) -> tuple[dict, dict]:
    data = np.load(path)
    return {k: data[k] for k in data.files if k != "records"}, json.loads(str(data["records"]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("modifications")
    circuit = write_probe_circuit(root / "circuit")
    (circuit.root / "compartment_sets.json").write_text(json.dumps(SPOT))
    conditions = {"modifications": MODIFICATIONS}
    configs = {
        "base": circuit.simulation_config,
        "mods": variant(
            circuit,
            "mods",
            conditions=conditions,
            compartment_sets_file=str(circuit.root / "compartment_sets.json"),
        ),
        "conds": variant(
            circuit,
            "conds",
            conditions={
                "celsius": 10.0,
                "v_init": -70.0,
                "spike_location": "AIS",
                "extracellular_calcium": 1.5,
                "randomize_gaba_rise_time": True,
                "mechanisms": {
                    "SonataProbAMPANMDA": {"init_depleted": True},
                    "SonataProbGABAAB": {"minis_single_vesicle": 1},
                },
            },
        ),
    }
    out, logs = {}, {}
    for name, config in configs.items():
        logs[name] = run_python(DRIVER, config, root / f"{name}.npz")
        out[name] = _load(root / f"{name}.npz")
    return root, out, logs


def _sections(records: dict) -> dict[int, dict]:
    return {c["node_id"]: c["sections"] for c in records["cells"]}


def _expected(base: dict) -> dict[int, dict]:
    """The base run's section values with MODIFICATIONS applied by hand."""
    expected = copy.deepcopy(base)
    for sections in expected.values():
        for values in sections.values():
            values.pop("Ra")
    cell0 = expected[0]
    for values in cell0.values():  # ttx: every section, sodium of hh only
        values["ttxo"] = [1.0] * len(values["cm"])
        values["ttxi"] = [1 / 64] * len(values["cm"])  # the BBP channels' "TTX is on" sentinel
        values["level_SonataTTX"] = [1.0] * len(values["cm"])
        if "gnabar_hh" in values:
            values["gnabar_hh"] = [0.0] * len(values["cm"])
    for values in expected[1].values():  # membrane: every section of cell 1
        values["cm"] = [2 * c for c in values["cm"]]
        values["g_pas"] = [5e-5] * len(values["cm"])
    for values in expected[3].values():  # hh_only: sections with both variables
        if "gkbar_hh" in values:
            values["gkbar_hh"] = [0.5 * g for g in values["gkbar_hh"]]
            values["cm"] = [1.5] * len(values["cm"])
    for node in (1, 2, 4):  # basal
        expected[node]["dend[0]"]["g_pas"] = [1e-4] * len(expected[node]["dend[0]"]["g_pas"])
    axon = expected[3]["axon[2]"]  # one_axon
    axon["gnabar_hh"] = [0.06] * len(axon["gnabar_hh"])
    dend = expected[1]["dend[0]"]["g_pas"]  # spot: dend(0.3) of cell 1, soma(0.5) of cell 2
    index = int(0.3 * len(dend))
    dend[index] *= 4
    expected[2]["soma[0]"]["g_pas"][0] *= 4
    return expected


def test_each_modification_changes_exactly_its_sections(runs):
    _, out, logs = runs
    base, mods = _sections(out["base"][1]), _sections(out["mods"][1])
    got = {n: {s: {k: v for k, v in vals.items() if k != "Ra"} for s, vals in secs.items()}
           for n, secs in mods.items()}  # fmt: skip
    expected = _expected(base)
    assert set(got) == set(range(N_CELLS))
    for node in range(N_CELLS):
        for section, values in expected[node].items():
            for name, want in values.items():
                np.testing.assert_allclose(
                    got[node][section][name], want, rtol=1e-12, err_msg=f"{node} {section} {name}"
                )
            assert set(got[node][section]) == set(values), (node, section)
    assert "modification 'ghost' (section) changed nothing" in logs["mods"].stdout


def test_ttx_abolishes_the_spikes_of_its_cells_only(runs):
    _, out, _ = runs
    base, mods = out["base"][0], out["mods"][0]
    assert {0, 3} <= set(base["spike_gids"].tolist())
    assert 0 not in set(mods["spike_gids"].tolist())
    assert 3 in set(mods["spike_gids"].tolist())
    assert mods["v_cells_0"].max() < -40.0
    np.testing.assert_array_equal(mods["v_cells_4"][:1], base["v_cells_4"][:1])


def test_sodium_conductance_rule():
    hh_like = """NEURON { SUFFIX hh  USEION na READ ena WRITE ina
        USEION k READ ek WRITE ik  NONSPECIFIC_CURRENT il  RANGE gnabar, gkbar, gl }"""
    na_only = """COMMENT USEION k WRITE ik ENDCOMMENT
        NEURON { SUFFIX NaTg : USEION ca WRITE ica
        USEION na READ ena WRITE ina
        USEION ttx READ ttxo, ttxi VALENCE 1  RANGE gNaTgbar }"""
    calcium = "NEURON { SUFFIX CaHVA USEION ca READ eca WRITE ica RANGE gCaHVAbar }"
    assert written_currents(hh_like) == {"ina", "ik", "nonspecific"}
    assert written_currents(na_only) == {"ina"}
    assert written_currents(calcium) == {"ica"}
    assert is_sodium_conductance("gnabar", {"ina", "ik", "nonspecific"})
    assert not is_sodium_conductance("gkbar", {"ina", "ik", "nonspecific"})
    assert not is_sodium_conductance("gl", {"ina", "ik", "nonspecific"})
    assert is_sodium_conductance("gNaTgbar", {"ina"})
    assert is_sodium_conductance("gbar", {"ina"})
    assert is_sodium_conductance("gmax", {"ina"})
    assert not is_sodium_conductance("vshift", {"ina"})
    assert not is_sodium_conductance("gCaHVAbar", {"ica"})


def test_conditions_are_honoured(runs):
    root, out, _ = runs
    arrays, records = out["conds"]
    base_arrays, base_records = out["base"]
    assert records["globals"] == {
        "celsius": 10.0,
        "v_init": -70.0,
        "init_depleted_SonataProbAMPANMDA": 1.0,
        "minis_single_vesicle_SonataProbGABAAB": 1.0,
    }
    for node in range(N_CELLS):
        assert arrays[f"v_cells_{node}"][0] == -70.0
        assert base_arrays[f"v_cells_{node}"][0] == -65.0
    assert {c["node_id"]: c["spike_source"] for c in records["cells"]} == {
        n: ["axon[1]", 0.5] for n in range(N_CELLS)
    }
    assert {c["spike_source"][0] for c in base_records["cells"]} == {"soma[0]"}
    scale = (2.0**4 + 16) / 16 * 1.5**4 / (2.0**4 + 1.5**4)  # u_hill_coefficient 2, Ca 1.5
    gaba = []
    for edge in records["edges"]:
        if edge["mechanism"]:
            assert edge["params"]["Use"] == pytest.approx(1.0 * scale, rel=1e-14)
        if edge["mechanism"] == "SonataProbGABAAB":
            keys = list(edge["keys"])
            keys[2] += 450 - 300
            gaba.append((keys, edge["params"]["tau_r_GABAA"]))
    assert gaba
    spec = {"random_seed": 1, "tstop": 1.0, "gaba": [k for k, _ in gaba]}
    (root / "gaba.json").write_text(json.dumps(spec))
    run_python(REPO / "tests" / "drivers" / "conditions_expected.py", root / "gaba.json",
               root / "gaba_out.json")  # fmt: skip
    expected = json.loads((root / "gaba_out.json").read_text())["gaba"]
    assert [tau for _, tau in gaba] == expected
    assert not np.array_equal(arrays["spike_times"], base_arrays["spike_times"])  # celsius


@pytest.mark.parametrize(
    ("modification", "message"),
    [
        ({"type": "configure_all_sections", "node_set": "Cell1",
          "section_configure": "%s.cm = __import__('os').getpid()"}, "cannot use"),
        ({"type": "section_list", "node_set": "Cell1",
          "section_configure": "apical.cm = 2; %s.cm = 3"}, "must start with a section list"),
        ({"type": "section", "node_set": "Cell1",
          "section_configure": "soma[0].cm.real = 2"}, "cannot use"),
        ({"type": "compartment_set", "compartment_set": "spot",
          "section_configure": "cm = exec('x')"}, "cannot use"),
        ({"type": "configure_all_sections", "node_set": "Cell1",
          "section_configure": "%s.nseg = 3"}, "nseg cannot be changed"),
    ],
)  # fmt: skip
def test_unsafe_section_configure_is_rejected(tmp_path, modification, message):
    circuit = write_probe_circuit(tmp_path / "circuit")
    (circuit.root / "compartment_sets.json").write_text(json.dumps(SPOT))
    config = variant(
        circuit,
        "bad",
        conditions={"modifications": [{"name": "bad", **modification}]},
        compartment_sets_file=str(circuit.root / "compartment_sets.json"),
    )
    result = run_cli("run", config, check=False)
    assert result.returncode != 0
    assert f"modification 'bad' ({modification['type']}) section_configure" in result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_mechanism_global_is_a_config_error(tmp_path, mechanisms_built):
    circuit = write_probe_circuit(tmp_path / "circuit")
    config = variant(circuit, "bad", conditions={"mechanisms": {"NoSuchMech": {"x": 1}}})
    result = run_cli("run", config, check=False)
    assert result.returncode != 0
    assert "mechanism global 'x_NoSuchMech' does not exist" in result.stderr
    assert "conditions.mechanisms.NoSuchMech.x" in result.stderr
