"""Memory a run will need, measured on probes instead of read from a table (`dry-run`).

* cells: one probe cell per template and morphology size class (compartments within a
  factor of two), built by the population's own code (`probe_cell`, as the load balance's
  probes do); its cost is the growth of malloc's bytes in use while it is built (the
  resident size grows by whole pages and heap extensions, too coarse for one cell), and
  every probe is kept until all are measured. The first probe of a template is built
  twice: the first build also pays what a run pays once (loading the template, hoc's
  Import3d, morphio), the second measures one cell. A cell costs its compartments times
  its class' bytes per compartment.
* synapses: PROBE_SYNAPSES point processes of the edge population's model with a NetCon
  each (plus a mini source each where the target population has mini frequencies);
* base: this process' resident memory once everything above is done, less the probes it
  still holds (Python, NEURON, mechanisms, libraries, templates), plus what MPI adds per
  rank, measured by starting NEURON under the venv's mpiexec in a separate process.
"""

from __future__ import annotations

import ctypes
import functools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.managers.cells.cost import morphology_compartments

MB = 1024.0 * 1024.0
PROBE_SYNAPSES = 1000
SPIKE_RATE_HZ = 10.0  # assumed mean rate for the spike buffers (they are small anyway)
SPIKE_BYTES = 16  # time and gid, doubles


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


@functools.cache
def _libc() -> Any:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    return libc


def allocated_bytes() -> int:
    """Bytes malloc has handed out and not got back (glibc's mallinfo2)."""
    info = _libc().mallinfo2()
    return int(info.uordblks + info.hblkhd)


def resident_bytes() -> int:
    """This process' resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Probes:
    """Keeps every probe alive until the estimate is done; sums what they hold."""

    def __init__(self) -> None:
        self.kept: list[Any] = []
        self.total = 0.0

    def measure(self, build: Any) -> float:
        """Bytes `build()` adds to this process; its result is kept."""
        heap = allocated_bytes()
        self.kept.append(build())
        used = float(max(allocated_bytes() - heap, 0))
        self.total += used
        return used


_BASE_SCRIPT = """
import json, sys
from pathlib import Path
from engine import simulator
from engine.mechanisms import load_mechanisms
import engine.simulation, engine.managers.reports.manager, engine.io.report_writer, h5py  # noqa
sim = simulator.start()
load_mechanisms([Path(p) for p in json.loads(sys.argv[1])], sim)
from engine.summary import peak_rss_mb
peaks = sim.gather(peak_rss_mb(), 0)
if sim.is_root:
    print("BASE", max(peaks))
"""


def _started_neuron_mb(mechanism_dirs: list[Path], ranks: int) -> float:
    """Peak memory per rank of a process that starts NEURON as a run (MPI if ranks > 1)."""
    import os

    from engine.simulator import prepare_mpi_environment, venv_mpiexec

    command = [sys.executable, "-c", _BASE_SCRIPT, json.dumps([str(p) for p in mechanism_dirs])]
    if ranks > 1 and venv_mpiexec() is not None:
        prepare_mpi_environment()
        env = dict(os.environ)
        env.pop("SONATASIM_NO_MPI", None)
        command = [str(venv_mpiexec()), "-n", str(min(ranks, 2)), *command]
    else:
        env = {**os.environ, "SONATASIM_NO_MPI": "1"}
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=repo)
    for line in result.stdout.splitlines():
        if line.startswith("BASE "):
            return float(line.split()[1])
    raise RuntimeError(f"the base-memory probe failed: {result.stderr.strip()[-400:]}")


def base_memory_mb(mechanism_dirs: list[Path], ranks: int, probes: Probes) -> tuple[float, float]:
    """(base MB per rank, of which MPI): this process less its probes, plus MPI's share."""
    own = (resident_bytes() - probes.total) / MB
    mpi = 0.0
    if ranks > 1:
        mpi = max(
            0.0, _started_neuron_mb(mechanism_dirs, 2) - _started_neuron_mb(mechanism_dirs, 1)
        )
    return own + mpi, mpi


@dataclass
class CellClass:
    """Cells of one template whose compartment counts are within a factor of two."""

    population: str
    template: str
    size_class: int
    cells: int = 0
    compartments: int = 0
    bytes_per_compartment: float = 0.0


def _size_class(compartments: int) -> int:
    return int(np.floor(np.log2(max(1, compartments))))


def _population_compartments(manager: Any, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimated compartments and template of each cell (morphology files read once)."""
    from engine.io.morphology import resolve_morphology_path

    templates = manager.attribute("model_template", ids).astype(str)
    if not manager.has_attribute("morphology"):
        return np.ones(ids.size, dtype=np.int64), templates
    names = manager.attribute("morphology", ids).astype(str)
    morph_dir, ext = manager.morphology_source()
    unique, inverse = np.unique(names, return_inverse=True)
    counts = np.zeros(unique.size, dtype=np.int64)
    for k, name in enumerate(unique.tolist()):
        file = name if Path(name).suffix else f"{name}.{ext}"
        path = resolve_morphology_path(Path(morph_dir), file, None)
        counts[k] = sum(morphology_compartments(path).values())
    return counts[inverse.ravel()], templates


def measure_cells(
    h: Any, loader: Any, node_managers: dict, cells: dict, probes: Probes
) -> tuple[dict, list]:
    """Bytes of every simulated cell, from one probe per (template, size class)."""
    per_cell: dict[str, np.ndarray] = {}
    classes: list[CellClass] = []
    for population in sorted(cells):
        ids = np.asarray(cells[population], dtype=np.uint64)
        manager = node_managers[population]
        if manager.info.type not in ("biophysical", "single_compartment") or not ids.size:
            each = probes.measure(lambda: _instances(h, h.IntFire1, 200)) / 200
            per_cell[population] = np.full(ids.size, each)
            continue
        compartments, templates = _population_compartments(manager, ids)
        sizes = np.array([_size_class(int(c)) for c in compartments])
        bytes_of = np.zeros(ids.size)
        for template in sorted(set(templates.tolist())):
            warm = False
            for size in sorted(set(sizes[templates == template].tolist())):
                members = np.nonzero((templates == template) & (sizes == size))[0]
                median = int(members[np.argsort(compartments[members])[members.size // 2]])
                node_id = int(ids[median])
                if not warm:  # loads the template and its helpers: a one-time cost
                    probes.measure(lambda n=node_id, m=manager: m.probe_cell(h, n, loader))
                    warm = True
                used = probes.measure(lambda n=node_id, m=manager: m.probe_cell(h, n, loader))
                per_compartment = used / max(1, int(compartments[median]))
                bytes_of[members] = per_compartment * compartments[members]
                classes.append(
                    CellClass(population, template, size, int(members.size),
                              int(compartments[members].sum()), per_compartment)
                )  # fmt: skip
        per_cell[population] = bytes_of
    return per_cell, classes


def _instances(h: Any, make: Any, count: int) -> list[Any]:
    """`count` objects from `make()`, each the source of a NetCon (as cells and synapses)."""
    kept = []
    for _ in range(count):
        obj = make()
        kept.append((obj, h.NetCon(obj, None) if _is_artificial(obj) else h.NetCon(None, obj)))
    return kept


def _is_artificial(obj: Any) -> bool:
    return obj.hname().split("[")[0] in ("IntFire1", "SonataInhPoissonStim")


def synapse_model_name(h: Any, storage: Any) -> str:
    """The point process an edge population's synapses become (as synapse_models decides)."""
    names = set(storage.attribute_names)
    if "model_template" in names:
        import libsonata

        first = libsonata.Selection([(0, min(1, storage.size))])
        kinds = storage.get_attribute("model_template", first) if storage.size else []
        kind = str(kinds[0]).lower() if len(kinds) else ""
        return {"exp2syn": "Exp2Syn", "expsyn": "ExpSyn"}.get(kind, "SonataExp2Syn")
    if {"u_syn", "depression_time", "facilitation_time"} <= names:
        return next(n for n in ("ProbAMPANMDA_EMS", "SonataProbAMPANMDA") if hasattr(h, n))
    return "SonataExp2Syn"


def measure_synapses(
    h: Any, setup: Any, node_managers: dict, cells: dict, open_edges: Any, probes: Probes
) -> tuple[list, dict]:
    """Per edge population (model, synapses, bytes each) and bytes per target cell."""
    section = h.Section(name="sonatasim_memory_probe")
    probes.kept.append(section)
    n = PROBE_SYNAPSES
    minis_each = 0.0
    if hasattr(h, "SonataInhPoissonStim"):
        minis_each = probes.measure(lambda: _instances(h, h.SonataInhPoissonStim, n)) / n
    measured: dict[str, float] = {}
    rows, per_cell = [], {p: np.zeros(np.asarray(ids).size) for p, ids in cells.items()}
    for name, info in sorted(setup.edge_populations.items()):
        if info.target not in cells or info.type not in ("chemical", "synapse", ""):
            continue
        storage = open_edges(info)
        model = synapse_model_name(h, storage)
        if model not in measured:
            make = lambda m=model: getattr(h, m)(section(0.5))  # noqa: E731
            measured[model] = probes.measure(lambda f=make: _instances(h, f, n)) / n
        each = measured[model]
        counts = _edge_population_counts(setup, name, info, np.asarray(cells[info.target]))
        if _has_minis(node_managers[info.target]):
            each += minis_each  # one Poisson source and its NetCon per synapse
        rows.append((name, model, int(counts.sum()), each))
        per_cell[info.target] = per_cell[info.target] + counts * each
    return rows, per_cell


def _edge_population_counts(setup: Any, name: str, info: Any, ids: np.ndarray) -> np.ndarray:
    from engine.managers.cells.cost import _edge_counts

    per_node = _edge_counts(str(info.edges_file), name, Path(info.edges_file).stat().st_mtime_ns)
    padded = np.zeros(max(per_node.size, int(ids.max(initial=0)) + 1), dtype=np.int64)
    padded[: per_node.size] = per_node
    return padded[ids.astype(np.int64)]


def _has_minis(manager: Any) -> bool:
    """Minis from node attributes (override-only spont_minis are not counted)."""
    return any(manager.has_attribute(n) for n in ("exc_mini_frequency", "inh_mini_frequency"))
