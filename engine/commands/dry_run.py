"""`sonatasim dry-run CONFIG [--ranks N] [--memory-per-rank MB]`: size a run before running it.

Reads the circuit (ids, attributes and edge indices in bulk), builds one probe cell per
template and morphology size class and a few probe synapses per model (engine/memory.py),
and prints cells and compartments per population and template, synapses per edge
population and model, the load-balance plan, memory per rank for cells, synapses, reports
and spikes, and, given --memory-per-rank, the smallest rank count that fits. The last line
is `estimated peak memory per rank: <N> MB` (the largest rank), comparable with the
`peak memory` line of `sonatasim run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from engine.cli import _report_errors, mechanisms_option
from engine.errors import UserError

MB = 1024.0 * 1024.0
RANK_CANDIDATES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]


@click.command("dry-run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("-n", "--ranks", type=int, default=1, show_default=True, help="Ranks to plan for.")
@click.option(
    "--memory-per-rank",
    type=float,
    default=None,
    help="Memory (MB) each rank may use: recommend the smallest rank count that fits.",
)
@click.option("--lb-mode", default="auto", show_default=True, help="As for run.")
@click.option("--output-dir", type=click.Path(path_type=Path), help="Override output.output_dir.")
@mechanisms_option
@click.option("--report-buffer-mb", type=float, default=None, help="As for run (default 256).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def dry_run(
    config: Path,
    ranks: int,
    memory_per_rank: float | None,
    lb_mode: str,
    output_dir: Path | None,
    mechanisms: tuple[Path, ...],
    report_buffer_mb: float | None,
    debug: bool,
) -> None:
    """Estimate cells, synapses, load balance and memory per rank of CONFIG; run nothing."""
    import os

    from engine import simulator
    from engine.config import load_setup
    from engine.logs import setup_logging
    from engine.managers import load_balance
    from engine.managers.cells.cost import MechanismProbe, estimate_costs
    from engine.managers.cells.morphology import MorphologyLoader
    from engine.managers.circuit import CircuitManager, open_edge_population
    from engine.mechanisms import load_mechanisms
    from engine.memory import Probes, base_memory_mb, measure_cells, measure_synapses

    if ranks < 1:
        raise UserError(f"--ranks must be at least 1, got {ranks}")
    if memory_per_rank is not None and memory_per_rank <= 0:
        raise UserError(f"--memory-per-rank must be positive, got {memory_per_rank}")
    if report_buffer_mb is not None:
        os.environ["SONATASIM_REPORT_BUFFER_MB"] = str(report_buffer_mb)
    load_balance.check_mode(lb_mode)
    setup = load_setup(config, output_dir)
    sim = simulator.start(use_mpi=False)
    setup_logging(sim.rank, sim.nranks)
    from engine.dialects.neuroml.generated import with_generated
    from engine.mechanisms import cache_dir

    # with the circuit's generated NeuroML channels, as `run` loads them
    dirs = setup.mechanism_dirs + [Path(m) for m in mechanisms]
    mechanism_dirs = with_generated(setup, dirs, cache_dir())
    load_mechanisms(mechanism_dirs, sim)
    circuit = CircuitManager(setup, sim)
    cells = circuit.simulated_ids()
    loader = MorphologyLoader().install(sim.h)
    probes = Probes()
    cell_bytes, classes = measure_cells(sim.h, loader, circuit.node_managers, cells, probes)
    synapse_rows, synapse_bytes = measure_synapses(
        sim.h, setup, circuit.node_managers, cells,
        lambda info: open_edge_population(info.edges_file, info.name), probes,
    )  # fmt: skip
    echo = click.echo
    echo(f"Circuit {setup.config_path}")
    echo(f"{'population':<24} {'template':<28} {'cells':>8} {'compartments':>13} {'MB':>9}")
    for c in classes:
        mb = c.compartments * c.bytes_per_compartment / MB
        echo(f"{c.population:<24} {c.template:<28} {c.cells:>8} {c.compartments:>13} {mb:>9.1f}")
    for population in sorted(cells):
        if not any(c.population == population for c in classes):
            mb = float(cell_bytes[population].sum()) / MB
            echo(f"{population:<24} {'(artificial)':<28} {cells[population].size:>8} {'-':>13}"
                 f" {mb:>9.1f}")  # fmt: skip
    echo(f"{'edge population':<32} {'model':<20} {'synapses':>10} {'MB':>9}")
    for name, model, count, each in synapse_rows:
        echo(f"{name:<32} {model:<20} {count:>10} {count * each / MB:>9.1f}")
    probe = MechanismProbe(sim.h, loader)
    outcome = load_balance.make_plan(
        setup, cells, ranks, lb_mode,
        lambda: estimate_costs(setup, circuit.node_managers, cells, probe),
        force_costs=ranks > 1,
    )  # fmt: skip
    echo(f"Load balance: {outcome.mode} on {ranks} rank(s)")
    if outcome.summary is not None:
        for line in outcome.summary.lines():
            echo(line)
    model_bytes = {p: cell_bytes[p] + synapse_bytes.get(p, 0.0) for p in cells}
    parts = rank_memory(setup, circuit, cells, outcome.plan, ranks, cell_bytes, synapse_bytes)
    base, mpi = base_memory_mb(mechanism_dirs, ranks, probes)
    echo(
        f"Memory per rank (MB): base {base:.0f} (Python, NEURON, mechanisms, templates"
        + (f"; MPI {mpi:.0f}" if ranks > 1 else "")
        + "; measured)"
    )
    echo(f"{'rank':>6} {'cells':>9} {'synapses':>9} {'reports':>9} {'spikes':>8} {'total':>9}")
    totals = []
    for rank in range(ranks):
        row = [parts[k][rank] / MB for k in ("cells", "synapses", "reports", "spikes")]
        totals.append(base + sum(row))
        if ranks <= 16 or rank in (0, ranks - 1):
            echo(f"{rank:>6} " + " ".join(f"{v:>9.1f}" for v in row) + f" {totals[-1]:>9.0f}")
    if memory_per_rank is not None:
        echo(recommendation(base, model_bytes, cells, memory_per_rank))
    echo(f"estimated peak memory per rank: {max(totals):.0f} MB")


def rank_memory(
    setup: Any, circuit: Any, cells: dict, plan: dict, ranks: int, cell_bytes: dict,
    synapse_bytes: dict,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Bytes per rank for cells, synapses, report buffers and spike buffers."""
    from engine.managers.reports.manager import buffer_limit_bytes
    from engine.managers.reports.spec import parse_reports
    from engine.memory import SPIKE_BYTES, SPIKE_RATE_HZ

    out = {k: np.zeros(ranks) for k in ("cells", "synapses", "reports", "spikes")}
    for population, ids in cells.items():
        where = plan[population]
        out["cells"] += np.bincount(where, cell_bytes[population], ranks)
        if population in synapse_bytes:
            out["synapses"] += np.bincount(where, synapse_bytes[population], ranks)
        spikes = ids.size and SPIKE_RATE_HZ * setup.run.tstop / 1000.0 * SPIKE_BYTES
        out["spikes"] += np.bincount(where, np.full(ids.size, float(spikes)), ranks)
    out["spikes"][0] += 2 * out["spikes"].sum()  # rank 0 gathers and sorts every spike
    specs = parse_reports(setup)
    elements = np.zeros((len(specs), ranks))
    for k, spec in enumerate(specs):
        for population, per_cell in _report_elements(spec, circuit, cells).items():
            elements[k] += np.bincount(plan[population], per_cell, ranks)
    limit = buffer_limit_bytes()
    total = np.maximum(elements.sum(axis=0), 1)
    for k, spec in enumerate(specs):
        rows = np.minimum(spec.n_frames, limit // (4 * total))
        rows = np.minimum(rows, (128 * MB) // np.maximum(4 * elements[k], 1))  # native ring
        out["reports"] += rows * elements[k] * 4
    if ranks > 1 and specs:
        out["reports"][0] += min(limit, float((elements.sum(axis=1) * 4).sum()))  # assembly
    return out


def _report_elements(spec: Any, circuit: Any, cells: dict) -> dict[str, np.ndarray]:
    """Elements each simulated cell gives a report (compartments from its morphology)."""
    from engine.memory import _population_compartments

    if spec.cells:
        target = circuit.targets.target(spec.cells, key=f"reports.{spec.name}.cells")
        chosen = {p: target.get(p) for p in target.populations if p in cells}
    else:
        chosen = dict(cells)
    found = {}
    for population, ids in cells.items():
        mask = np.isin(ids, chosen.get(population, []))
        manager = circuit.node_managers[population]
        if spec.sections == "soma" or spec.type == "summation" and spec.sections == "soma":
            per_cell = np.ones(ids.size)
        elif manager.info.type in ("biophysical", "single_compartment"):
            per_cell = _population_compartments(manager, ids)[0].astype(float)
        else:
            per_cell = np.ones(ids.size)
        found[population] = per_cell * mask
    return found


def recommendation(base: float, model_bytes: dict, cells: dict, budget: float) -> str:
    """The smallest rank count whose largest rank (cells dealt by memory) fits `budget`."""
    from engine.managers.load_balance import whole_cell

    for n in RANK_CANDIDATES:
        plan = whole_cell(cells, n, model_bytes)
        loads = np.zeros(n)
        for population, where in plan.items():
            loads += np.bincount(where, model_bytes[population], n)
        peak = base + float(loads.max()) / MB
        if peak <= budget:
            return f"recommended: {n} rank(s) for {budget:.0f} MB per rank (largest {peak:.0f} MB)"
        if n >= sum(ids.size for ids in cells.values()):
            break
    return (
        f"no rank count fits {budget:.0f} MB per rank: the base alone is {base:.0f} MB"
        " and the largest cell does not split"
    )


COMMANDS = [dry_run]
