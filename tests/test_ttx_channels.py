"""TTX on channels that block themselves, as OBI/BBP sodium channels do.

Those channels `USEION ttx READ ttxo, ttxi` and stop conducting when ttxi holds the
sentinel 1/64 mM and ttxo > 1e-12 mM (the convention of neurodamus' TTXDynamicsSwitch).
The test writes such a channel (Hodgkin-Huxley sodium, our own NMODL) into the circuit's
mechanisms_dir and gives the spiking probe cells that sodium instead of hh's. With a `ttx`
modification on cell 0: cell 0 stops spiking while its channel keeps its conductance (the
engine must not zero what blocks itself), and cell 3, not targeted, spikes as before.
"""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import REPO, run_python
from tests.test_overrides_support import variant, write_probe_circuit

DRIVER = REPO / "tests" / "drivers" / "conditions_probe.py"
CHANNEL = """
COMMENT
TestNaTTX: Hodgkin-Huxley (1952) sodium current that honours the TTX switch sentinel.
ENDCOMMENT
NEURON {
    SUFFIX TestNaTTX
    USEION na READ ena WRITE ina
    USEION ttx READ ttxo, ttxi VALENCE 1
    RANGE gnabar, ina
}
UNITS { (mA) = (milliamp)  (mV) = (millivolt)  (S) = (siemens)  (mM) = (milli/liter) }
PARAMETER { gnabar = 0.12 (S/cm2) }
ASSIGNED { v (mV)  ena (mV)  ina (mA/cm2)  ttxo (mM)  ttxi (mM)  minf  hinf  mtau (ms)  htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gnabar * m * m * m * h * (v - ena)
}
INITIAL { rates(v)  m = minf  h = hinf }
DERIVATIVE states {
    rates(v)
    m' = (minf - m) / mtau
    h' = (hinf - h) / htau
}
PROCEDURE rates(v (mV)) { LOCAL am, bm, ah, bh, q
    q = 3^((celsius - 6.3) / 10)
    am = 0.1 * vtrap(-(v + 40), 10)
    bm = 4 * exp(-(v + 65) / 18)
    ah = 0.07 * exp(-(v + 65) / 20)
    bh = 1 / (exp(-(v + 35) / 10) + 1)
    minf = am / (am + bm)
    mtau = 1 / (q * (am + bm))
    hinf = ah / (ah + bh)
    htau = 1 / (q * (ah + bh))
    if (ttxi == 0.015625 && ttxo > 1e-12) {
        minf = 0
        mtau = 1e-12
        hinf = 1
        htau = 1e-12
    }
}
FUNCTION vtrap(x, y) {
    if (fabs(x / y) < 1e-6) { vtrap = y * (1 - x / y / 2) } else { vtrap = x / (exp(x / y) - 1) }
}
"""


def test_self_blocking_sodium_channels_stop_under_ttx(tmp_path, mechanisms_built):
    circuit = write_probe_circuit(tmp_path / "circuit")
    mechanisms = circuit.root / "mechanisms"
    mechanisms.mkdir()
    (mechanisms / "test_na_ttx.mod").write_text(CHANNEL)
    template = circuit.root / "templates" / "CondHH.hoc"
    text = template.read_text()
    assert "insert hh" in text
    template.write_text(
        text.replace("insert hh", "insert hh\n        gnabar_hh = 0\n        insert TestNaTTX")
    )
    config = json.loads(circuit.circuit_config.read_text())
    config["components"]["mechanisms_dir"] = str(mechanisms)
    circuit.circuit_config.write_text(json.dumps(config, indent=1))
    ttx = [{"name": "block_na", "type": "ttx", "node_set": "Cell0"}]
    runs = {}
    for name, sections in (("base", {}), ("ttx", {"conditions": {"modifications": ttx}})):
        path = variant(circuit, name, **sections)
        run_python(DRIVER, path, tmp_path / f"{name}.npz")
        data = np.load(tmp_path / f"{name}.npz")
        runs[name] = (data, json.loads(str(data["records"])))
    (base, _), (mods, mod_records) = runs["base"], runs["ttx"]
    assert {0, 3} <= set(base["spike_gids"].tolist()), "TestNaTTX makes the HH cells spike"
    assert 0 not in set(mods["spike_gids"].tolist())
    assert 3 in set(mods["spike_gids"].tolist())
    np.testing.assert_array_equal(base["v_cells_3"], mods["v_cells_3"])
    cell0 = next(c for c in mod_records["cells"] if c["node_id"] == 0)
    soma = cell0["sections"]["soma[0]"]
    assert soma["ttxi"] == [1 / 64] * len(soma["ttxi"]) and soma["ttxo"][0] == 1.0
    gbar = _segment_values(tmp_path / "ttx.npz")
    assert gbar and all(g == 0.12 for g in gbar), "a self-blocking channel keeps its gbar"


def _segment_values(path) -> list[float]:
    """gnabar_TestNaTTX of cell 0's soma, from the driver's record of NEURON's state."""
    records = json.loads(str(np.load(path)["records"]))
    cell0 = next(c for c in records["cells"] if c["node_id"] == 0)
    return cell0["sections"]["soma[0]"].get("gnabar_TestNaTTX", [])
