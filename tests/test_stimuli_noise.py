"""Stochastic inputs (noise, shot noise, Ornstein-Uhlenbeck): statistics against theory
over long traces, and the Random123 stream keys against plain-NEURON draws.

The engine builds the inputs without simulating (the driver's --no-run) and saves the
played (time, value) vectors. Tolerances are 5 standard errors: exact for independent
samples, estimated by batch means for the correlated signals.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import REPO, run_python
from tests.drivers.stimuli_common import record, set_inputs, stimulus_circuit

STREAMS = REPO / "tests" / "drivers" / "stimuli_streams.py"
THRESHOLD = np.array([0.5, 0.8, 1.0, 1.2])
RESISTANCE = np.array([100.0, 120.0, 150.0, 200.0])  # MOhm
SEEDS = {"stimulus_seed": 7, "random_seed": 3}
SHOT = {"rise_time": 0.5, "decay_time": 5.0}
CURRENT = {"input_type": "current_clamp", "delay": 0.0}
INPUTS = {
    "noise_abs": {"module": "noise", "mean": 0.05, "variance": 4e-4, "duration": 10000.0,
                  "node_set": "c0", **CURRENT},
    "noise_rel": {"module": "noise", "mean_percent": 20.0, "variance": 2.0, "duration": 5000.0,
                  "node_set": "c1", **CURRENT, "delay": 100.0},
    "noise_all": {"module": "noise", "mean": 0.0, "variance": 1e-4, "duration": 50.0,
                  "node_set": "Ring", **CURRENT},
    "shot": {"module": "shot_noise", "rate": 400, "amp_mean": 0.02, "amp_var": 4e-4,
             "duration": 20000.0, "node_set": "c0", **SHOT, **CURRENT},
    "shot_small_shape": {"module": "shot_noise", "rate": 400, "amp_mean": 0.02,
                         "amp_var": 8e-4, "duration": 20000.0, "node_set": "c1",
                         **SHOT, **CURRENT},
    "shot_abs": {"module": "absolute_shot_noise", "mean": 0.1, "sigma": 0.02, "dt": 0.025,
                 "duration": 5000.0, "node_set": "c2", **SHOT, **CURRENT},
    "shot_rel_g": {"module": "relative_shot_noise", "mean_percent": 50.0, "sd_percent": 10.0,
                   "dt": 0.025, "duration": 5000.0, "node_set": "c3", **SHOT,
                   "input_type": "conductance", "delay": 0.0},
    "ou": {"module": "ornstein_uhlenbeck", "tau": 5.0, "mean": 0.1, "sigma": 0.02,
           "duration": 20000.0, "node_set": "c0", **CURRENT},
    "ou_rel": {"module": "relative_ornstein_uhlenbeck", "tau": 2.0, "mean_percent": 10.0,
               "sd_percent": 5.0, "random_seed": 99, "duration": 20000.0, "node_set": "c1",
               **CURRENT},
    # last in the file: the shot-noise counter of the blocks above is unchanged
    "shot_rel_i": {"module": "relative_shot_noise", "mean_percent": 30.0, "sd_percent": 8.0,
                   "dt": 0.025, "duration": 5000.0, "node_set": "c1", **SHOT, **CURRENT},
}  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("noise")
    circuit = stimulus_circuit(
        root / "ring",
        n_cells=4,
        dynamics={"threshold_current": THRESHOLD, "input_resistance": RESISTANCE},
    )
    config = set_inputs(circuit, INPUTS, tstop=50.0, **SEEDS)
    return record(config, root / "waves.npz", "--waveforms", "--no-run"), root


def signal(data, name, gid, k=0):
    """Sample times and values between the bracketing base points."""
    t, v = data[f"{name}__{gid}__{k}__wt"], data[f"{name}__{gid}__{k}__wv"]
    first = 2 if t[1] > 0 else 1  # a delayed signal starts with (0, 0), then (delay, 0)
    return t[first:-1], v[first:-1]


def batch_se(x: np.ndarray, statistic, n_batches: int = 20) -> float:
    values = [statistic(b) for b in np.array_split(x, n_batches)]
    return float(np.std(values, ddof=1) / math.sqrt(n_batches))


def assert_close(estimate: float, theory: float, se: float, what: str) -> None:
    assert abs(estimate - theory) < 5 * se, f"{what}: {estimate:g} vs {theory:g} (se {se:g})"


# -- white noise ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gid", "mean", "variance"),
    [("noise_abs", 0, 0.05, 4e-4), ("noise_rel", 1, 0.8 * 20 / 100, 0.8 * 2 / 100)],
)
def test_noise_mean_and_variance(generated, name, gid, mean, variance):
    data, _ = generated
    t, x = signal(data, name, gid)
    assert np.allclose(np.diff(t), 0.5)
    n = x.size
    assert_close(x.mean(), mean, math.sqrt(variance / n), "mean")
    assert_close(x.var(ddof=1), variance, variance * math.sqrt(2 / (n - 1)), "variance")


# -- shot noise -------------------------------------------------------------------------


def kernel(dt: float, n: int, tau_r: float, tau_d: float) -> np.ndarray:
    """The unit-peak bi-exponential kernel sampled every dt (what the generator filters)."""
    t_peak = math.log(tau_d / tau_r) / (1 / tau_r - 1 / tau_d)
    peak = math.exp(-t_peak / tau_d) - math.exp(-t_peak / tau_r)
    s = np.arange(n) * dt
    return (np.exp(-s / tau_d) - np.exp(-s / tau_r)) / peak


@pytest.mark.parametrize(("name", "gid", "var"), [("shot", 0, 4e-4), ("shot_small_shape", 1, 8e-4)])
def test_shot_noise_obeys_campbell(generated, name, gid, var):
    """Discrete Campbell: per dt bin a compound Poisson count (mean rate dt) of gamma
    amplitudes, filtered by the sampled kernel k: mean = r dt E[A] sum k,
    variance = r dt E[A^2] sum k^2."""
    data, _ = generated
    t, x = signal(data, name, gid)
    dt, rate, amp_mean = 0.25, 400 / 1000.0, 0.02
    k = kernel(dt, 400, 0.5, 5.0)
    mean = rate * dt * amp_mean * k.sum()
    variance = rate * dt * (var + amp_mean**2) * (k**2).sum()
    steady = x[t > 100.0]
    assert_close(steady.mean(), mean, batch_se(steady, np.mean), "mean")
    assert_close(steady.var(), variance, batch_se(steady, np.var), "variance")
    # the continuous theorem (integrals instead of sums) agrees to the discretisation error
    tau_r, tau_d = 0.5, 5.0
    t_peak = math.log(tau_d / tau_r) / (1 / tau_r - 1 / tau_d)
    peak = math.exp(-t_peak / tau_d) - math.exp(-t_peak / tau_r)
    assert mean == pytest.approx(rate * amp_mean * (tau_d - tau_r) / peak, rel=0.02)


def recovered_impulses(values: np.ndarray, dt: float, tau_r: float, tau_d: float) -> np.ndarray:
    """Invert the generator's two-stage recursion to get the impulse train back."""
    a, b = math.exp(-dt / tau_d), math.exp(-dt / tau_r)
    d, r = -math.log(a), -math.log(b)
    t_peak = math.log(r / d) / (r - d)
    p = values / ((a / b - 1) / (a**t_peak - b**t_peak))
    q = (p[1:] - a * p[:-1]) / b  # q[k-1] for k = 1..n-1
    return q[1:] - b * q[:-1]  # impulses E[0..n-3]


def test_shot_noise_events_and_amplitudes(generated, tmp_path):
    """Event bins come from Random123 stream (count + 2997, seed + 19216, gid + 1 + 123):
    negexp(1/rate) then Vector.setrand intervals; amplitudes are gamma(amp_mean, amp_var)."""
    data, _ = generated
    _, x = signal(data, "shot", 0)
    impulses = recovered_impulses(x, 0.25, 0.5, 5.0)
    bins = np.flatnonzero(np.abs(impulses) > 1e-6)
    napprox = 1 + int(20000.0 * 0.4)
    napprox = int(napprox + 3 * math.sqrt(napprox))
    spec = {
        "global_index": SEEDS["random_seed"],
        "draws": {"shot": {"ids": [0 + 2997, 7 + 19216, 0 + 1 + 123],
                           "calls": [["negexp", 1 / 400], ["vector", napprox]]}},
    }  # fmt: skip
    reference = draw(tmp_path, spec)
    events = np.cumsum(reference["shot__vec1"]) * 1000
    expected = np.unique(np.round(events[events < 20000.0] / 0.25).astype(int))
    expected = expected[expected < impulses.size]
    np.testing.assert_array_equal(bins, expected)
    # isolated events: one gamma amplitude each
    single = np.unique(np.round(events[events < 20000.0] / 0.25).astype(int), return_counts=True)
    amplitudes = impulses[single[0][(single[1] == 1) & (single[0] < impulses.size)]]
    n = amplitudes.size
    assert_close(amplitudes.mean(), 0.02, math.sqrt(4e-4 / n), "amplitude mean")
    assert_close(amplitudes.var(ddof=1), 4e-4, 4e-4 * math.sqrt(8 / n), "amplitude variance")


@pytest.mark.parametrize(
    ("name", "gid", "mean", "sd"),
    [
        ("shot_abs", 2, 0.1, 0.02),
        ("shot_rel_g", 3, 0.5 / 200.0, 0.1 / 200.0),
        ("shot_rel_i", 1, 0.3 * 0.8, 0.08 * 0.8),  # % of threshold_current (0.8 nA)
    ],
)
def test_shot_noise_from_mean_and_sd(generated, name, gid, mean, sd):
    """absolute/relative forms reach the requested mean and sd (relative current: % of
    threshold_current; relative conductance: % of 1/input_resistance, played into rs as 1/g)."""
    data, _ = generated
    t, x = signal(data, name, gid)
    if name == "shot_rel_g":
        x = np.where(x < 1e9, 1.0 / x, 0.0)
    steady = x[t > 100.0]
    assert_close(steady.mean(), mean, batch_se(steady, np.mean), "mean")
    assert_close(steady.std(), sd, batch_se(steady, np.std), "sd")


# -- Ornstein-Uhlenbeck -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gid", "mean", "sigma", "tau"),
    [("ou", 0, 0.1, 0.02, 5.0), ("ou_rel", 1, 0.08, 0.04, 2.0)],
)
def test_ou_mean_sd_and_correlation_time(generated, name, gid, mean, sigma, tau):
    data, _ = generated
    t, x = signal(data, name, gid)
    steady = x[t > 10 * tau]
    assert_close(steady.mean(), mean, batch_se(steady, np.mean), "mean")
    assert_close(steady.std(), sigma, batch_se(steady, np.std), "sd")
    lag = int(round(tau / 0.25))

    def correlation(y):
        y = y - y.mean()
        return float(np.dot(y[:-lag], y[lag:]) / np.dot(y, y))

    rho = correlation(steady)
    assert_close(rho, math.exp(-1), batch_se(steady, correlation), "autocorrelation at tau")
    tau_estimate = -lag * 0.25 / math.log(rho)
    assert tau_estimate == pytest.approx(tau, rel=0.1)


# -- stream keys (compat doc 4.4-4.6) ---------------------------------------------------


def draw(tmp_path, spec) -> dict[str, np.ndarray]:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    run_python(STREAMS, path, tmp_path / "draws.npz")
    with np.load(tmp_path / "draws.npz") as data:
        return {k: data[k] for k in data.files}


def test_noise_and_ou_streams_are_keyed_as_neurodamus(generated, tmp_path):
    data, _ = generated
    seed, gi = SEEDS["stimulus_seed"], SEEDS["random_seed"]
    n_abs, n_rel, n_ou = 20001, 10001, 80001
    # noise_rel starts at 100 ms: 200 numbers (t = 0..99.975 every 0.5 ms) are dropped.
    draws = {
        "noise_abs": {"ids": [0 + 100, seed + 500, 0 + 1 + 300],
                      "calls": [["normal", 0.05, 4e-4], ["vector", n_abs]]},
        "noise_rel": {"ids": [1 + 100, seed + 500, 1 + 1 + 300],
                      "calls": [["vector", 200], ["normal", 0.8 * 20.0 / 100, 0.8 * 2.0 / 100], ["vector", n_rel]]},
        "ou": {"ids": [0 + 2997, seed + 291204, 0 + 1 + 123],
               "calls": [["normal", 0, 1], ["vector", n_ou]]},
        "ou_rel": {"ids": [1 + 2997, seed + 291204, 99],
                   "calls": [["normal", 0, 1], ["vector", n_ou]]},
    }  # fmt: skip
    for gid in range(4):
        draws[f"noise_all_{gid}"] = {
            "ids": [2 + 100, seed + 500, gid + 1 + 300],
            "calls": [["normal", 0.0, 1e-4], ["vector", 101]],
        }
    reference = draw(tmp_path, {"global_index": gi, "draws": draws})
    np.testing.assert_array_equal(signal(data, "noise_abs", 0)[1], reference["noise_abs__vec1"])
    np.testing.assert_array_equal(signal(data, "noise_rel", 1)[1], reference["noise_rel__vec2"])
    for gid in range(4):
        got = signal(data, "noise_all", gid)[1]
        np.testing.assert_array_equal(got, reference[f"noise_all_{gid}__vec1"])
    relative = ((5.0 / 100) * THRESHOLD[1], (10.0 / 100) * THRESHOLD[1])  # doc 4.6 formulas
    for name, gid, sigma, mean, tau in (("ou", 0, 0.02, 0.1, 5.0), ("ou_rel", 1, *relative, 2.0)):
        mu = math.exp(-0.25 / tau)
        kicks = reference[f"{name}__vec1"] * (sigma * math.sqrt(1 - mu * mu))
        expected = np.zeros(n_ou)
        for k in range(1, n_ou):
            expected[k] = expected[k - 1] * mu + kicks[k]
        np.testing.assert_array_equal(signal(data, name, gid)[1], expected + mean)
