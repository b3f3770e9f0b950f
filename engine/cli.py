"""`sonatasim` command line: run, validate, and friends.

Input problems end with one clear line naming the file and key and a non-zero exit code;
`--debug` shows the traceback instead. Under MPI an error on one rank stops all ranks.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine import __version__, failure
from engine.errors import UserError
from engine.failure import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED, EXIT_USER_ERROR

log = logging.getLogger("sonatasim")


def _report_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn exceptions into one message and an exit code (all ranks stop under MPI)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except UserError as exc:
            if debug:
                failure.disarm()  # the traceback says it all
                raise
            failure.fail(f"error: {exc.describe()}", EXIT_USER_ERROR)
        except KeyboardInterrupt:
            failure.fail(_during("interrupted"), EXIT_INTERRUPTED)
        except Exception as exc:  # a bug or an unforeseen input problem
            if debug:
                failure.disarm()
                raise
            failure.fail(
                _during(f"internal error: {type(exc).__name__}: {exc}")
                + " (run again with --debug for the traceback, and please report it)",
                EXIT_INTERNAL_ERROR,
            )

    return wrapper


def _during(message: str) -> str:
    """`message`, saying what the rank was doing (the cell being built, the run...)."""
    activity = failure.current_activity()
    return f"{message} ({activity})" if activity else message


# Shared by run, balance and dry-run.
mechanisms_option = click.option(
    "--mechanisms",
    "mechanisms",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra directory of .mod files to compile (repeatable).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sonatasim")
def cli() -> None:
    """Run SONATA circuits on NEURON, from one core to many MPI ranks."""


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--output-dir", type=click.Path(path_type=Path), help="Override output.output_dir.")
@mechanisms_option
@click.option("-n", "--ranks", type=int, default=None, help="Launch under mpiexec with N ranks.")
@click.option(
    "--lb-mode",
    default="auto",
    show_default=True,
    help="How cells are dealt to ranks: round-robin, whole-cell (by estimated cost) or"
    " auto (whole-cell when it is clearly better); multisplit is not implemented.",
)
@click.option("--log-file", type=click.Path(path_type=Path), help="Also write the log here.")
@click.option(
    "--report-buffer-mb",
    type=float,
    default=None,
    help="Memory per rank for report samples before they go to disk (default 256).",
)
@click.option(
    "--morphology-cache/--no-morphology-cache",
    default=None,
    help="Parse each morphology file once per rank, and rebuild its section tree in bulk,"
    " for hoc templates that load it through Import3d (same cells; on by default;"
    " --no-morphology-cache or SONATASIM_IMPORT3D_CACHE=0 for templates that edit the"
    " parsed reader).",
)
@click.option(
    "--tstop",
    type=float,
    default=None,
    help="Override run.tstop (ms): the end of this segment of a chained run.",
)
@click.option(
    "--save",
    "save_dir",
    type=click.Path(path_type=Path),
    help="Write a checkpoint of the whole model state into this directory (at tstop).",
)
@click.option(
    "--save-time",
    type=float,
    default=None,
    help="With --save: write the checkpoint at this time (ms) instead; the run goes on.",
)
@click.option(
    "--restore",
    "restore_dir",
    type=click.Path(path_type=Path),
    help="Continue from a checkpoint written by --save (same ranks, a later tstop).",
)
@click.option(
    "--simulator",
    type=click.Choice(["neuron", "coreneuron"], case_sensitive=False),
    default=None,
    help="Integrate with NEURON or CoreNEURON (overrides the config's target_simulator).",
)
@click.option("--no-progress", is_flag=True, help="Do not draw progress bars.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.option("-v", "--verbose", count=True, help="More detail in the log.")
@_report_errors
def run(
    config: Path,
    output_dir: Path | None,
    mechanisms: tuple[Path, ...],
    ranks: int | None,
    lb_mode: str,
    log_file: Path | None,
    report_buffer_mb: float | None,
    morphology_cache: bool | None,
    tstop: float | None,
    save_dir: Path | None,
    save_time: float | None,
    restore_dir: Path | None,
    simulator: str | None,
    no_progress: bool,
    debug: bool,
    verbose: int,
) -> None:
    """Simulate the circuit described by CONFIG (a SONATA simulation_config.json)."""
    if save_time is not None and save_dir is None:
        raise UserError("--save-time needs --save DIR")
    if ranks is not None:
        _relaunch_under_mpiexec(ranks)
    if report_buffer_mb is not None:
        if report_buffer_mb <= 0:
            raise UserError(f"--report-buffer-mb must be positive, got {report_buffer_mb}")
        os.environ["SONATASIM_REPORT_BUFFER_MB"] = str(report_buffer_mb)
    if morphology_cache is not None:
        os.environ["SONATASIM_IMPORT3D_CACHE"] = "1" if morphology_cache else "0"
    from engine import simulator as neuron_handle
    from engine.config import load_setup
    from engine.logs import add_log_file, setup_logging
    from engine.simulation import RunOptions, Simulation

    started = time.perf_counter()
    failure.arm()  # from here, an exit before the end is reported as a failure
    setup = load_setup(config, output_dir)
    if tstop is not None:
        if not tstop > 0:
            raise UserError(f"--tstop must be positive, got {tstop}")
        setup.run = dataclasses.replace(setup.run, tstop=tstop)
    sim = neuron_handle.start()
    failure.prepare_neuron(sim)
    setup_logging(sim.rank, sim.nranks, verbose)
    chosen_log = log_file or setup.output.log_file
    if chosen_log is not None:
        add_log_file(Path(chosen_log), sim.rank, sim.nranks)
    log.info("sonatasim %s: %s on %d rank(s)", __version__, setup.config_path, sim.nranks)
    options = RunOptions(
        mechanisms=[Path(m) for m in mechanisms],
        lb_mode=lb_mode,
        progress=not no_progress and sys.stderr.isatty(),
        save_dir=save_dir,
        save_time=save_time,
        restore_dir=restore_dir,
        simulator=simulator.upper() if simulator else None,
    )
    simulation = Simulation(setup, sim, options)
    simulation.build()
    simulation.run()
    spikes_file = simulation.write_outputs()
    summary = simulation.summary()
    if summary is not None:
        for line in summary.lines() + simulation.reports.summary_lines():
            log.info(line)
        log.info("Done in %.2f s. Spikes: %s", time.perf_counter() - started, spikes_file)
    sim.barrier()
    failure.disarm()


def _relaunch_under_mpiexec(ranks: int) -> None:
    """`sonatasim run -n 4 CONFIG` = `mpiexec -n 4 sonatasim run CONFIG`."""
    from engine.simulator import launched_under_mpi, prepare_mpi_environment, venv_mpiexec

    if launched_under_mpi():
        raise UserError("-n/--ranks cannot be used when already started by mpiexec or srun")
    if ranks < 1:
        raise UserError(f"-n/--ranks must be at least 1, got {ranks}")
    mpiexec = venv_mpiexec()
    if mpiexec is None:
        raise UserError("no mpiexec next to this Python; install the 'mpich' package")
    prepare_mpi_environment()
    args = _strip_ranks_option(sys.argv[1:])
    command = [str(mpiexec), "-n", str(ranks), sys.executable, "-m", "engine", *args]
    sys.stdout.flush()
    os.execv(command[0], command)


def _strip_ranks_option(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-n", "--ranks"):
            skip = True
            continue
        if arg.startswith("--ranks=") or (arg.startswith("-n") and arg[2:].isdigit()):
            continue
        out.append(arg)
    return out


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@mechanisms_option
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def validate(config: Path, mechanisms: tuple[Path, ...], debug: bool) -> None:
    """Check CONFIG and every file it names, report all problems at once; run nothing.

    Compiles the mechanisms (or finds them in the cache) and loads them and the hoc
    templates into NEURON, without building cells or simulating."""
    from engine.validate import validate_config

    problems, facts = validate_config(config, [Path(m) for m in mechanisms])
    for line in facts:
        click.echo(line)
    if problems:
        click.echo(f"{len(problems)} problem(s) found:", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(EXIT_USER_ERROR)
    click.echo("OK: the configuration is valid.")


def _register_subcommands() -> None:
    """Add the commands of every engine.commands module (balance, plot, ...)."""
    import importlib
    import pkgutil

    import engine.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"engine.commands.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register_subcommands()


def main() -> None:
    cli(prog_name="sonatasim")


if __name__ == "__main__":
    main()
