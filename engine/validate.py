"""`sonatasim validate`: every check a run would make before simulating, all at once.

No NEURON is started; files are opened, node sets resolved, templates and morphologies
looked up, and each problem is collected instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import SimulationSetup, load_setup
from engine.errors import UserError


class _Collector:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, func: Callable[[], Any]) -> Any:
        try:
            return func()
        except UserError as exc:
            self.problems.append(exc.describe())
            return None

    def add(self, message: str) -> None:
        self.problems.append(message)


def validate_config(
    config: str | Path, mechanisms: list[Path] | None = None
) -> tuple[list[str], list[str]]:
    """Return (problems, facts); problems empty when the config is runnable. Facts that
    start with "warning:" are worth reading but do not stop a run."""
    from engine.managers.circuit import open_edge_population, open_node_population
    from engine.managers.targets import TargetManager
    from engine.validate_runtime import check_runtime

    out = _Collector()
    setup = out.check(lambda: load_setup(config))
    if setup is None:
        return out.problems, []
    facts = [
        f"simulation config: {setup.config_path}",
        f"circuit config: {setup.circuit_config_path}",
    ]

    storages = {}
    for name, info in setup.node_populations.items():
        storage = out.check(lambda i=info, n=name: open_node_population(i.nodes_file, n))
        if storage is not None:
            storages[name] = storage
            facts.append(f"node population {name}: {info.type}, {storage.size} nodes")
            if not info.is_virtual:
                _check_cells(out, setup, name, info, storage)
    for name, info in setup.edge_populations.items():
        for end, pop in (("source", info.source), ("target", info.target)):
            if pop not in setup.node_populations:
                out.add(
                    f"in {info.edges_file} at '{name}.{end}': node population '{pop}' is not"
                    " declared in the circuit config"
                )
        storage = out.check(lambda i=info, n=name: open_edge_population(i.edges_file, n))
        if storage is not None:
            facts.append(f"edge population {name}: {info.source} -> {info.target}, {storage.size}")

    targets = out.check(lambda: TargetManager(setup.node_sets_files, storages))
    if targets is not None:
        _check_node_sets(out, setup, targets)
    for directory in setup.mechanism_dirs:
        if not directory.is_dir():
            out.add(f"mechanisms_dir {directory} does not exist")
    _check_inputs(out, setup)
    _check_reports(out, setup)
    if not out.problems:  # the rest loads files into NEURON: only for a sound config
        warnings = check_runtime(out, setup, storages, list(mechanisms or []))
        facts += [f"warning: {warning}" for warning in warnings]
    return out.problems, facts


def _check_reports(out: _Collector, setup: SimulationSetup) -> None:
    from engine.managers.reports.spec import parse_reports

    out.check(lambda: parse_reports(setup))


def _check_cells(out: _Collector, setup: SimulationSetup, name: str, info: Any, storage: Any):
    """Every template, morphology and dynamics file the population names must exist."""
    from engine.managers.cells.checks import check_cell_files

    for problem in out.check(lambda: check_cell_files(info, storage)) or []:
        out.add(problem)


def _check_node_sets(out: _Collector, setup: SimulationSetup, targets: Any) -> None:
    names: list[tuple[str, str]] = []
    if setup.node_set:
        names.append((setup.node_set, "node_set"))
    for name in setup.input_names:
        block = out.check(lambda n=name: setup.input(n))
        node_set = getattr(block, "node_set", None)
        if node_set:
            names.append((node_set, f"inputs.{name}.node_set"))
    for name in setup.libsonata_config.list_report_names:
        cells = setup.libsonata_config.report(name).cells
        if cells:
            names.append((cells, f"reports.{name}.cells"))
    for node_set, key in names:
        target = out.check(lambda s=node_set, k=key: targets.target(s, key=k))
        if target is not None and target.size() == 0:
            out.add(f"at '{key}': node set '{node_set}' selects no node")


def _check_inputs(out: _Collector, setup: SimulationSetup) -> None:
    for name in setup.input_names:
        block = setup.input(name)
        for key in ("spike_file", "path"):
            value = getattr(block, key, None)
            if value and not Path(value).exists():
                out.add(f"at 'inputs.{name}.{key}': {value} does not exist")
