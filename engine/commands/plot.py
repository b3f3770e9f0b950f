"""`sonatasim plot raster|traces|rates`: quick looks at a run's spikes and reports.

Why built in: the first thing after a run is "did it fire, and what did the soma do"; these
read our SONATA outputs (or anyone's) and write a PNG or PDF (chosen by the extension of
--output). matplotlib is imported only when a plot is drawn, so the engine does not need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from engine.cli import _report_errors
from engine.errors import UserError

SPIKE_FILE_NAMES = ("spikes.h5", "out.h5")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise UserError(
            "plotting needs matplotlib: install it with `pip install matplotlib`"
        ) from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def find_spike_file(source: Path) -> Path:
    """SOURCE itself, or the spike file inside an output directory."""
    if source.is_file():
        return source
    if not source.is_dir():
        raise UserError("no such file or directory", file=str(source))
    for name in SPIKE_FILE_NAMES:
        if (source / name).is_file():
            return source / name
    raise UserError(
        f"no spike file ({' or '.join(SPIKE_FILE_NAMES)}) in this directory; pass the file",
        file=str(source),
    )


def _default_output(source: Path, suffix: str) -> Path:
    if source.is_dir():
        return source / f"{suffix}.png"
    return source.with_name(f"{source.stem}_{suffix}.png")


def _save(fig: Any, output: Path) -> None:
    if output.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UserError("--output must end in .png, .pdf or .svg", file=str(output))
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=150, bbox_inches="tight")
    click.echo(f"wrote {output}")


def _read_spikes(path: Path, populations: tuple[str, ...]) -> dict[str, tuple]:
    from engine.io.spike_file import read_spike_file

    spikes = read_spike_file(path)
    if populations:
        missing = sorted(set(populations) - set(spikes))
        if missing:
            raise UserError(f"no population {', '.join(missing)} in the file", file=str(path))
        spikes = {p: spikes[p] for p in populations}
    return dict(sorted(spikes.items()))


def _time_range(spikes: dict[str, tuple], tstop: float | None) -> float:
    if tstop is not None:
        return float(tstop)
    last = [float(t.max()) for _, t in spikes.values() if t.size]
    return max(last) if last else 1.0


@click.group("plot")
def plot() -> None:
    """Plot spikes and reports to PNG or PDF files (needs matplotlib)."""


@plot.command("raster")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="PNG or PDF file.")
@click.option("--population", multiple=True, help="Only these populations (repeatable).")
@click.option("--bin-ms", default=5.0, show_default=True, help="Histogram bin width.")
@click.option("--tstop", type=float, help="End of the time axis (default: last spike).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def raster(source: Path, output: Path | None, population: tuple[str, ...], bin_ms: float,
           tstop: float | None, debug: bool) -> None:  # fmt: skip
    """Spike raster per population and a population firing-rate histogram.

    SOURCE is an output directory (its spikes.h5) or a SONATA spike file.
    """
    import numpy as np

    path = find_spike_file(source)
    spikes = _read_spikes(path, population)
    end = _time_range(spikes, tstop)
    plt = _pyplot()
    n = len(spikes)
    fig, axes = plt.subplots(n + 1, 1, figsize=(9, 2.2 * (n + 1)), sharex=True, squeeze=False)
    bins = np.arange(0.0, end + bin_ms, bin_ms)
    for ax, (name, (ids, times)) in zip(axes[:-1, 0], spikes.items(), strict=False):
        ax.plot(times, ids, "|", markersize=3, color="k")
        ax.set_ylabel(f"{name}\nnode id")
        ax.set_title(f"{name}: {ids.size} spikes", fontsize=9, loc="left")
    rate_ax = axes[-1, 0]
    for name, (_, times) in spikes.items():
        counts, edges = np.histogram(times, bins=bins)
        rate_ax.stairs(counts / (bin_ms / 1000.0), edges, label=name)
    rate_ax.set_ylabel("spikes/s")
    rate_ax.set_xlabel("time (ms)")
    rate_ax.set_xlim(0.0, end)
    if spikes:
        rate_ax.legend(fontsize=8, loc="upper right")
    _save(fig, output or _default_output(source, "raster"))


@plot.command("rates")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="PNG or PDF file.")
@click.option("--population", multiple=True, help="Only these populations (repeatable).")
@click.option("--tstop", type=float, help="Duration used for rates (default: last spike).")
@click.option("--bins", default=20, show_default=True, help="Histogram bins.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def rates(source: Path, output: Path | None, population: tuple[str, ...], tstop: float | None,
          bins: int, debug: bool) -> None:  # fmt: skip
    """Histogram of per-node mean firing rates (nodes with at least one spike).

    SOURCE is an output directory (its spikes.h5) or a SONATA spike file.
    """
    import numpy as np

    path = find_spike_file(source)
    spikes = _read_spikes(path, population)
    duration_s = _time_range(spikes, tstop) / 1000.0
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, (ids, _) in spikes.items():
        _, counts = np.unique(ids, return_counts=True)
        per_node = counts / duration_s
        ax.hist(per_node, bins=bins, alpha=0.6, label=f"{name} ({per_node.size} nodes,"
                f" mean {per_node.mean() if per_node.size else 0:.2f} Hz)")  # fmt: skip
    ax.set_xlabel("mean firing rate (Hz)")
    ax.set_ylabel("nodes")
    if spikes:
        ax.legend(fontsize=8)
    _save(fig, output or _default_output(source, "rates"))


def _parse_ids(texts: tuple[str, ...]) -> list[int]:
    ids = []
    for text in texts:
        for item in text.replace(",", " ").split():
            try:
                ids.append(int(item))
            except ValueError:
                raise UserError(f"--node-ids: '{item}' is not a node id") from None
    return ids


@plot.command("traces")
@click.argument("report", type=click.Path(path_type=Path))
@click.option("--node-ids", "node_ids", multiple=True, required=True,
              help="Node ids, comma separated or repeated (e.g. 0,3,7).")  # fmt: skip
@click.option("--population", help="Report population (default: the only one).")
@click.option("--all-elements", is_flag=True, help="Every element, not only the first.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="PNG or PDF file.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@_report_errors
def traces(report: Path, node_ids: tuple[str, ...], population: str | None, all_elements: bool,
           output: Path | None, debug: bool) -> None:  # fmt: skip
    """Time course of REPORT values for some nodes (first element, e.g. the soma)."""
    import libsonata
    import numpy as np

    wanted = _parse_ids(node_ids)
    if not report.is_file():
        raise UserError("file not found", file=str(report))
    try:
        reader = libsonata.ElementReportReader(str(report))
        names = sorted(reader.get_population_names())
    except Exception as exc:
        raise UserError(f"not a SONATA report: {exc}", file=str(report)) from None
    if population is None:
        if len(names) != 1:
            raise UserError(f"several populations ({', '.join(names)}); pass --population")
        population = names[0]
    if population not in names:
        raise UserError(f"no population '{population}' (it has {', '.join(names)})")
    pop = reader[population]
    missing = sorted(set(wanted) - set(pop.get_node_ids()))
    if missing:
        raise UserError(f"node ids {missing} are not in population '{population}'")
    frame = pop.get(node_ids=wanted)
    data = np.asarray(frame.data)
    ids = np.asarray(frame.ids, dtype=np.int64).reshape(-1, 2)
    times = np.asarray(frame.times)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for node in wanted:
        columns = np.flatnonzero(ids[:, 0] == node)
        for k, column in enumerate(columns if all_elements else columns[:1]):
            label = f"node {node}" + (f" element {ids[column, 1]}" if all_elements else "")
            ax.plot(times, data[:, column], lw=0.8, label=label if k < 10 else None)
    ax.set_xlabel(f"time ({pop.time_units})")
    ax.set_ylabel(f"{report.stem} ({pop.data_units})")
    ax.set_title(f"{report.name}: {population}", fontsize=9, loc="left")
    ax.legend(fontsize=8)
    _save(fig, output or report.with_name(f"{report.stem}_traces.png"))


COMMANDS = [plot]
