"""`sonatasim convert MODEL --to sonata|neuroml -o DIR`: NeuroML <-> SONATA, no Java.

Why a command: users of pyNeuroML/jNeuroML keep their NeuroML networks and run them on
many ranks; users of SONATA circuits hand their networks to NeuroML tools. Either way the
result is a directory whose files validate and run.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from engine.cli import _report_errors


@click.command()
@click.argument("model", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--to",
    "target",
    type=click.Choice(["sonata", "neuroml"]),
    required=True,
    help="sonata: MODEL is a .net.nml or LEMS_*.xml; neuroml: MODEL is a simulation_config.json.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory to write (created).",
)
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def convert(model: Path, target: str, output: Path, debug: bool) -> None:
    """Convert a NeuroML model to a SONATA circuit + simulation config, or back."""
    start = time.perf_counter()
    if target == "sonata":
        from engine.dialects.neuroml.to_sonata_simulation import convert_model

        written = convert_model(model, output)
        then = f"sonatasim run {written}"
    else:
        from engine.config import load_setup
        from engine.dialects.neuroml.from_sonata import convert_config

        written = convert_config(model, output, load_setup(Path(model).resolve()))
        then = f"pynml {written} -neuron -run"
    click.echo(f"wrote {written} in {time.perf_counter() - start:.2f} s; run it with: {then}")


COMMANDS = [convert]
