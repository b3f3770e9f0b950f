"""`sonatasim balance CONFIG --ranks N`: the load-balance plan, without simulating.

Estimates every simulated cell's cost, prints cells and cost per rank for the chosen mode
(and round-robin for comparison) and writes the plan file that `sonatasim run` on N ranks
with the same output directory reuses.
"""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli import _report_errors, mechanisms_option
from engine.errors import UserError


@click.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("-n", "--ranks", type=int, required=True, help="Number of ranks to plan for.")
@click.option(
    "--lb-mode",
    default="whole-cell",
    show_default=True,
    help="Mode to summarise: whole-cell, round-robin or auto.",
)
@click.option("--output-dir", type=click.Path(path_type=Path), help="Override output.output_dir.")
@mechanisms_option
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def balance(
    config: Path,
    ranks: int,
    lb_mode: str,
    output_dir: Path | None,
    mechanisms: tuple[Path, ...],
    debug: bool,
) -> None:
    """Plan how the cells of CONFIG are dealt to RANKS ranks; print and save the plan."""
    from engine import simulator
    from engine.config import load_setup
    from engine.logs import setup_logging
    from engine.managers import load_balance
    from engine.managers.cells.cost import MechanismProbe, estimate_costs
    from engine.managers.cells.morphology import MorphologyLoader
    from engine.managers.circuit import CircuitManager
    from engine.mechanisms import cache_dir, load_mechanisms

    if ranks < 1:
        raise UserError(f"--ranks must be at least 1, got {ranks}")
    load_balance.check_mode(lb_mode)
    setup = load_setup(config, output_dir)
    sim = simulator.start(use_mpi=False)
    setup_logging(sim.rank, sim.nranks)
    from engine.dialects.neuroml.generated import with_generated

    dirs = setup.mechanism_dirs + [Path(m) for m in mechanisms]
    load_mechanisms(with_generated(setup, dirs, cache_dir()), sim)
    circuit = CircuitManager(setup, sim)
    cells = circuit.simulated_ids()
    probe = MechanismProbe(sim.h, MorphologyLoader().install(sim.h))
    outcome = load_balance.make_plan(
        setup,
        cells,
        ranks,
        lb_mode,
        lambda: estimate_costs(setup, circuit.node_managers, cells, probe),
        force_costs=True,
    )
    total = sum(ids.size for ids in cells.values())
    populations = ", ".join(f"{name} {ids.size}" for name, ids in sorted(cells.items()))
    chosen = outcome.mode + (f" (chosen by {lb_mode})" if outcome.mode != lb_mode else "")
    click.echo(f"Load balance: {chosen}, {ranks} rank(s), {total} cells ({populations})")
    for line in outcome.summary.lines():
        click.echo(line)
    other = "round-robin" if outcome.mode != "round-robin" else "whole-cell"
    compare = load_balance.summarize(
        load_balance.assign_ranks(cells, ranks, other, outcome.costs), outcome.costs, ranks, other
    )
    click.echo(f"{other} would give imbalance {compare.imbalance:.3f}")
    if outcome.path is not None:
        verb = "reused" if outcome.reused else "written"
        click.echo(f"Plan {verb}: {outcome.path}")


COMMANDS = [balance]
