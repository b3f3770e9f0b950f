"""Load balance: greedy plans, cost estimates, the balance command, identical results.

The heterogeneous circuit (cells of 2 to 500 compartments, two biophysical populations)
comes from benchmarks/bench_load_balance.py; its cells' costs are recomputed here from what
the generator wrote (dendrite segments, synapse counts), independently of the estimator.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.config import load_setup
from engine.errors import ConfigError
from engine.generate.heterogeneous import generate_heterogeneous
from engine.managers import load_balance
from engine.managers.cells.cost import COMPARTMENT_COST, MECHANISM_COST, SYNAPSE_COST
from tests.conftest import run_cli, run_python


def test_whole_cell_is_greedy_deterministic_and_spans_populations():
    cells = {"b": np.array([0, 1, 2], np.uint64), "a": np.array([5, 9], np.uint64)}
    costs = {"b": np.array([10.0, 1.0, 1.0]), "a": np.array([6.0, 4.0])}
    plan = load_balance.whole_cell(cells, 2, costs)
    # Largest first: b0 (10) -> r0, a5 (6) -> r1, a9 (4) -> r1; then b1 (loads 10/10: the
    # lower rank wins) -> r0 and b2 -> r1. Equal costs go by population name, then id.
    assert plan["b"].tolist() == [0, 0, 1] and plan["a"].tolist() == [1, 1]
    summary = load_balance.summarize(plan, costs, 2, "whole-cell")
    assert summary.cells.tolist() == [2, 3] and summary.costs.tolist() == [11.0, 11.0]
    assert summary.imbalance == 1.0
    again = load_balance.assign_ranks(cells, 2, "whole-cell", costs)
    assert {k: v.tolist() for k, v in again.items()} == {k: v.tolist() for k, v in plan.items()}
    rr = load_balance.round_robin(cells, 2)
    assert rr["a"].tolist() == [0, 1] and rr["b"].tolist() == [0, 1, 0]


def test_greedy_balance_on_many_heterogeneous_cells():
    rng = np.random.default_rng(0)
    cells = {"p": np.arange(400, dtype=np.uint64), "q": np.arange(100, dtype=np.uint64)}
    costs = {name: np.exp(rng.uniform(0, np.log(500), ids.size)) for name, ids in cells.items()}
    for nranks in (2, 4, 7):
        plan = load_balance.whole_cell(cells, nranks, costs)
        assert load_balance.summarize(plan, costs, nranks, "wc").imbalance <= 1.01
    assert load_balance.choose_mode(cells, 4, costs) in ("whole-cell", "round-robin")
    assert load_balance.choose_mode(cells, 1, costs) == "round-robin"
    tiny = {"p": np.arange(3, dtype=np.uint64)}
    assert load_balance.choose_mode(tiny, 2, {"p": np.array([1.0, 50.0, 2.0])}) == "round-robin"


def test_modes_that_do_not_exist_are_clear_errors():
    with pytest.raises(ConfigError, match="multisplit .* not implemented"):
        load_balance.check_mode("multisplit")
    with pytest.raises(ConfigError, match="unknown load-balance mode 'fast'.*whole-cell"):
        load_balance.check_mode("fast")


@pytest.fixture(scope="module")
def het(tmp_path_factory, mechanisms_built):
    return generate_heterogeneous(tmp_path_factory.mktemp("het") / "c", n_cells=96, tstop=50.0)


def _expected_costs(circuit) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Soma (hh + pas), dendrite of k segments (pas), synapses: from the generator's files.

    Returns the costs per population and every cell's compartment count.
    """
    import h5py

    out, compartments = {}, []
    with h5py.File(circuit.root / "nodes.h5", "r") as f:
        for pop in ("big", "small"):
            names = [m.decode() for m in f[f"nodes/{pop}/0/morphology"][:]]
            segments = np.array([int(m.split("_")[1]) for m in names])
            synapses = np.zeros(segments.size)
            for _, (_, tgt) in ((n, e) for n, e in circuit.edges.items() if n.endswith(pop)):
                synapses += np.bincount(tgt.astype(np.int64), minlength=segments.size)
            soma = COMPARTMENT_COST + 2 * MECHANISM_COST
            dend = COMPARTMENT_COST + MECHANISM_COST
            out[pop] = soma + dend * segments + SYNAPSE_COST * synapses
            compartments.append(1 + segments)
    return out, np.concatenate(compartments)


def _plan_file(text: str) -> Path:
    return Path(re.search(r"^Plan (?:written|reused): (.*)$", text, re.MULTILINE).group(1))


def test_balance_command_estimates_costs_and_balances_2_and_4_ranks(tmp_path, het):
    expected, compartments = _expected_costs(het)
    assert compartments.min() == 2 and compartments.max() == 500
    for nranks in (2, 4):
        result = run_cli(
            "balance", het.simulation_config, "--ranks", nranks, "--output-dir", tmp_path
        )
        text = result.stdout
        assert f"whole-cell, {nranks} rank(s), 96 cells (big 24, small 72)" in text
        wc = float(re.search(r"imbalance \(max/mean cost\): ([\d.]+)", text).group(1))
        rr = float(re.search(r"round-robin would give imbalance ([\d.]+)", text).group(1))
        assert wc <= 1.05 and rr >= 1.1, text
        with np.load(_plan_file(text)) as data:
            for pop in ("big", "small"):
                np.testing.assert_allclose(data[f"cost/{pop}"], expected[pop])
            ranks = np.concatenate([data["rank/big"], data["rank/small"]])
        loads = np.bincount(ranks, weights=np.concatenate([expected["big"], expected["small"]]))
        assert loads.size == nranks and loads.max() / loads.mean() == pytest.approx(wc, abs=1e-3)
        again = run_cli(
            "balance", het.simulation_config, "--ranks", nranks, "--output-dir", tmp_path
        )
        assert "Plan reused" in again.stdout and _plan_file(again.stdout) == _plan_file(text)
    auto = run_cli(
        "balance", het.simulation_config, "-n", 4, "--output-dir", tmp_path, "--lb-mode", "auto"
    )
    assert "whole-cell (chosen by auto)" in auto.stdout


def test_plan_cache_key_follows_ranks_node_set_and_files(het):
    setup = load_setup(het.simulation_config)
    cells = {"big": np.arange(24, dtype=np.uint64)}
    key = load_balance.cache_key(setup, cells, 2)
    assert key == load_balance.cache_key(setup, cells, 2)
    assert key != load_balance.cache_key(setup, cells, 4)
    assert key != load_balance.cache_key(setup, {"big": np.arange(23, dtype=np.uint64)}, 2)
    setup.node_set = "Big"
    assert key != load_balance.cache_key(setup, cells, 2)


def test_one_rank_or_few_cells_need_no_cost_estimate(het):
    setup = load_setup(het.simulation_config)
    cells = {"big": np.arange(24, dtype=np.uint64), "small": np.arange(8, dtype=np.uint64)}

    def no_estimate():
        raise AssertionError("costs were estimated")

    for nranks, mode in ((1, "whole-cell"), (1, "auto"), (5, "auto"), (2, "round-robin")):
        outcome = load_balance.make_plan(setup, cells, nranks, mode, no_estimate)
        assert outcome.summary is None and outcome.path is None
        rr = load_balance.round_robin(cells, nranks)
        assert all(np.array_equal(outcome.plan[p], rr[p]) for p in cells)


RECORD_ALL = textwrap.dedent(
    """
    import sys
    import numpy as np
    from engine import simulator
    from engine.config import load_setup
    from engine.logs import setup_logging
    from engine.simulation import RunOptions, Simulation

    config, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    setup = load_setup(config, output_dir=out + ".output")
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks)
    simulation = Simulation(setup, sim, RunOptions(progress=False, lb_mode=mode))
    simulation.build()
    h = sim.h
    vectors = {}
    for name, manager in simulation.circuit.node_managers.items():
        for node_id, cell in manager.cells.items():
            vectors[f"{name}_{node_id}"] = h.Vector().record(cell.soma(0.5)._ref_v)
    simulation.run()
    simulation.write_outputs()
    local = {k: np.array(v) for k, v in vectors.items()}
    owners = {k: sim.rank for k in local}
    parts = sim.gather((local, owners), 0)
    recorded = simulation.spikes.gather()
    if sim.is_root:
        gids, times = recorded
        merged = {k: v for part, _ in parts for k, v in part.items()}
        ranks = {k: r for _, part in parts for k, r in part.items()}
        names = sorted(merged)
        np.savez(out, names=np.array(names), v=np.array([merged[k] for k in names]),
                 rank=np.array([ranks[k] for k in names]), gids=gids, times=times)
    """
)


@pytest.mark.mpi
def test_spikes_and_voltages_are_identical_across_modes_and_rank_counts(tmp_path, het):
    driver = tmp_path / "record_all.py"
    driver.write_text(RECORD_ALL)
    runs = {}
    for ranks, mode in ((1, "round-robin"), (2, "round-robin"), (2, "whole-cell")):
        out = tmp_path / f"{ranks}-{mode}.npz"
        run_python(driver, het.simulation_config, out, mode, ranks=ranks)
        runs[(ranks, mode)] = dict(np.load(out))
    reference = runs[(1, "round-robin")]
    assert reference["names"].size == 96 and reference["times"].size > 10
    for key, data in runs.items():
        np.testing.assert_array_equal(data["names"], reference["names"])
        np.testing.assert_array_equal(data["v"], reference["v"], err_msg=str(key))
        order, ref_order = (
            np.lexsort((data["gids"], data["times"])),
            np.lexsort((reference["gids"], reference["times"])),
        )
        np.testing.assert_array_equal(data["gids"][order], reference["gids"][ref_order])
        np.testing.assert_array_equal(data["times"][order], reference["times"][ref_order])
    rr, wc = runs[(2, "round-robin")]["rank"], runs[(2, "whole-cell")]["rank"]
    assert set(rr) == set(wc) == {0, 1} and not np.array_equal(rr, wc)


@pytest.mark.mpi
def test_run_with_whole_cell_reuses_the_plan_and_multisplit_is_refused(tmp_path, het):
    args = ["run", het.simulation_config, "--no-progress", "--output-dir", tmp_path]
    first = run_cli(*args, "--lb-mode", "whole-cell", ranks=2)
    assert re.search(r"Load balance whole-cell: imbalance .* 1\.0\d\d; plan ", first.stdout)
    second = run_cli(*args, "--lb-mode", "whole-cell", ranks=2)
    assert "Reusing the load-balance plan" in second.stdout
    refused = run_cli(*args, "--lb-mode", "multisplit", check=False)
    assert refused.returncode == 2
    assert "multisplit load balancing (cells split across ranks) is not implemented" in (
        refused.stderr
    )
