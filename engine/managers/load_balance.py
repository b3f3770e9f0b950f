"""Which rank owns which cell.

Plans are computed identically on every rank from ids alone (no communication), so a
cell's rank never depends on anything but the plan. Modes are pluggable by name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.errors import ConfigError

# (population -> sorted node ids to simulate, nranks) -> population -> rank of each id
Plan = dict[str, np.ndarray]
Planner = Callable[[dict[str, np.ndarray], int], Plan]

_PLANNERS: dict[str, Planner] = {}


def planner(name: str) -> Callable[[Planner], Planner]:
    def register(func: Planner) -> Planner:
        _PLANNERS[name] = func
        return func

    return register


@planner("round-robin")
def round_robin(cells: dict[str, np.ndarray], nranks: int) -> Plan:
    """Deal cells in turn over all populations together (sorted by name, then id)."""
    plan: Plan = {}
    start = 0
    for name in sorted(cells):
        count = cells[name].size
        plan[name] = (np.arange(start, start + count) % nranks).astype(np.int64)
        start += count
    return plan


def available_modes() -> list[str]:
    return sorted(_PLANNERS)


def assign_ranks(cells: dict[str, np.ndarray], nranks: int, mode: str = "round-robin") -> Plan:
    if mode not in _PLANNERS:
        raise ConfigError(
            f"unknown load-balance mode '{mode}' (available: {', '.join(available_modes())})",
            key="--lb-mode",
        )
    return _PLANNERS[mode](cells, nranks)


def local_ids(cells: dict[str, np.ndarray], plan: Plan, rank: int) -> dict[str, np.ndarray]:
    return {name: ids[plan[name] == rank] for name, ids in cells.items()}
