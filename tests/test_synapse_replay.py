"""synapse_replay: spikes of a SONATA spike file delivered onto the circuit's own synapses.

The circuit is tests/test_overrides_support.py's probe circuit (fibres -> cells and
cells -> cells BBP edges), with edge delays moved off the dt grid. The driver
tests/drivers/replay_record.py reports, for every replay NetCon the engine created, where
its synapse sits, its delay and weight, what its source sent (NetCon.record) and what the
synapse received (every value its `tsyn` took: our Prob* synapses set tsyn = t on each
delivered event).

Every expectation is computed here from the spike file and the edges file as read with
h5py, and the node ids of the replay's node set:
  * one NetCon per edge whose target is in the node set and whose source has a kept spike;
  * it sends exactly the source's spike times >= the input's delay (earlier ones dropped);
  * its delay is the edge delay truncated to whole steps, trunc(delay / dt + 1e-5) * dt;
  * its synapse receives exactly those times + that delay;
  * its weight is the edge conductance (nS), and it sits on the segment of
    (afferent_section_id, afferent_section_pos).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.io.spike_file import write_spike_file
from tests.conftest import REPO, run_python
from tests.test_overrides_support import DT, FIBRE_SPIKES, TSTOP, variant, write_probe_circuit

DRIVER = REPO / "tests" / "drivers" / "replay_record.py"
RANKS = [1, pytest.param(2, marks=pytest.mark.mpi)]
# SYNAPSES rows -> edge delays off the dt grid (truncation, and the 1e-5 guard of 1.4999999)
DELAYS = {0: 1.0137, 1: 0.9999, 2: 1.4999999, 3: 1.5, 4: 1.01249, 8: 2.0499, 9: 0.7}
CELLS = {"Cells": [0, 1, 2, 3, 4], "Passive": [1, 2, 4]}
# spikes of the biophysical population "cells" (sources of cells__cells); node ids 0 and 3
# also exist among the fibres, whose spikes differ, so a population mix-up would show
CELL_SPIKES = {0: [40.0, 140.125, 205.3], 3: [45.5, 245.25]}


@pytest.fixture(scope="module")
def circuit(tmp_path_factory):
    changes = {row: {"delay": value} for row, value in DELAYS.items()}
    return write_probe_circuit(tmp_path_factory.mktemp("replay") / "probe", edge_changes=changes)


def trains(spikes: dict[int, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.concatenate([np.full(len(t), n, dtype=np.uint64) for n, t in spikes.items()])
    times = np.concatenate([np.asarray(t, dtype=np.float64) for t in spikes.values()])
    return ids, times


def replay_config(circuit, name: str, spike_file: Path, *, delay: float, node_set: str) -> Path:
    block = {
        "module": "synapse_replay", "input_type": "spikes", "delay": delay, "duration": TSTOP,
        "node_set": node_set, "spike_file": str(spike_file),
    }  # fmt: skip
    # replace the whole inputs object: the circuit's own replay block must not stay
    config = json.loads(variant(circuit, name).read_text())
    config["inputs"] = {"replayed": block}
    path = circuit.root / f"simulation_config_{name}.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def run_driver(config: Path, out: Path, ranks: int) -> dict:
    run_python(DRIVER, config, out, ranks=ranks)
    return json.loads(out.read_text())


# -- the independent route: h5py reads of the spike and edges files -------------------------
def read_spikes(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    with h5py.File(path, "r") as f:
        return {
            pop: (group["node_ids"][...].astype(np.int64), group["timestamps"][...])
            for pop, group in f["spikes"].items()
        }


def read_edges(path: Path) -> list[dict]:
    """One dict per edge of every population: source/target populations and ids, and the
    attributes the replay uses."""
    edges = []
    with h5py.File(path, "r") as f:
        for name, group in f["edges"].items():
            assert set(group["edge_group_id"][...]) == {0}
            rows = group["edge_group_index"][...]
            attrs = group["0"]
            columns = {
                key: attrs[key][...][rows]
                for key in ("delay", "conductance", "afferent_section_id", "afferent_section_pos")
            }
            for k in range(rows.size):
                edges.append(
                    {
                        "edge_population": name,
                        "source_population": group["source_node_id"].attrs["node_population"],
                        "target_population": group["target_node_id"].attrs["node_population"],
                        "source": int(group["source_node_id"][k]),
                        "target": int(group["target_node_id"][k]),
                        **{key: column[k].item() for key, column in columns.items()},
                    }
                )
    return edges


def truncated(delay: float) -> float:
    """neurodamus' synapse delay: whole time steps, with a 1e-5 step guard."""
    return float(np.trunc(delay / DT + 1e-5) * DT)


def segment_index(x: float, nseg: int) -> int:
    """NEURON's segment of a 0 < x < 1 location."""
    return min(int(x * nseg), nseg - 1)


def rounded(values) -> tuple[float, ...]:
    return tuple(round(float(v), 9) for v in values)


def expected_netcons(circuit, spike_file: Path, delay: float, targets: list[int], nseg) -> Counter:
    """(location, sent, delay, weight, received) of every replay NetCon there should be."""
    spikes = read_spikes(spike_file)
    expected: Counter = Counter()
    for edge in read_edges(circuit.root / "edges.h5"):
        if edge["target_population"] != "cells" or edge["target"] not in targets:
            continue
        if edge["source_population"] not in spikes:
            continue
        ids, times = spikes[edge["source_population"]]
        sent = np.sort(times[(ids == edge["source"]) & (times >= delay)])
        if sent.size == 0:
            continue  # nothing to replay: no NetCon
        d = truncated(edge["delay"])
        sid = edge["afferent_section_id"]
        where = (edge["target"], sid, segment_index(edge["afferent_section_pos"], nseg[sid]))
        received = sent + d
        expected[(where, rounded(sent), round(d, 12), edge["conductance"], rounded(received))] += 1
    return expected


def observed_netcons(data: dict) -> Counter:
    observed: Counter = Counter()
    for row in data["netcons"]:
        assert row["population"] == "cells"
        assert row["received"] is not None, row  # every probe synapse has tsyn
        where = (row["node_id"], row["section_id"], segment_index(row["x"], row["nseg"]))
        key = (where, rounded(row["sent"]), round(row["delay"], 12), row["weight"][0])
        observed[(*key, rounded(row["received"]))] += 1
    return observed


def section_nseg(data: dict) -> dict[int, int]:
    """nseg of each section id as the run built it (all probe cells share one morphology)."""
    nseg: dict[int, int] = {}
    for row in data["netcons"]:
        assert nseg.setdefault(row["section_id"], row["nseg"]) == row["nseg"]
    return nseg


def check_run(circuit, data: dict, spike_file: Path, delay: float, node_set: str) -> Counter:
    synapses = [row["synapse"] for row in data["netcons"]]
    assert len(synapses) == len(set(synapses)), "one replay NetCon per synapse"
    for row in data["netcons"]:
        assert row["weight"][3] == 2  # neurodamus' nc_type of a replay NetCon
        assert max(row["sent"] + row["received"]) < TSTOP - DT  # all inside the run
    expected = expected_netcons(circuit, spike_file, delay, CELLS[node_set], section_nseg(data))
    observed = observed_netcons(data)
    assert observed == expected, (
        f"missing {sorted(expected - observed)}\nunexpected {sorted(observed - expected)}"
    )
    return observed


# -- tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ranks", RANKS)
def test_each_synapse_gets_its_source_spikes_plus_the_truncated_delay(circuit, tmp_path, ranks):
    config = replay_config(
        circuit, f"plain{ranks}", circuit.spike_file, delay=0.0, node_set="Cells"
    )
    data = run_driver(config, tmp_path / "plain.json", ranks)
    observed = check_run(circuit, data, circuit.spike_file, 0.0, "Cells")
    assert sum(observed.values()) == 8  # the 8 fibre edges; no cell spikes in the file
    delays = {round(row["delay"], 12) for row in data["netcons"]}
    assert {0.975, 1.0, 1.5} <= delays  # 0.9999 -> 0.975, 1.0137 -> 1.0, 1.4999999 -> 1.5
    received = sorted(t for row in data["netcons"] for t in row["received"])
    expected_total = 2 * sum(len(t) for t in FIBRE_SPIKES.values())  # each fibre: 2 synapses
    assert len(received) == expected_total


@pytest.mark.parametrize("ranks", RANKS)
def test_spikes_before_the_input_delay_are_dropped(circuit, tmp_path, ranks):
    start = 100.0
    spikes = {
        0: [20.0, 99.975, 100.0, 150.0],  # 100.0 == delay: kept
        1: [30.0, 99.99999],  # all before the delay: no NetCon at all
        2: [10.0, 100.025, 290.0],
        3: [15.0, 65.0, 215.0],
    }
    spike_file = tmp_path / "delayed.h5"
    write_spike_file(spike_file, {"fibres": trains(spikes)})
    config = replay_config(circuit, f"delay{ranks}", spike_file, delay=start, node_set="Cells")
    data = run_driver(config, tmp_path / "delay.json", ranks)
    check_run(circuit, data, spike_file, start, "Cells")
    sent = {t for row in data["netcons"] for t in row["sent"]}
    assert min(sent) == start and sent.isdisjoint({20.0, 99.975, 30.0, 99.99999, 10.0, 15.0})
    assert {row["node_id"] for row in data["netcons"]} == {0, 1, 3}  # fibre 1 -> cell 2 only


@pytest.mark.parametrize("ranks", RANKS)
def test_two_populations_each_onto_their_own_edges(circuit, tmp_path, ranks):
    """A virtual and a biophysical source population in one file. The node set leaves the
    HH cells 0 and 3 undriven, so their own spikes (which would also reach cell 2) do not
    happen: what cell 2's cells__cells synapses receive is the replay alone."""
    spike_file = tmp_path / "two.h5"
    write_spike_file(
        spike_file,
        {"fibres": trains(FIBRE_SPIKES), "cells": trains(CELL_SPIKES)},
    )
    config = replay_config(circuit, f"two{ranks}", spike_file, delay=0.0, node_set="Passive")
    data = run_driver(config, tmp_path / "two.json", ranks)
    check_run(circuit, data, spike_file, 0.0, "Passive")
    assert not [s for s in data["spikes"] if s[0] == "cells" and s[1] in (0, 3)]
    # fibre edges onto cells 1 and 2 (4), and both cells__cells edges (onto cell 2)
    assert len(data["netcons"]) == 6
    from_cells = [r for r in data["netcons"] if r["sent"] and r["sent"][0] in (40.0, 45.5)]
    assert len(from_cells) == 2 and {r["node_id"] for r in from_cells} == {2}


@pytest.mark.parametrize("ranks", RANKS)
def test_a_non_virtual_population_alone_is_replayed(circuit, tmp_path, ranks):
    spike_file = tmp_path / "cells_only.h5"
    write_spike_file(spike_file, {"cells": trains(CELL_SPIKES)})
    config = replay_config(circuit, f"cells{ranks}", spike_file, delay=0.0, node_set="Cells")
    data = run_driver(config, tmp_path / "cells.json", ranks)
    observed = check_run(circuit, data, spike_file, 0.0, "Cells")
    assert sum(observed.values()) == 2  # the two cells__cells edges, onto cell 2


@pytest.mark.mpi
def test_one_and_two_ranks_replay_identically(circuit, tmp_path):
    spike_file = tmp_path / "two.h5"
    write_spike_file(spike_file, {"fibres": trains(FIBRE_SPIKES), "cells": trains(CELL_SPIKES)})
    config = replay_config(circuit, "ranks", spike_file, delay=25.0, node_set="Passive")
    runs = [run_driver(config, tmp_path / f"r{n}.json", n) for n in (1, 2)]

    def canonical(data: dict) -> list:
        rows = [{k: v for k, v in row.items() if k != "synapse"} for row in data["netcons"]]
        return sorted(json.dumps(row, sort_keys=True) for row in rows)

    assert canonical(runs[0]) == canonical(runs[1])  # bit for bit
    assert {r["synapse"].split(":")[0] for r in runs[1]["netcons"]} == {"0", "1"}
    assert sorted(map(tuple, runs[0]["spikes"])) == sorted(map(tuple, runs[1]["spikes"]))
    check_run(circuit, runs[0], spike_file, 25.0, "Passive")
