"""Our TM synapses (SonataProbAMPANMDA, SonataProbGABAAB) against the equations themselves.

The other synapse tests compare the engine with plain-NEURON scripts that use the same mod
files, so they cannot catch a wrong equation in the mod files. Here one or many synapses on
a passive section are driven by presynaptic events (tests/drivers/tm_synapse_probe.py,
plain NEURON) and what they did is compared with the model written out in numpy:

* facilitation, u := u exp(-s/Fac) (0 if Fac = 0), then u := u + Use (1 - u), from u0 = 0;
* refill: every empty site refills with probability 1 - exp(-s/Dep) (certain if Dep = 0);
* release: every filled site releases with probability u;
* conductance after a release of n vesicles: n * weight * gmax times the normalised double
  exponential of (tau_r, tau_d), whose peak is 1.

Where releases are certain the counts are checked exactly; where they are random, the
per-event means over many synapses (independent Random123 streams) are checked against the
exact expectation (an occupancy Markov chain in numpy) with tolerances from the binomial
variance.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import REPO, run_python

PROBE = REPO / "tests" / "drivers" / "tm_synapse_probe.py"
MECHANISMS = ("SonataProbAMPANMDA", "SonataProbGABAAB")
DT = 1 / 64  # binary: event times and t stay exact
GMAX = 0.001  # uS per nS of NetCon weight (the mod default)
N_RANDOM = 200  # synapses per random scenario
Z = 5.0  # tolerance in standard deviations


def _train(start: float, intervals: list[float]) -> list[float]:
    return list(start + np.concatenate([[0.0], np.cumsum(intervals)]))


IRREGULAR = [2.0, 3.0, 5.0, 8.0, 13.0, 4.0, 2.0, 2.0, 30.0, 6.0, 1.0, 1.0, 10.0, 50.0, 3.0]
IRREGULAR += [0.5, 0.5, 20.0, 7.5]
# name -> (params, events, synapses)
RELEASE = {
    # Use 1, immediate refill, no facilitation: every event releases all Nrrp vesicles
    "certain": ({"Use": 1.0, "Dep": 0.0, "Fac": 0.0, "Nrrp": 5}, _train(5.0, [5.0] * 29), 3),
    # Dep huge: the sites never refill, so only the first event releases
    "no_refill": ({"Use": 1.0, "Dep": 1e12, "Fac": 0.0, "Nrrp": 4}, _train(5.0, [5.0] * 29), 3),
    # immediate refill, facilitating u: releases ~ Binomial(Nrrp, u_k), independent events
    "facilitation": (
        {"Use": 0.15, "Dep": 0.0, "Fac": 60.0, "Nrrp": 6},
        _train(5.0, IRREGULAR),
        N_RANDOM,
    ),
    # Use 1: every event empties the sites; each refills with 1 - exp(-s/Dep)
    "depression": (
        {"Use": 1.0, "Dep": 80.0, "Fac": 0.0, "Nrrp": 4},
        _train(5.0, IRREGULAR),
        N_RANDOM,
    ),
    # all three at once: the expectation comes from the occupancy Markov chain
    "general": (
        {"Use": 0.4, "Dep": 120.0, "Fac": 30.0, "Nrrp": 3},
        _train(5.0, IRREGULAR),
        N_RANDOM,
    ),
}
# one certain release of Nrrp = 3 vesicles of `weight` nS at t = 2 ms, small dt
CONDUCTANCE = {
    "SonataProbAMPANMDA": {"Use": 1.0, "Dep": 0.0, "Fac": 0.0, "Nrrp": 3, "tau_d_AMPA": 1.7},
    "SonataProbGABAAB": {
        "Use": 1.0,
        "Dep": 0.0,
        "Fac": 0.0,
        "Nrrp": 3,
        "tau_d_GABAA": 8.0,
        "GABAB_ratio": 0.5,
    },
}
WEIGHT, ARRIVAL, FINE_DT, TSTOP = 0.7, 2.0, 1 / 1024, 25.0


@pytest.fixture(scope="module")
def probe(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("tm_equations")
    spec = {"release": [], "conductance": []}
    for mechanism in MECHANISMS:
        for params, events, n in RELEASE.values():
            spec["release"].append(
                {"mechanism": mechanism, "params": params, "events": events, "n": n, "dt": DT}
            )
        spec["conductance"].append(
            {
                "mechanism": mechanism,
                "params": CONDUCTANCE[mechanism],
                "events": [ARRIVAL],
                "weight": WEIGHT,
                "dt": FINE_DT,
                "tstop": TSTOP,
            }
        )
    (root / "spec.json").write_text(json.dumps(spec))
    run_python(PROBE, mechanisms_built, root / "spec.json", root / "out.json")
    out = json.loads((root / "out.json").read_text())
    names = list(RELEASE)
    release = {
        (m, name): out["release"][i * len(names) + j]
        for i, m in enumerate(MECHANISMS)
        for j, name in enumerate(names)
    }
    conductance = dict(zip(MECHANISMS, out["conductance"], strict=True))
    return release, conductance


# ------------------------------------------------------------------ the model in numpy


def tm_u(params: dict, events: list[float]) -> np.ndarray:
    """u after each event: u := u exp(-s/Fac) (0 if Fac <= 0); u := u + Use (1 - u)."""
    use, fac = params["Use"], params["Fac"]
    u, last, out = 0.0, 0.0, []
    for t in events:
        s = t - last
        u = u * math.exp(-s / fac) if fac > 0 else 0.0
        u = u + use * (1.0 - u)
        out.append(u)
        last = t
    return np.array(out)


def refill_probabilities(params: dict, events: list[float]) -> np.ndarray:
    dep = params["Dep"]
    s = np.diff(np.concatenate([[0.0], events]))
    return 1.0 - np.exp(-s / dep) if dep > 0 else np.ones(s.size)


def binomial_pmf(n: int, p: float) -> np.ndarray:
    k = np.arange(n + 1)
    return np.array([math.comb(n, int(i)) for i in k]) * p**k * (1.0 - p) ** (n - k)


def expected_releases(params: dict, events: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance of each event's release count (occupancy Markov chain)."""
    n = int(params["Nrrp"])
    u = tm_u(params, events)
    p_refill = refill_probabilities(params, events)
    occupancy = np.zeros(n + 1)
    occupancy[n] = 1.0  # all sites full at the start
    means, variances = [], []
    for k in range(len(events)):
        refilled = np.zeros(n + 1)
        for o, prob in enumerate(occupancy):
            refilled[o:] += prob * binomial_pmf(n - o, p_refill[k])
        released = np.zeros(n + 1)
        after = np.zeros(n + 1)
        for o, prob in enumerate(refilled):
            pmf = binomial_pmf(o, u[k])
            released[: o + 1] += prob * pmf
            after[o - np.arange(o + 1)] += prob * pmf
        occupancy = after
        values = np.arange(n + 1)
        mean = float(values @ released)
        means.append(mean)
        variances.append(float(values**2 @ released) - mean**2)
    return np.array(means), np.clip(np.array(variances), 0.0, None)


# ------------------------------------------------------------------ release


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("name", list(RELEASE))
def test_u_and_event_times_follow_the_recurrence(probe, mechanism, name):
    params, events, n = RELEASE[name]
    run = probe[0][(mechanism, name)]
    tsyn = np.array(run["tsyn"])
    assert tsyn.shape == (len(events), n)
    np.testing.assert_array_equal(tsyn, np.repeat(np.array(events)[:, None], n, axis=1))
    u = np.array(run["u"])
    # u does not depend on the draws: every synapse follows the recurrence
    np.testing.assert_allclose(u, np.repeat(tm_u(params, events)[:, None], n, axis=1), rtol=1e-12)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_certain_release_empties_every_site_at_every_event(probe, mechanism):
    params, events, _ = RELEASE["certain"]
    run = probe[0][(mechanism, "certain")]
    assert np.all(np.array(run["released"]) == params["Nrrp"])
    assert np.all(np.array(run["occupied"]) == 0)
    np.testing.assert_array_equal(np.array(run["u"]), 1.0)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sites_that_never_refill_release_only_once(probe, mechanism):
    params, events, n = RELEASE["no_refill"]
    run = probe[0][(mechanism, "no_refill")]
    released = np.array(run["released"])
    np.testing.assert_array_equal(released[0], np.full(n, params["Nrrp"]))
    np.testing.assert_array_equal(released[1:], 0)
    assert np.all(np.array(run["occupied"]) == 0)


def _check_means(released: np.ndarray, mean: np.ndarray, variance: np.ndarray, label: str):
    """Per event: the mean over synapses within Z standard errors (exact if variance 0)."""
    m = released.shape[1]
    got = released.mean(axis=1)
    for k, (g, mu, var) in enumerate(zip(got, mean, variance, strict=True)):
        if var < 1e-12:
            assert g == pytest.approx(mu, abs=1e-12), f"{label} event {k}"
        else:
            assert abs(g - mu) <= Z * math.sqrt(var / m), f"{label} event {k}: {g} vs {mu}"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_facilitating_release_is_binomial_in_u(probe, mechanism):
    params, events, n = RELEASE["facilitation"]
    released = np.array(probe[0][(mechanism, "facilitation")]["released"])
    occupied = np.array(probe[0][(mechanism, "facilitation")]["occupied"])
    nrrp = params["Nrrp"]
    np.testing.assert_array_equal(occupied, nrrp - released)  # Dep 0: all refilled first
    u = tm_u(params, events)
    mean, variance = nrrp * u, nrrp * u * (1 - u)
    _check_means(released, mean, variance, "facilitation")
    # all events and synapses together: independent binomials
    total, expected = released.sum(), n * mean.sum()
    assert abs(total - expected) <= Z * math.sqrt(n * variance.sum()), (total, expected)
    # the draws are not degenerate: facilitation raises the release over the train
    assert released[-1].mean() > released[0].mean() + 1.0


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_depressed_sites_refill_with_one_minus_exp(probe, mechanism):
    params, events, n = RELEASE["depression"]
    released = np.array(probe[0][(mechanism, "depression")]["released"])
    assert np.all(np.array(probe[0][(mechanism, "depression")]["occupied"]) == 0)  # Use 1
    nrrp = params["Nrrp"]
    np.testing.assert_array_equal(released[0], nrrp)  # full at the start
    p = refill_probabilities(params, events)[1:]
    mean, variance = nrrp * p, nrrp * p * (1 - p)
    _check_means(released[1:], mean, variance, "depression")
    total, expected = released[1:].sum(), n * mean.sum()
    assert abs(total - expected) <= Z * math.sqrt(n * variance.sum()), (total, expected)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_general_release_matches_the_occupancy_chain(probe, mechanism):
    params, events, n = RELEASE["general"]
    run = probe[0][(mechanism, "general")]
    released, occupied = np.array(run["released"]), np.array(run["occupied"])
    assert released.min() >= 0 and released.max() <= params["Nrrp"]
    assert occupied.min() >= 0 and occupied.max() <= params["Nrrp"]
    assert np.all(released + occupied <= params["Nrrp"])
    mean, variance = expected_releases(params, events)
    _check_means(released, mean, variance, "general")
    # the chain is not the trivial one: depression lowers releases after short intervals
    assert mean.min() < 0.5 * mean.max()
    # the two special cases above, through the chain too (checks the chain itself)
    for name in ("facilitation", "depression"):
        p2, ev2, _ = RELEASE[name]
        chain_mean, _ = expected_releases(p2, ev2)
        if name == "facilitation":
            np.testing.assert_allclose(chain_mean, p2["Nrrp"] * tm_u(p2, ev2), rtol=1e-12)
        else:
            p = refill_probabilities(p2, ev2)[1:]
            np.testing.assert_allclose(chain_mean[1:], p2["Nrrp"] * p, rtol=1e-12)


def test_the_two_mechanisms_draw_alike(probe):
    """Same release code and keys: the same counts on AMPA/NMDA and GABA-A/B."""
    release, _ = probe
    for name in RELEASE:
        a, b = release[(MECHANISMS[0], name)], release[(MECHANISMS[1], name)]
        assert a["released"] == b["released"], name


# ------------------------------------------------------------------ conductance


def normalised_double_exp(s: np.ndarray, tau_r: float, tau_d: float) -> np.ndarray:
    """exp(-s/tau_d) - exp(-s/tau_r) scaled to peak 1 (0 before the event)."""
    s_peak = tau_r * tau_d / (tau_d - tau_r) * math.log(tau_d / tau_r)
    norm = 1.0 / (math.exp(-s_peak / tau_d) - math.exp(-s_peak / tau_r))
    s = np.asarray(s)
    return np.where(s >= 0, norm * (np.exp(-s / tau_d) - np.exp(-s / tau_r)), 0.0)


def _components(mechanism: str):
    """(state prefix, tau_r, tau_d, ratio) of each conductance, from the compat defaults."""
    params = CONDUCTANCE[mechanism]
    if mechanism == "SonataProbAMPANMDA":
        return [("AMPA", 0.2, params["tau_d_AMPA"], 1.0), ("NMDA", 0.29, 43.0, 0.71)]
    return [("GABAA", 0.2, params["tau_d_GABAA"], 1.0), ("GABAB", 3.5, 260.9, 0.5)]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_defaults_are_the_documented_ones(probe, mechanism):
    d = probe[1][mechanism]["defaults"]
    assert d["gmax"] == GMAX
    if mechanism == "SonataProbAMPANMDA":
        expected = {"tau_r_AMPA": 0.2, "tau_r_NMDA": 0.29, "tau_d_NMDA": 43.0, "e": 0.0}
        expected |= {"mg": 1.0, "NMDA_ratio": 0.71}
    else:
        expected = {"tau_r_GABAA": 0.2, "tau_r_GABAB": 3.5, "tau_d_GABAB": 260.9}
        expected |= {"e_GABAA": -80.0, "e_GABAB": -97.0, "GABAB_ratio": 0.5}
    for name, value in expected.items():
        assert d[name] == value, name


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_conductance_after_one_release_is_the_normalised_double_exponential(probe, mechanism):
    run = probe[1][mechanism]
    n = CONDUCTANCE[mechanism]["Nrrp"]
    assert run["released"] == n
    t, v = np.array(run["t"]), np.array(run["v"])
    assert t.size == int(round(TSTOP / FINE_DT)) + 1
    total = np.zeros(t.size)
    for name, tau_r, tau_d, ratio in _components(mechanism):
        peak = n * WEIGHT * ratio * GMAX  # uS
        shape = normalised_double_exp(t - ARRIVAL, tau_r, tau_d)
        # the states are exact exponentials at the ends of the steps (cnexp)
        state_g = GMAX * (np.array(run[f"B_{name}"]) - np.array(run[f"A_{name}"]))
        np.testing.assert_allclose(state_g, peak * shape, rtol=0, atol=1e-9 * peak, err_msg=name)
        # g is computed in BREAKPOINT before the states advance: one step behind
        lagged = peak * normalised_double_exp(t - ARRIVAL - FINE_DT, tau_r, tau_d)
        g = np.array(run[f"g_{name}"])
        if name == "NMDA":
            mggate = np.array(run["mggate"])
            # Jahr & Stevens block at the voltage the BREAKPOINT saw (the previous step's)
            block = 1.0 / (1.0 + np.exp(-0.062 * v[:-1]) * (1.0 / 3.57))
            np.testing.assert_allclose(mggate[1:], block, rtol=1e-12)
            assert np.ptp(mggate[1:]) > 0.05  # the depolarisation relieves the block
            np.testing.assert_allclose(g, lagged * mggate, rtol=0, atol=1e-9 * peak)
            # without the block the peak is the weight
            assert (g[1:] / mggate[1:]).max() == pytest.approx(peak, rel=1e-6)
        else:
            np.testing.assert_allclose(g, lagged, rtol=0, atol=1e-9 * peak, err_msg=name)
            assert g.max() == pytest.approx(peak, rel=1e-6), name  # peak = n * weight * gmax
            assert t[np.argmax(g)] == pytest.approx(
                ARRIVAL + FINE_DT + tau_r * tau_d / (tau_d - tau_r) * math.log(tau_d / tau_r),
                abs=FINE_DT,
            )
        total += g
    np.testing.assert_allclose(np.array(run["g"]), total, rtol=1e-12, atol=1e-18)
    # currents at the BREAKPOINT's voltage
    i = np.array(run["i"])
    if mechanism == "SonataProbAMPANMDA":
        np.testing.assert_allclose(i[1:], total[1:] * (v[:-1] - 0.0), rtol=1e-9, atol=1e-15)
    else:
        i_a = np.array(run["g_GABAA"])[1:] * (v[:-1] + 80.0)
        i_b = np.array(run["g_GABAB"])[1:] * (v[:-1] + 97.0)
        np.testing.assert_allclose(np.array(run["i_GABAA"])[1:], i_a, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(np.array(run["i_GABAB"])[1:], i_b, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(i[1:], i_a + i_b, rtol=1e-9, atol=1e-15)
    assert np.ptp(v) > 0.1, "the synapse should move the membrane"
