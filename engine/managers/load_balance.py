"""Which rank owns which cell: round-robin, or whole cells dealt greedily by estimated cost.

Plans depend on ids and cost estimates alone (rank 0 computes, every rank receives the same
plan), so a cell's rank never changes what it computes: every random stream is keyed by
ids. Whole-cell plans (with the costs they came from) are cached next to the output, keyed
by the circuit files, the simulated cells and the rank count.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.io.atomic import atomic_path

log = logging.getLogger("sonatasim")

# population -> rank of each simulated id (same order as the ids)
Plan = dict[str, np.ndarray]
Costs = dict[str, np.ndarray]
Planner = Callable[[dict[str, np.ndarray], int, Costs | None], Plan]

PLAN_FORMAT = 1  # bump when the cost model or the file layout changes: old caches are ignored
AUTO_MIN_CELLS_PER_RANK = 8  # fewer cells than this per rank: nothing worth balancing
AUTO_MIN_GAIN = 1.05  # whole-cell is chosen when round-robin is this much more imbalanced
NOT_IMPLEMENTED = {
    "multisplit": "multisplit load balancing (cells split across ranks) is not implemented;"
    " use --lb-mode whole-cell, which deals whole cells by estimated cost",
}

_PLANNERS: dict[str, Planner] = {}


def planner(name: str) -> Callable[[Planner], Planner]:
    def register(func: Planner) -> Planner:
        _PLANNERS[name] = func
        return func

    return register


@planner("round-robin")
def round_robin(cells: dict[str, np.ndarray], nranks: int, costs: Costs | None = None) -> Plan:
    """Deal cells in turn over all populations together (sorted by name, then id)."""
    plan: Plan = {}
    start = 0
    for name in sorted(cells):
        count = cells[name].size
        plan[name] = (np.arange(start, start + count) % nranks).astype(np.int64)
        start += count
    return plan


@planner("whole-cell")
def whole_cell(cells: dict[str, np.ndarray], nranks: int, costs: Costs | None = None) -> Plan:
    """Largest cell first to the least-loaded rank, over all populations together.

    Ties (equal costs, equal loads) are broken by population name, node id and rank, so
    the plan is a pure function of its inputs.
    """
    if costs is None:
        raise ValueError("whole-cell planning needs cell costs")
    names = sorted(cells)
    if not names:
        return {}
    pop_index = np.concatenate([np.full(cells[n].size, i) for i, n in enumerate(names)])
    node_ids = np.concatenate([np.asarray(cells[n], dtype=np.int64) for n in names])
    cost = np.concatenate([np.asarray(costs[n], dtype=float) for n in names])
    order = np.lexsort((node_ids, pop_index, -cost))
    ranks = np.empty(cost.size, dtype=np.int64)
    heap = [(0.0, r) for r in range(nranks)]
    for i, c in zip(order.tolist(), cost[order].tolist(), strict=True):
        load, rank = heapq.heappop(heap)
        ranks[i] = rank
        heapq.heappush(heap, (load + c, rank))
    plan, start = {}, 0
    for name in names:
        plan[name] = ranks[start : start + cells[name].size]
        start += cells[name].size
    return plan


def available_modes() -> list[str]:
    return sorted([*_PLANNERS, "auto"])


def check_mode(mode: str) -> None:
    if mode in NOT_IMPLEMENTED:
        raise ConfigError(NOT_IMPLEMENTED[mode], key="--lb-mode")
    if mode not in _PLANNERS and mode != "auto":
        raise ConfigError(
            f"unknown load-balance mode '{mode}' (available: {', '.join(available_modes())})",
            key="--lb-mode",
        )


def assign_ranks(
    cells: dict[str, np.ndarray],
    nranks: int,
    mode: str = "round-robin",
    costs: Costs | None = None,
) -> Plan:
    check_mode(mode)
    if mode == "auto":
        mode = choose_mode(cells, nranks, costs)
    return _PLANNERS[mode](cells, nranks, costs)


def local_ids(cells: dict[str, np.ndarray], plan: Plan, rank: int) -> dict[str, np.ndarray]:
    return {name: ids[plan[name] == rank] for name, ids in cells.items()}


@dataclass
class PlanSummary:
    """Cells and estimated cost per rank; imbalance = max / mean cost."""

    mode: str
    cells: np.ndarray
    costs: np.ndarray

    @property
    def imbalance(self) -> float:
        mean = float(self.costs.mean()) if self.costs.size else 0.0
        return float(self.costs.max()) / mean if mean > 0 else 1.0

    def lines(self) -> list[str]:
        total = float(self.costs.sum()) or 1.0
        out = [f"{'rank':>6} {'cells':>8} {'est. cost':>14} {'share':>7}"]
        for rank, (n, c) in enumerate(zip(self.cells, self.costs, strict=True)):
            out.append(f"{rank:>6} {int(n):>8} {c:>14.1f} {100 * c / total:>6.1f}%")
        out.append(f"imbalance (max/mean cost): {self.imbalance:.3f}")
        return out


def summarize(plan: Plan, costs: Costs, nranks: int, mode: str) -> PlanSummary:
    cells = np.zeros(nranks, dtype=np.int64)
    loads = np.zeros(nranks)
    for name, ranks in plan.items():
        cells += np.bincount(ranks, minlength=nranks)
        loads += np.bincount(ranks, weights=np.asarray(costs[name], float), minlength=nranks)
    return PlanSummary(mode, cells, loads)


def choose_mode(cells: dict[str, np.ndarray], nranks: int, costs: Costs | None) -> str:
    """auto: whole-cell for circuits big and heterogeneous enough to gain from it."""
    total = sum(ids.size for ids in cells.values())
    if nranks == 1 or costs is None or total < AUTO_MIN_CELLS_PER_RANK * nranks:
        return "round-robin"
    rr = summarize(round_robin(cells, nranks), costs, nranks, "round-robin").imbalance
    wc = summarize(whole_cell(cells, nranks, costs), costs, nranks, "whole-cell").imbalance
    return "whole-cell" if rr > AUTO_MIN_GAIN * wc else "round-robin"


def needs_costs(mode: str, cells: dict[str, np.ndarray], nranks: int) -> bool:
    total = sum(ids.size for ids in cells.values())
    if nranks == 1:
        return False
    if mode == "auto":
        return total >= AUTO_MIN_CELLS_PER_RANK * nranks
    return mode == "whole-cell"


# The plan cache.


def _file_stamp(path: Path | None) -> list[Any]:
    if path is None:
        return [None]
    try:
        stat = Path(path).stat()
    except OSError:
        return [str(path), None]
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def cache_key(setup: Any, cells: dict[str, np.ndarray], nranks: int) -> str:
    """Digest of what a whole-cell plan depends on: circuit files, simulated ids, ranks."""
    from engine.managers.cells.cost import COST_MODEL

    stamps: list[Any] = [PLAN_FORMAT, COST_MODEL, nranks, setup.node_set]
    stamps.append(_file_stamp(setup.circuit_config_path))
    for name, info in sorted(setup.node_populations.items()):
        stamps += [name, info.type, _file_stamp(info.nodes_file)]
        stamps += [
            _file_stamp(info.morphologies_dir),
            _file_stamp(info.biophysical_neuron_models_dir),
        ]
        stamps += [_file_stamp(p) for _, p in sorted(info.alternate_morphologies.items())]
    for name, info in sorted(setup.edge_populations.items()):
        stamps += [name, info.target, _file_stamp(info.edges_file)]
    digest = hashlib.sha256(json.dumps(stamps, default=str).encode())
    for name in sorted(cells):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(cells[name], dtype=np.uint64).tobytes())
    return digest.hexdigest()


def cache_path(output_dir: Path, key: str, nranks: int) -> Path:
    return Path(output_dir) / "load_balance" / f"whole-cell_{nranks}ranks_{key[:16]}.npz"


def load_cached(path: Path, key: str, cells: dict[str, np.ndarray]) -> tuple[Costs, Plan] | None:
    """Costs and whole-cell plan from a cache file, or None if absent or not this key's."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            costs = {n: data[f"cost/{n}"] for n in cells}
            plan = {n: data[f"rank/{n}"] for n in cells}
    except (OSError, KeyError, ValueError):
        return None
    if any(plan[n].size != cells[n].size for n in cells):
        return None
    return costs, plan


def save_cached(path: Path, key: str, costs: Costs, plan: Plan) -> bool:
    """Write the cache file atomically; a read-only output only costs a warning."""
    arrays = {"key": np.array(key)}
    arrays.update({f"cost/{n}": np.asarray(c, float) for n, c in costs.items()})
    arrays.update({f"rank/{n}": np.asarray(r, np.int64) for n, r in plan.items()})
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError as exc:
        log.warning("could not write the load-balance plan %s: %s", path, exc)
        return False
    return True


@dataclass
class PlanOutcome:
    """A plan, the mode that made it, and (when costs were estimated) its summary."""

    plan: Plan
    mode: str
    summary: PlanSummary | None = None
    costs: Costs | None = None
    path: Path | None = None
    reused: bool = False


def make_plan(
    setup: Any,
    cells: dict[str, np.ndarray],
    nranks: int,
    mode: str,
    estimate: Callable[[], Costs],
    *,
    force_costs: bool = False,
) -> PlanOutcome:
    """The plan for `mode`, reusing or writing the cache when costs are needed.

    Call on one rank only (rank 0) and broadcast the result: estimating costs reads every
    morphology once and may build a probe cell per template.
    """
    check_mode(mode)
    if not (force_costs or needs_costs(mode, cells, nranks)):
        # One rank (every cell on rank 0) or too few cells for auto: no costs needed.
        chosen = "round-robin" if mode == "auto" else mode
        return PlanOutcome(round_robin(cells, nranks), chosen)
    key = cache_key(setup, cells, nranks)
    path = cache_path(setup.output.output_dir, key, nranks)
    cached = load_cached(path, key, cells)
    reused = cached is not None
    if cached is not None:
        costs, wc_plan = cached
        log.info("Reusing the load-balance plan %s", path)
    else:
        costs = estimate()
        wc_plan = whole_cell(cells, nranks, costs)
        if not save_cached(path, key, costs, wc_plan):
            path = None
    chosen = choose_mode(cells, nranks, costs) if mode == "auto" else mode
    plan = wc_plan if chosen == "whole-cell" else assign_ranks(cells, nranks, chosen, costs)
    summary = summarize(plan, costs, nranks, chosen)
    return PlanOutcome(plan, chosen, summary, costs, path, reused)
