"""connection_overrides, run by the engine on the probe circuit and inspected in NEURON.

The independent route: a run with overrides must equal, bit for bit, a run of the same
circuit whose edge file was edited to say what the overrides say (conductance x weight,
the overriding delay, the configured parameter). Then what NEURON holds is checked edge
by edge, and the observables: weight x2 doubles a passive EPSP, a delay override shifts
it, a delayed block changes the weight only from its time on.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import REPO, run_cli, run_python
from tests.test_overrides_support import DT, SYNAPSES, variant, write_probe_circuit

DRIVER = REPO / "tests" / "drivers" / "conditions_probe.py"
# A block without `weight` has weight 1 (libsonata's default), so "late" resets "broad"'s 3
# for its edges: as in neurodamus, the last matching block's weight wins.
BLOCKS = [
    {"name": "facilitate", "source": "All", "target": "Cells", "synapse_configure": "%s.Fac *= 2"},
    {"name": "broad", "source": "All", "target": "All", "weight": 3.0},
    {
        "name": "double",
        "source": "Fibres",
        "target": "Cell1",
        "weight": 2.0,
        "synapse_delay_override": 3.0,
    },
    {
        "name": "late",
        "source": "Fibres",
        "target": "Cell2",
        "synapse_delay_override": 4.0,
        "synapse_configure": "%s.tau_d_AMPA = 3",
    },
    {
        "name": "recurrent",
        "source": "Cell0",
        "target": "Cell2",
        "weight": 1.5,
        "synapse_delay_override": 5.0,
    },  # fmt: skip
    {"name": "off", "source": "Fibre3", "target": "Cell3", "weight": 0.0},
    {"name": "nothing", "source": "Cell1", "target": "Cell2", "weight": 9.0},
]
# What BLOCKS mean, row by row of SYNAPSES: (weight factor, delay, decay_time).
EXPECTED = {0: (2.0, 3.0, 1.7), 1: (2.0, 3.0, 1.7), 2: (1.0, 4.0, 3.0), 3: (1.0, 4.0, 3.0)}
EXPECTED |= {k: (3.0, 1.0, 1.7) for k in (4, 5)} | {k: (0.0, 1.0, 1.7) for k in (6, 7)}
EXPECTED |= {8: (1.5, 5.0, 1.7), 9: (3.0, 2.0, 8.0)}


def _load(path) -> tuple[dict, dict]:
    data = np.load(path)
    return {k: data[k] for k in data.files if k != "records"}, json.loads(str(data["records"]))


def _row_of(circuit, key: str) -> int:
    """SYNAPSES row of an edge key `<edges>:<edge id>` (edge files are sorted by target)."""
    name, edge_id = key.split(":")
    src, tgt = circuit.edges[name]
    source = name.split("__")[0]
    rows = [k for k, r in enumerate(SYNAPSES) if r[0] == source]
    candidates = [k for k in rows if (SYNAPSES[k][1], SYNAPSES[k][2]) == (src[int(edge_id)],
                  tgt[int(edge_id)])]  # fmt: skip
    same = [i for i in range(int(edge_id) + 1) if (src[i], tgt[i]) == (src[int(edge_id)],
            tgt[int(edge_id)])]  # fmt: skip
    return candidates[len(same) - 1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("overrides")
    circuit = write_probe_circuit(root / "circuit")
    changes = {}
    for row, (factor, delay, decay) in EXPECTED.items():
        changes[row] = {
            "conductance": SYNAPSES[row][5] * factor,
            "delay": delay,
            "decay_time": decay,
            "facilitation_time": 20.0,
        }
    edited = write_probe_circuit(root / "edited", edge_changes=changes)
    out = {}
    logs = {}
    configs = {
        "base": circuit.simulation_config,
        "ovr": variant(circuit, "ovr", connection_overrides=BLOCKS),
        "edited": edited.simulation_config,
        "delayed": variant(
            circuit,
            "delayed",
            connection_overrides=[
                {
                    "name": "later",
                    "source": "Fibres",
                    "target": "Cell1",
                    "delay": 100.0,
                    "weight": 2.0,
                }  # fmt: skip
            ],
        ),
        "mod": variant(
            circuit,
            "mod",
            connection_overrides=[
                {"name": "exp", "source": "Fibres", "target": "Cell1", "modoverride": "Exp2Syn"},
                {
                    "name": "gaba",
                    "source": "Cell0",
                    "target": "Cell2",
                    "modoverride": "SonataProbGABAAB",
                },  # fmt: skip
            ],
        ),
    }
    for name, config in configs.items():
        logs[name] = run_python(DRIVER, config, root / f"{name}.npz")
        out[name] = _load(root / f"{name}.npz")
    return circuit, out, logs


def test_overrides_equal_an_edited_edge_file_bit_for_bit(runs):
    _, out, _ = runs
    ovr, edited = out["ovr"][0], out["edited"][0]
    for key in (k for k in ovr if k.startswith("v_cells")):
        np.testing.assert_array_equal(ovr[key], edited[key], err_msg=key)
    np.testing.assert_array_equal(ovr["spike_times"], edited["spike_times"])
    assert 3 not in set(ovr["spike_gids"].tolist())  # its only input has weight 0
    assert 3 in set(out["base"][0]["spike_gids"].tolist())


def test_each_edge_got_what_its_last_matching_block_says(runs):
    circuit, out, logs = runs
    records, base = out["ovr"][1], out["base"][1]
    before = {e["key"]: e for e in base["edges"]}
    for edge in records["edges"]:
        row = _row_of(circuit, edge["key"])
        factor, delay, decay = EXPECTED[row]
        conductance = SYNAPSES[row][5]
        if factor == 0.0:  # a pathway switched off is not instantiated
            assert edge["mechanism"] == "" and edge["netcons"] == []
            continue
        (netcon,) = edge["netcons"]
        assert netcon["kind"] == ("presynaptic" if edge["key"].startswith("cells") else "replay")
        assert netcon["weights"][0] == conductance * factor
        assert netcon["delay"] == delay
        params = edge["params"]
        assert params["Fac"] == 20.0  # every block with statements applies, in order
        assert params.get("tau_d_AMPA", params.get("tau_d_GABAA")) == decay
        assert params["conductance"] == conductance  # the mechanism keeps the edge's value
        untouched = {k: v for k, v in params.items() if k not in ("Fac", "tau_d_AMPA")}
        assert untouched == {
            k: v for k, v in before[edge["key"]]["params"].items() if k in untouched
        }
    assert "connection_overrides 'nothing' selects no connection" in logs["ovr"].stdout


def test_weight_doubles_and_delay_shifts_a_passive_epsp(runs):
    _, out, _ = runs
    base, ovr = out["base"][0]["v_cells_1"], out["ovr"][0]["v_cells_1"]
    t = out["base"][0]["t"]
    rest = -65.0

    def onset(v):
        return t[np.flatnonzero(v != rest)[0]]

    assert 21.0 < onset(base) < 21.0 + 3 * DT  # spike at 20 ms + the edge's 1 ms delay
    assert onset(ovr) - onset(base) == pytest.approx(3.0 - 1.0, abs=1e-9)
    shift = round(2.0 / DT)
    window = slice(int(20.5 / DT), int(60.0 / DT))
    base_epsp = base[window] - rest
    ovr_epsp = ovr[window.start + shift : window.stop + shift] - rest
    assert base_epsp.max() > 0.05
    assert ovr_epsp.max() / base_epsp.max() == pytest.approx(2.0, rel=0.01)
    np.testing.assert_allclose(ovr_epsp, 2.0 * base_epsp, atol=0.01 * base_epsp.max())


def test_a_delayed_block_changes_the_weight_from_its_time_on(runs):
    _, out, _ = runs
    base, late = out["base"][0]["v_cells_1"], out["delayed"][0]["v_cells_1"]
    t = out["base"][0]["t"]
    before = t < 100.0
    np.testing.assert_array_equal(late[before], base[before])
    after = (t >= 150.0) & (t < 200.0)  # the spike at 150 ms (on the 20 ms EPSP's tail)
    start = np.flatnonzero(after)[0]
    ratio = (late[after].max() - late[start]) / (base[after].max() - base[start])
    assert ratio == pytest.approx(2.0, rel=0.01)
    for name in ("v_cells_0", "v_cells_2", "v_cells_3"):
        np.testing.assert_array_equal(out["delayed"][0][name], out["base"][0][name])


def test_modoverride_uses_the_named_mechanism_with_the_edge_attributes(runs):
    circuit, out, _ = runs
    records, base = out["mod"][1], out["base"][1]
    before = {e["key"]: e for e in base["edges"]}
    for edge in records["edges"]:
        row = _row_of(circuit, edge["key"])
        (netcon,) = edge["netcons"]
        if row in (0, 1):  # NEURON's Exp2Syn takes uS: the conductance is converted
            assert edge["mechanism"] == "Exp2Syn"
            assert netcon["weights"] == [SYNAPSES[row][5] * 1e-3]
        elif row == 8:  # a BBP-style mechanism: TM parameters, synapse id, RNG keys
            assert edge["mechanism"] == "SonataProbGABAAB"
            params = edge["params"]
            assert (params["Use"], params["Dep"], params["Fac"]) == (1.0, 0.0, 10.0)
            assert params["synapseID"] == edge["synapse_id"]
            assert params["conductance"] == SYNAPSES[row][5]
            assert edge["keys"] == [2 + 1, 100000 + edge["synapse_id"], 0 + 200]
            assert netcon["weights"][0] == SYNAPSES[row][5]
        else:
            assert edge["mechanism"] == before[edge["key"]]["mechanism"]
            assert edge["params"] == before[edge["key"]]["params"]
            assert edge["keys"] == before[edge["key"]]["keys"]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            {"synapse_configure": "%s.Use = __import__('os').getpid()"},
            "connection_overrides 'bad' synapse_configure: cannot use",
        ),
        (
            {"synapse_configure": "%s.Use.real = 1"},
            "connection_overrides 'bad' synapse_configure: cannot use",
        ),
        ({"synapse_configure": "%s.no_such_var = 1"}, "have no variable no_such_var"),
        ({"modoverride": "NoSuchSynapse"}, "no point process NoSuchSynapse is compiled"),
        ({"neuromodulation_dtc": -1.0}, "neuromodulation_dtc must not be negative"),
        ({"target": "Nowhere"}, "node set 'Nowhere' is not defined"),
    ],
)
def test_bad_blocks_fail_with_a_message_naming_them(tmp_path, mechanisms_built, block, message):
    circuit = write_probe_circuit(tmp_path / "circuit")
    override = {"name": "bad", "source": "Fibres", "target": "Cell1", **block}
    config = variant(circuit, "bad", connection_overrides=[override])
    result = run_cli("run", config, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert any(name in result.stderr for name in ("connection_overrides 'bad'", "[bad]"))
    assert "Traceback" not in result.stderr
