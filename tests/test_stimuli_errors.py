"""Bad input parameters stop the run with one message naming the config, the input block
and the key (no traceback)."""

from __future__ import annotations

import json
from collections import Counter

import h5py
import numpy as np
import pytest

from tests.conftest import REPO, run_cli, run_python
from tests.drivers.stimuli_common import record, set_inputs, stimulus_circuit
from tests.test_overrides_support import variant, write_probe_circuit

CURRENT = {"input_type": "current_clamp", "delay": 1.0, "duration": 5.0, "node_set": "Ring"}
SHOT = {"module": "shot_noise", "rise_time": 0.5, "decay_time": 5.0, "rate": 100,
        "amp_mean": 0.01, "amp_var": 1e-4, **CURRENT}  # fmt: skip
CASES = {
    "negative_rate": ({**SHOT, "rate": -5}, "rate", "must not be negative"),
    "rise_after_decay": ({**SHOT, "rise_time": 6.0}, "rise_time", "smaller than decay_time"),
    "zero_variance_shots": ({**SHOT, "amp_var": 0.0}, "amp_var", "must be positive"),
    "negative_variance": ({"module": "noise", "mean": 0.1, "variance": -0.1, **CURRENT},
                          "variance", "must not be negative"),
    "no_threshold": ({"module": "relative_linear", "percent_start": 50.0, **CURRENT},
                     "node_set", "threshold_current"),
    "no_input_resistance": ({"module": "relative_shot_noise", "mean_percent": 10.0,
                             "sd_percent": 5.0, "rise_time": 0.5, "decay_time": 5.0,
                             **CURRENT, "input_type": "conductance"},
                            "node_set", "input_resistance"),
    "pulse_overlap": ({"module": "pulse", "amp_start": 0.1, "width": 30.0, "frequency": 50,
                       **CURRENT}, "width", "longer than the pulse period"),
    "ou_sigma": ({"module": "ornstein_uhlenbeck", "tau": 1.0, "mean": 0.1, "sigma": 0.0,
                  **CURRENT}, "sigma", "must be positive"),
    "poisson_rate": ({"module": "poisson", "input_type": "spikes", "rate": -1.0, "weight": 1.0,
                      "delay": 0.0, "duration": 5.0, "node_set": "Ring"}, "rate", "negative"),
}  # fmt: skip


@pytest.fixture(scope="module")
def circuit(tmp_path_factory):
    return stimulus_circuit(tmp_path_factory.mktemp("errors") / "ring", n_cells=2)


def assert_names_the_block(result, name: str, key: str, *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    text = result.stderr
    assert "Traceback" not in text and "Traceback" not in result.stdout, text
    errors = [line for line in text.splitlines() if line.startswith("sonatasim:")]
    assert len(errors) == 1, text
    for needle in ("simulation_config.json", f"inputs.{name}.{key}", f"input '{name}'", *needles):
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"


def write_bad_spike_file(path, case: str) -> None:
    if case == "not_hdf5":
        path.write_bytes(b"these are not spikes")
    elif case == "no_spikes_group":
        with h5py.File(path, "w") as f:
            f["other/node_ids"] = np.zeros(1, dtype=np.uint64)
    elif case == "no_timestamps":
        with h5py.File(path, "w") as f:
            f["spikes/ring/node_ids"] = np.zeros(2, dtype=np.uint64)
    # "missing": no file at all


SPIKE_FILE_CASES = {
    "missing": "spike file not found",
    "not_hdf5": "cannot read the spike file as HDF5",
    "no_spikes_group": "no 'spikes' group",
    "no_timestamps": "lacks the 'timestamps' dataset",
}


@pytest.mark.parametrize("case", list(SPIKE_FILE_CASES))
def test_bad_replay_spike_file_names_the_input(circuit, tmp_path, case):
    """synapse_replay: a spike file that cannot be read names the block and the file.

    (A spike_file not ending in .h5 is refused by libsonata while parsing the config, with
    its own message, before any block is looked at.)"""
    spike_file = tmp_path / f"{case}.h5"
    write_bad_spike_file(spike_file, case)
    block = {"module": "synapse_replay", "input_type": "spikes", "delay": 0.0, "duration": 5.0,
             "node_set": "Ring", "spike_file": str(spike_file)}  # fmt: skip
    config = set_inputs(circuit, {case: block})
    result = run_cli("run", config, "--output-dir", tmp_path / "out", check=False)
    assert_names_the_block(result, case, "spike_file", str(spike_file), SPIKE_FILE_CASES[case])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_parameter_names_the_input(circuit, tmp_path, case):
    block, key, message = CASES[case]
    config = set_inputs(circuit, {case: block})
    result = run_cli("run", config, "--output-dir", tmp_path / "out", check=False)
    assert_names_the_block(result, case, key, message)


def test_replay_file_without_the_population(circuit, tmp_path):
    path = tmp_path / "traces.h5"
    with h5py.File(path, "w") as f:
        f["report/other/data"] = np.zeros((3, 1))
    block = {"module": "replay", "input_type": "current_clamp", "path": str(path),
             "interpolate": True, "delay": 0.0, "duration": 5.0, "node_set": "Ring"}  # fmt: skip
    config = set_inputs(circuit, {"trace": block})
    result = run_cli("run", config, "--output-dir", tmp_path / "out", check=False)
    assert_names_the_block(result, "trace", "path", "population 'ring'", "other")


def test_compartment_set_input(circuit, tmp_path):
    """A linear input on a compartment set drives exactly the listed locations."""
    sets = tmp_path / "compartment_sets.json"
    sets.write_text('{"somata": {"population": "ring", "compartment_set": [[1, 0, 0.5]]}}')
    block = {"module": "linear", "input_type": "current_clamp", "amp_start": 0.1,
             "delay": 1.0, "duration": 5.0, "compartment_set": "somata"}  # fmt: skip
    config = set_inputs(circuit, {"cs": block})
    data = json.loads(config.read_text())
    data["compartment_sets_file"] = str(sets)
    config.write_text(json.dumps(data))
    recorded = record(config, tmp_path / "cs.npz")
    assert "cs__1__0__amp" in recorded and "cs__0__0__amp" not in recorded


# -- compartment-set inputs on dendrites and axons ------------------------------------------
SITES_DRIVER = REPO / "tests" / "drivers" / "injection_sites.py"
# (node id, SONATA section id, offset) on the probe cells (soma 0, dendrite 1, axon trunk 2
# with branches 3 and 4); sorted, as libsonata requires. Cells 2 and 3 have no entry.
ENTRIES = [[0, 2, 0.5], [1, 1, 0.3], [1, 1, 0.95], [1, 3, 0.5], [4, 0, 0.5], [4, 4, 0.2]]
RAMP = {"amp_start": 0.1, "amp_end": 0.3, "delay": 5.01, "duration": 20.0}


def swc_section_names(path) -> list[str]:
    """NEURON names of a SWC morphology's sections in SONATA section-id order: soma[0], then
    each unbranched neurite run in file order, named <type>[k] counted per type."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    kind = {int(r[0]): int(r[1]) for r in rows}
    parent = {int(r[0]): int(r[6]) for r in rows}
    children = Counter(parent.values())
    names, section_of, counts = ["soma[0]"], {}, Counter()
    prefix = {2: "axon", 3: "dend", 4: "apic"}
    for point in (p for p in kind if kind[p] != 1):
        up = parent[point]
        if kind[up] == 1 or children[up] > 1:  # a new section starts here
            name = prefix[kind[point]]
            names.append(f"{name}[{counts[name]}]")
            counts[name] += 1
            section_of[point] = len(names) - 1
        else:
            section_of[point] = section_of[up]
    return names


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    return write_probe_circuit(tmp_path_factory.mktemp("cs_sites") / "probe")


@pytest.mark.parametrize(
    ("ranks", "physical"), [(1, False), (1, True), pytest.param(2, False, marks=pytest.mark.mpi)]
)
def test_compartment_set_input_sits_on_the_listed_segments(probe, tmp_path, ranks, physical):
    """A linear ramp on a compartment set with dendrite and axon entries: one source per
    entry, on exactly that section (NEURON name from the SWC file) and segment, playing
    the ramp; no source elsewhere."""
    sets = tmp_path / "compartment_sets.json"
    sets.write_text(json.dumps({"mixed": {"population": "cells", "compartment_set": ENTRIES}}))
    path = variant(probe, f"cs{ranks}{physical}", run={"tstop": 40.0})  # paths relative to it
    config = json.loads(path.read_text())
    config["compartment_sets_file"] = str(sets)
    config["inputs"] = {
        "ramp": {"module": "linear", "input_type": "current_clamp", "compartment_set": "mixed",
                 "represents_physical_electrode": physical, **RAMP},
    }  # fmt: skip
    path.write_text(json.dumps(config))
    out = tmp_path / "sites.npz"
    run_python(SITES_DRIVER, path, out, ranks=ranks)
    with np.load(out) as data:
        recorded = {k: data[k] for k in data.files}
    sites = json.loads(str(recorded["sites"]))

    names = swc_section_names(probe.root / "morphologies" / "probe.swc")
    assert names[1:] == ["dend[0]", "axon[0]", "axon[1]", "axon[2]"]
    observed = Counter()
    for site in sites:
        nseg = site["nseg"]
        index = min(int(site["x"] * nseg), nseg - 1)
        assert site["x"] == pytest.approx((index + 0.5) / nseg, abs=1e-12)  # a segment centre
        assert site["hoc"] == ("IClamp" if physical else "SonataCurrentSource")
        assert site["population"] == "cells" and site["input"] == "ramp"
        observed[(site["node_id"], site["section_id"], site["section"], index)] += 1
    nseg = {s["section_id"]: s["nseg"] for s in sites}
    expected = Counter(
        (node, sid, names[sid], min(int(x * nseg[sid]), nseg[sid] - 1)) for node, sid, x in ENTRIES
    )
    assert observed == expected
    if ranks > 1:
        assert {s["key"].split("__")[1] for s in sites} == {"r0", "r1"}  # both ranks hold some

    t = recorded["t"]
    start, end, delay, duration = (RAMP[k] for k in ("amp_start", "amp_end", "delay", "duration"))

    def ramp(times):
        inside = (times > delay) & (times < delay + duration)
        return np.where(inside, start + (end - start) * (times - delay) / duration, 0.0)

    expected_amp = ramp(t)
    # a sample less than dt/2 after a jump may still show the old value (NEURON's play)
    window = (np.abs(expected_amp - ramp(t - 0.0125)) < 1e-3) & (t < delay + duration - 0.05)
    for site in sites:
        amp = recorded[f"{site['key']}__amp"]
        np.testing.assert_allclose(amp[window], expected_amp[window], rtol=0, atol=1e-12)
        assert amp.max() == pytest.approx(end, abs=0.02)
