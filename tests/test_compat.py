"""neurodamus conventions, checked against the worked examples of neurodamus-compat.md."""

import numpy as np

from engine.compat import (
    population_hash_id,
    population_offsets,
    round_delays,
    synapse_ids_per_target,
)


def test_population_hash_ids_match_documented_values():
    assert population_hash_id("default") == 4034
    assert population_hash_id("NodeA") == 4058
    assert population_hash_id("NodeB") == 1761
    assert population_hash_id("All") == 2481


def test_offsets_follow_sorted_names_and_thousand_blocks():
    # Examples from the compat document: A first at 0; max id 99 -> B at 1000, etc.
    assert population_offsets({"A": 99, "B": 5}) == {"A": 0, "B": 1000}
    assert population_offsets({"A": 999, "B": 5}) == {"A": 0, "B": 1000}
    assert population_offsets({"A": 1000, "B": 5}) == {"A": 0, "B": 2000}
    assert population_offsets({"A": 1999, "B": 5}) == {"A": 0, "B": 2000}
    third = population_offsets({"A": 1000, "B": 1500, "C": 0})
    assert third["C"] == (np.floor((2000 + 1500) / 1000) + 1) * 1000
    # Upper case sorts before lower case (code point order), whatever the dict order.
    assert population_offsets({"b": 10, "A": 10}) == {"A": 0, "b": 1000}


def test_delays_truncate_to_whole_steps():
    dt = 0.025
    delays = np.array([1.0, 1.01, 1.0249, 0.7500000001, 2.9999999])
    expected = np.trunc(delays / dt + 1e-5) * dt
    np.testing.assert_array_equal(round_delays(delays, dt), expected)
    assert round_delays(np.array([1.01]), dt)[0] == 40 * dt
    # 2.9999999 is within the 1e-5 step tolerance of 3.0, so it is not dropped to 2.975.
    assert round_delays(np.array([2.9999999]), dt)[0] == 120 * dt


def test_synapse_ids_are_positions_among_each_targets_afferent_edges():
    targets = np.array([3, 1, 3, 1, 1, 7])
    edge_ids = np.array([10, 11, 12, 13, 14, 15])
    ids = synapse_ids_per_target(targets, edge_ids)
    # Independent route: a plain loop over edges in edge-id order.
    expected, seen = [], {}
    for target in targets:
        expected.append(seen.get(target, 0))
        seen[target] = seen.get(target, 0) + 1
    np.testing.assert_array_equal(ids, expected)
    assert synapse_ids_per_target(np.array([]), np.array([])).size == 0
