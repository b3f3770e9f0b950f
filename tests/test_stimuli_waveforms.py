"""Deterministic current inputs and seclamp, run by the real engine, against closed forms.

Each input drives its own passive single-compartment cell. Recorded amp (the played
waveform) must equal the closed-form waveform at every sample; the source's current i,
evaluated by NEURON at step midpoints, must equal minus the waveform there; and the soma
voltage must equal the backward-Euler solution of the passive membrane under that current.
Step times are kept off the dt grid so no sample sits on a discontinuity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.drivers.stimuli_common import (
    E_PAS,
    G_PAS,
    passive_voltage,
    record,
    set_inputs,
    stimulus_circuit,
)

DELAY, DURATION = 5.01, 40.0
THRESHOLD = np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
HOLDING = np.array([-0.05, -0.06, -0.07, -0.08, -0.09, -0.1])


def ramp(t, start, end, delay=DELAY, duration=DURATION):
    inside = (t > delay) & (t < delay + duration)
    return np.where(inside, start + (end - start) * (t - delay) / duration, 0.0)


def pulses(t, amp, frequency, width, delay=DELAY, duration=DURATION):
    period = 1000.0 / frequency
    phase = np.mod(t - delay, period)
    on = (t > delay) & (t < delay + duration) & (phase < width)
    return np.where(on, amp, 0.0)


def sinusoid(t, amp, frequency, delay=DELAY, duration=DURATION):
    inside = (t >= delay) & (t < delay + duration)
    return np.where(inside, amp * np.sin(2 * np.pi * frequency * (t - delay) / 1000.0), 0.0)


BASE = {"delay": DELAY, "duration": DURATION, "input_type": "current_clamp"}
INPUTS = {
    "lin": {"module": "linear", "amp_start": 0.1, "amp_end": 0.4, "node_set": "c0"},
    "pul": {"module": "pulse", "amp_start": 0.2, "width": 3.0, "frequency": 70, "node_set": "c1"},
    "sin": {"module": "sinusoidal", "amp_start": 0.15, "frequency": 40, "node_set": "c2"},
    "rel": {"module": "relative_linear", "percent_start": 50, "percent_end": 150, "node_set": "c3"},
    "sub": {"module": "subthreshold", "percent_less": 20, "node_set": "c4"},
    "hyp": {"module": "hyperpolarizing", "node_set": "c5"},
}
CLOSED_FORMS = {
    "lin": lambda t: ramp(t, 0.1, 0.4),
    "pul": lambda t: pulses(t, 0.2, 70, 3.0),
    "sin": lambda t: sinusoid(t, 0.15, 40),
    "rel": lambda t: ramp(t, THRESHOLD[3] * 0.5, THRESHOLD[3] * 1.5),
    "sub": lambda t: ramp(t, THRESHOLD[4] * 0.8, THRESHOLD[4] * 0.8),
    "hyp": lambda t: ramp(t, HOLDING[5], HOLDING[5]),
}
GID = {"lin": 0, "pul": 1, "sin": 2, "rel": 3, "sub": 4, "hyp": 5}


def tolerance(name: str) -> float:
    """Played vs closed form: rounding only, except the sinusoid, which is linearly
    interpolated between samples every 0.025 ms (error <= amp (omega step)^2 / 8)."""
    if name == "sin":
        return 0.15 * (2 * math.pi * 40 * 0.025e-3) ** 2 / 8 + 1e-12
    return 1e-12


@pytest.fixture(scope="module")
def waveform_circuit(tmp_path_factory):
    root = tmp_path_factory.mktemp("waveforms")
    circuit = stimulus_circuit(
        root / "ring",
        n_cells=6,
        dynamics={"threshold_current": THRESHOLD, "holding_current": HOLDING},
    )
    return circuit, root


def run_inputs(circuit, root, tag, physical=False, ranks=1, flags=()):
    inputs = {
        name: {**BASE, **block, "represents_physical_electrode": physical}
        for name, block in INPUTS.items()
    }
    config = set_inputs(circuit, inputs, tstop=50.0)
    return record(config, root / f"{tag}.npz", *flags, ranks=ranks)


@pytest.fixture(scope="module")
def membrane_run(waveform_circuit):
    return run_inputs(*waveform_circuit, "membrane", flags=("--imem",))


@pytest.fixture(scope="module")
def electrode_run(waveform_circuit):
    return run_inputs(*waveform_circuit, "electrode", physical=True, flags=("--imem",))


@pytest.mark.parametrize("name", list(INPUTS))
def test_played_waveform_equals_closed_form(membrane_run, name):
    data, gid = membrane_run, GID[name]
    t, amp = data["t"], data[f"{name}__{gid}__0__amp"]
    expected = CLOSED_FORMS[name](t)
    # NEURON applies a jump at the step boundary nearest to it, so a sample less than
    # dt/2 after a jump still shows the old value; the currents (next test) are exact.
    jump = np.abs(expected - CLOSED_FORMS[name](t - 0.0125)) > 1e-3
    window = (t < DELAY + DURATION - 0.05) & ~jump  # after the end dur switches it off
    assert np.count_nonzero(jump) <= 2 * DURATION * 70 / 1000 + 4
    np.testing.assert_allclose(amp[window], expected[window], rtol=0, atol=tolerance(name))


@pytest.mark.parametrize("name", list(INPUTS))
def test_source_current_and_passive_voltage(membrane_run, name):
    """i (outward) = -waveform at each step midpoint; v = backward Euler under it."""
    data, gid = membrane_run, GID[name]
    t = data["t"]
    mid = 0.5 * (t[:-1] + t[1:])
    expected = CLOSED_FORMS[name](mid)
    current = -data[f"{name}__{gid}__0__i"][1:]
    np.testing.assert_allclose(current, expected, rtol=0, atol=tolerance(name))
    assert np.all(current[mid > DELAY + DURATION + 0.01] == 0.0)
    area = float(data[f"area__{gid}"])
    v = passive_voltage(t, expected, area)
    r_input = 100.0 / (G_PAS * area)  # MOhm: a current error of x nA moves v by <= x R
    atol = 1e-9 + tolerance(name) * r_input
    np.testing.assert_allclose(data[f"v__{gid}"], v, rtol=0, atol=atol)


def test_physical_electrode_gives_the_same_voltage(membrane_run, electrode_run):
    """IClamp (represents_physical_electrode) and our membrane source inject the same."""
    for name, gid in GID.items():
        np.testing.assert_allclose(
            electrode_run[f"v__{gid}"], membrane_run[f"v__{gid}"], rtol=0, atol=1e-9
        )
        np.testing.assert_allclose(
            electrode_run[f"{name}__{gid}__0__i"],
            -membrane_run[f"{name}__{gid}__0__i"],
            rtol=0,
            atol=1e-12,
        )


def test_only_membrane_sources_count_in_i_membrane(membrane_run, electrode_run):
    """Kirchhoff on an isolated cell: the membrane currents sum to the electrode current.

    Our source is itself a membrane current, so the sum is 0; with IClamp it is the
    injected current.
    """
    for name, gid in GID.items():
        total = membrane_run[f"imem__{gid}"][1:]
        assert np.max(np.abs(total)) < 1e-9, name
        injected = electrode_run[f"{name}__{gid}__0__i"][1:]
        assert np.max(np.abs(injected)) > 0.04, name
        np.testing.assert_allclose(electrode_run[f"imem__{gid}"][1:], injected, atol=1e-9)


def test_seclamp_levels(tmp_path):
    circuit = stimulus_circuit(tmp_path / "ring", n_cells=2)
    clamp = {
        "module": "seclamp",
        "input_type": "voltage_clamp",
        "delay": 0.0,
        "duration": 30.0,
        "voltage": -70.0,
        "series_resistance": 0.01,
    }
    levels = {**clamp, "duration_levels": [10.0, 5.0], "voltage_levels": [-50.0, -30.0]}
    config = set_inputs(
        circuit, {"plain": {**clamp, "node_set": "c0"}, "steps": {**levels, "node_set": "c1"}}
    )
    data = record(config, tmp_path / "seclamp.npz")
    t = data["t"]
    held = {0: np.full(t.size, -70.0), 1: np.select([t < 10, t < 15], [-50.0, -30.0], -70.0)}
    np.testing.assert_array_equal(data["steps__1__0__amp1"][t < 29.99], held[1][t < 29.99])
    # Away from the steps (rs C ~ 1e-7 ms), v is the divider of the command and e_pas
    # through rs and the input resistance.
    for gid in (0, 1):
        r_input = 100.0 / (G_PAS * float(data[f"area__{gid}"]))
        command = held[gid]
        steady = command + (E_PAS - command) * 0.01 / (0.01 + r_input)
        v = data[f"v__{gid}"]
        settled = (t > 0.1) & (t < 29.9) & (np.abs(t - 10) > 0.1) & (np.abs(t - 15) > 0.1)
        np.testing.assert_allclose(v[settled], steady[settled], rtol=0, atol=1e-9)
    # After duration the clamp lets go: the membrane relaxes back towards e_pas.
    assert data["v__1"][-1] > -70.0 + 1.0


def test_conductance_source_matches_seclamp(tmp_path):
    """The same conductance signal through SonataConductanceSource and, as a physical
    electrode, through SEClamp gives the same voltage; only the former is a membrane
    current. (random_seed gives both cells the same stream.)"""
    circuit = stimulus_circuit(tmp_path / "ring", n_cells=2)
    ou = {
        "module": "ornstein_uhlenbeck", "input_type": "conductance", "delay": 3.01,
        "duration": 30.0, "tau": 3.0, "mean": 0.002, "sigma": 0.0005, "reversal": -20.0,
        "random_seed": 77, "node_set": "Ring",
    }  # fmt: skip
    runs = {}
    for physical in (False, True):
        block = {**ou, "represents_physical_electrode": physical}
        config = set_inputs(circuit, {"g": block}, tstop=40.0)
        runs[physical] = record(config, tmp_path / f"g{physical}.npz", "--imem")
    membrane, electrode = runs[False], runs[True]
    np.testing.assert_array_equal(membrane["g__0__0__rs"], membrane["g__1__0__rs"])
    np.testing.assert_array_equal(membrane["g__0__0__rs"], electrode["g__0__0__rs"])
    assert membrane["v__0"].max() > -60.0  # ~2 nS towards -20 mV depolarises clearly
    for gid in (0, 1):
        np.testing.assert_allclose(membrane[f"v__{gid}"], electrode[f"v__{gid}"], atol=1e-9)
        assert np.max(np.abs(membrane[f"imem__{gid}"][1:])) < 1e-9
        # SEClamp reports i re-evaluated after each step (rs and v at the step's end), so
        # it matches the membrane current summed over the step only approximately.
        injected = electrode[f"g__{gid}__0__i"][1:]
        assert np.max(np.abs(injected)) > 0.05
        np.testing.assert_allclose(electrode[f"imem__{gid}"][1:], injected, atol=0.003)
