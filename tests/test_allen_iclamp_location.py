"""bmtk IClamps on named sections: `section_name[section_index](section_dist)`.

bmtk puts the clamp at getattr(cell.hobj, section_name)[section_index](section_dist) after
model processing; the engine turns that into a SONATA compartment set. Checked where
NEURON has each clamp (section name within the cell, segment) on 1 and 2 ranks: dend[2]
at 0.3 on every cortex cell, and axon[1] (the second axon stub) at 0.5.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.generate.allen import generate_allen_network
from tests.conftest import REPO, morphology_file, run_python

SITES = REPO / "tests" / "drivers" / "injection_sites.py"


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_iclamps_sit_where_bmtk_puts_them(tmp_path, mechanisms_built, ranks):
    circuit = generate_allen_network(
        tmp_path / "net", n_exc=3, n_inh=1, n_lgn=1,
        morphology=morphology_file("gen:allen_spiny.swc", tmp_path), tstop=20.0,
    )  # fmt: skip
    config = json.loads(circuit.simulation_config.read_text())
    clamp = {"input_type": "current_clamp", "module": "IClamp", "node_set": "cortex",
             "amp": 0.2, "delay": 5.0, "duration": 10.0}  # fmt: skip
    config["inputs"] = {
        "dendrite": {**clamp, "section_name": "dend", "section_index": 2, "section_dist": 0.3},
        "stub": {**clamp, "section_name": "axon", "section_index": 1, "section_dist": 0.5},
        "soma": clamp,
    }
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    out = tmp_path / "sites.npz"
    run_python(SITES, circuit.simulation_config, out, ranks=ranks)
    sites = json.loads(str(np.load(out)["sites"]))
    by_input: dict[str, dict[int, dict]] = {}
    for site in sites:
        name = site["input"].split("__")[0]
        by_input.setdefault(name, {})[site["node_id"]] = site
    expected = {"dendrite": ("dend[2]", 0.3), "stub": ("axon[1]", 0.5), "soma": ("soma[0]", 0.5)}
    for name, (section, x) in expected.items():
        assert sorted(by_input[name]) == [0, 1, 2, 3], name
        for site in by_input[name].values():
            assert site["section"] == section, (name, site)
            nseg = site["nseg"]
            assert site["x"] == pytest.approx((min(int(x * nseg), nseg - 1) + 0.5) / nseg)
            assert site["hoc"] == "IClamp"


def _ranged_sites(tmp_path, ranks):
    circuit = generate_allen_network(
        tmp_path / f"net{ranks}", n_exc=5, n_inh=1, n_lgn=1, tstop=20.0, dL=10.0,
    )  # fmt: skip
    config = json.loads(circuit.simulation_config.read_text())
    clamp = {"input_type": "current_clamp", "module": "IClamp", "node_set": "cortex",
             "amp": 0.2, "delay": 5.0, "duration": 10.0}  # fmt: skip
    config["inputs"] = {
        "ranged": {**clamp, "section_name": "dend", "section_index": [60.0, 120.0]},
        "apical.or.basal": {**clamp, "section_name": ["dend", "apic"], "section_index": [0, 40]},
    }
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    out = tmp_path / f"ranged{ranks}.npz"
    run_python(SITES, circuit.simulation_config, out, ranks=ranks)
    return json.loads(str(np.load(out)["sites"]))


def test_distance_range_iclamps_draw_one_segment_in_range(tmp_path, mechanisms_built):
    """bmtk's ranged section_index: one segment per cell of the named types whose span
    [d - l/2, d + l/2] (d from soma(0), NEURON's own distance) overlaps the range; the draw
    is keyed by seed, input and node id, so 2 ranks give the same sites as 1."""
    one = _ranged_sites(tmp_path, 1)
    allowed = {"ranged": ((60.0, 120.0), ("dend",)), "apical.or.basal": ((0, 40), ("dend", "apic"))}
    seen: dict[str, set] = {}
    for site in one:
        name = site["input"].split("__")[0]
        (low, high), kinds = allowed[name]
        assert site["section"].split("[")[0] in kinds, site
        d, half = site["distance"], site["length"] / 2
        assert d + half > low and d - half < high, site
        assert site["x"] == pytest.approx(
            (round(site["x"] * site["nseg"] - 0.5) + 0.5) / site["nseg"]
        )
        seen.setdefault(name, set()).add((site["section"], round(site["x"], 9)))
    assert {len(v) for v in seen.values()} != {1}  # cells get their own draws
    assert sum(1 for s in one if s["input"].startswith("ranged")) == 6


@pytest.mark.mpi
def test_distance_range_iclamps_same_on_two_ranks(tmp_path, mechanisms_built):
    def key(s):
        return (s["input"], s["node_id"], s["section"], s["x"])

    one, two = _ranged_sites(tmp_path, 1), _ranged_sites(tmp_path, 2)
    assert len(one) == 12
    assert sorted(map(key, two)) == sorted(map(key, one))


def test_nwb_sweep_iclamp_plays_the_sweep_from_time_zero(tmp_path, mechanisms_built):
    """bmtk `IClamp` with `input_type: nwb`: an Allen Cell Types sweep (A, at `rate` Hz),
    played from t = 0 (sample k holds from k dt), on from `delay` to the end. Checked
    against the samples themselves, in the current NEURON injected."""
    import h5py

    circuit = generate_allen_network(tmp_path / "net", n_exc=2, n_inh=1, n_lgn=1, tstop=30.0)
    samples = np.concatenate([np.zeros(20), np.linspace(0.0, 0.3, 100), np.full(80, -0.1)])
    nwb = tmp_path / "net" / "cell.types.sweeps.nwb"
    with h5py.File(nwb, "w") as f:
        group = f.create_group("epochs/Sweep_7/stimulus/timeseries")
        group["data"] = samples * 1e-9  # A
        group.create_dataset("starting_time", data=0.0).attrs["rate"] = 10000.0  # 0.1 ms
    config = json.loads(circuit.simulation_config.read_text())
    config["inputs"] = {"sweep": {"input_type": "nwb", "module": "IClamp", "node_set": "exc",
                                  "file": str(nwb), "sweep_id": 7, "delay": 4.0}}  # fmt: skip
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    out = tmp_path / "sweep.npz"
    run_python(SITES, circuit.simulation_config, out)
    data = np.load(out)
    sites = json.loads(str(data["sites"]))
    assert sorted(s["node_id"] for s in sites) == [0, 1]
    t = data["t"]
    for site in sites:
        current = data[f"{site['key']}__i"]
        index = np.floor(t / 0.1 + 1e-9).astype(int)
        expected = np.where(t >= 4.0, samples[np.minimum(index, samples.size - 1)], 0.0)
        away = np.abs(t / 0.1 - np.round(t / 0.1)) > 0.3  # not at a sample edge
        away &= np.abs(t - 4.0) > 0.05
        np.testing.assert_allclose(np.abs(current[away]), np.abs(expected[away]), atol=1e-9)


@pytest.mark.parametrize("onset", [0.0, 15.0])
def test_csv_iclamp_is_bmtks_vector_play(tmp_path, mechanisms_built, onset):
    """bmtk `IClamp` with `input_type: csv`: the amplitudes (nA) at the csv's timestamps,
    played with Vector.play(amp, step) from t = 0 (onset 15 ms on 20 ms steps: bmtk's
    padding on the 5 ms gcd grid). Checked against a plain-NEURON IClamp fed that way."""
    circuit = generate_allen_network(tmp_path / "net", n_exc=1, n_inh=1, n_lgn=1, tstop=30.0)
    amps = [0.0, 0.2, -0.1, 0.3] if onset else [0.05, 0.2, -0.1, 0.3, 0.0]  # ends on / off
    step = 20.0 if onset else 2.5
    times = [onset + step * k for k in range(len(amps))]
    rows = "\n".join(f"{t},{a}" for t, a in zip(times, amps, strict=True))
    (tmp_path / "net" / "clamp.wave.csv").write_text(f"time_ms,nA\n{rows}\n")
    config = json.loads(circuit.simulation_config.read_text())
    config["run"]["tstop"] = 90.0 if onset else 30.0
    config["inputs"] = {"wave": {
        "input_type": "csv", "module": "IClamp", "node_set": "exc", "separator": ",",
        "file": str(tmp_path / "net" / "clamp.wave.csv"), "timestamps_column": "time_ms",
        "amplitudes_column": "nA",
    }}  # fmt: skip
    circuit.simulation_config.write_text(json.dumps(config, indent=1))
    run_python(SITES, circuit.simulation_config, tmp_path / "engine.npz")
    data = np.load(tmp_path / "engine.npz")
    (site,) = json.loads(str(data["sites"]))
    if onset:  # bmtk: 3 zeros of 5 ms, then each amplitude 4 times; on to 75 + 5 ms
        played, grid, stop = [0.0] * 3 + [a for a in amps for _ in range(4)], 5.0, 80.0
    else:  # the last amplitude is 0: off at the last timestamp (10 ms), 0.3 up to it
        played, grid, stop = amps, step, 10.0
    tstop = config["run"]["tstop"]
    plain = tmp_path / "plain.npz"
    run_python(REPO / "tests" / "reference" / "plain_iclamp_csv.py", json.dumps(played),
               str(grid), str(stop), str(tstop), "0.025", plain)  # fmt: skip
    ref = np.load(plain)
    n = min(ref["t"].size, data["t"].size)
    np.testing.assert_allclose(data["t"][:n], ref["t"][:n], atol=1e-9)
    current = data[f"{site['key']}__i"][:n]
    assert np.abs(ref["i"]).max() > 0.25
    # from the first step on (at t = 0 itself our replay's first value is set by an
    # event just after the initial record: the current of step 0 -> dt is the same)
    np.testing.assert_allclose(np.abs(current[1:]), np.abs(ref["i"][1:n]), rtol=0, atol=1e-12)
