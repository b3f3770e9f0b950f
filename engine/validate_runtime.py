"""`sonatasim validate`, second half: what a run would hit in files and in NEURON itself.

Still nothing is simulated. Replay spike files are read and checked, every morphology is
parsed, the output folder is probed, the mechanisms are compiled (or found in the cache)
and loaded into a NEURON without MPI, every hoc template is loaded (syntax errors), and
every report variable is looked up among the mechanisms' variables.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import SimulationSetup, large_run_warning
from engine.errors import UserError

ALWAYS_RECORDABLE = {"v", "i_membrane", "i_membrane_"}
HOC_VARIABLE_KINDS = (1, 2, 3)  # MechanismStandard: parameters, assigned, states


def check_runtime(
    out: Any, setup: SimulationSetup, storages: dict[str, Any], mechanisms: list[Path]
) -> list[str]:
    """Collect problems into `out` (validate's collector); return warnings."""
    warnings = []
    huge = large_run_warning(setup.run)
    if huge is not None:
        warnings.append(huge)
    _check_output_dir(out, setup)
    _check_replay_spikes(out, setup, storages)
    _check_morphologies(out, setup, storages)
    library = out.check(lambda: _build_mechanisms(setup, mechanisms))
    if library is not None:
        out.check(lambda: _check_with_neuron(out, setup, mechanisms))
    return warnings


def _check_output_dir(out: Any, setup: SimulationSetup) -> None:
    """The output folder, or its nearest existing parent, must take a file (not created)."""
    folder = Path(setup.output.output_dir)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    key = "output.output_dir"
    if not existing.is_dir():
        out.add(f"in {setup.config_path} at '{key}': {existing} is not a directory")
        return
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        out.add(
            f"in {setup.config_path} at '{key}': output directory {folder} is not writable:"
            f" {exc.strerror or exc}"
        )


def _check_replay_spikes(out: Any, setup: SimulationSetup, storages: dict[str, Any]) -> None:
    from engine.io.spike_file import read_spike_file
    from engine.managers.replay import spike_train_problems

    sizes = {name: int(storage.size) for name, storage in storages.items()}
    for name in setup.input_names:
        block = out.check(lambda n=name: setup.input(n))
        module = getattr(getattr(block, "module", None), "name", str(getattr(block, "module", "")))
        spike_file = getattr(block, "spike_file", None)
        if module != "synapse_replay" or not spike_file or not Path(spike_file).exists():
            continue
        where = f"in {setup.config_path} at 'inputs.{name}.spike_file': {spike_file}"
        try:
            spikes = read_spike_file(Path(spike_file))
        except UserError as exc:
            out.add(f"{where}: {exc.plain_message}")
            continue
        for problem in spike_train_problems(spikes, sizes):
            out.add(f"{where}: {problem}")


def _check_morphologies(out: Any, setup: SimulationSetup, storages: dict[str, Any]) -> None:
    """Parse every distinct morphology a biophysical population names (morphio)."""
    from engine.io.attributes import AttributeReader
    from engine.io.morphology import read_morphology, resolve_morphology_path
    from engine.managers.cells.nodes import BiophysicalNodeManager

    for name, info in sorted(setup.node_populations.items()):
        storage = storages.get(name)
        if storage is None or info.type not in ("biophysical", "single_compartment"):
            continue
        reader = AttributeReader(storage, info.nodes_file)
        if not reader.has("morphology"):
            continue
        try:
            folder, ext = BiophysicalNodeManager(info, storage, 0).morphology_source()
        except UserError:
            continue  # reported by check_cell_files
        if folder.suffix == ".h5" or not folder.is_dir():
            continue  # a merged container, or reported already
        ids = np.arange(storage.size, dtype=np.uint64)
        names = sorted({str(n) for n in reader.read("morphology", ids).tolist()})
        for morphology in names:
            try:
                path = resolve_morphology_path(folder, morphology, ext)
            except UserError:
                continue  # missing ones are listed by check_cell_files
            out.check(lambda p=path: read_morphology(p))


def _build_mechanisms(setup: SimulationSetup, extra: list[Path]) -> Path:
    from engine.mechanisms import build_mechanisms

    return build_mechanisms(setup.mechanism_dirs + list(extra))


def _check_with_neuron(out: Any, setup: SimulationSetup, extra: list[Path]) -> None:
    """Load mechanisms and templates into a NEURON of this process (no MPI, no cells)."""
    from engine import simulator
    from engine.managers.cells.morphology import MorphologyLoader
    from engine.managers.cells.templates import load_template
    from engine.managers.reports.spec import parse_reports
    from engine.mechanisms import load_mechanisms

    sim = simulator.start(use_mpi=False)
    load_mechanisms(setup.mechanism_dirs + list(extra), sim)  # a cache hit by now
    MorphologyLoader().install(sim.h)  # templates declare it `external`
    for _, info in sorted(setup.node_populations.items()):
        for template in _hoc_templates(info):
            out.check(lambda i=info, t=template: load_template(sim.h, i, t))
    known = _recordable_names(sim.h)
    for spec in out.check(lambda: parse_reports(setup)) or []:
        for variable in spec.variables:
            problem = _unknown_variable(variable, known)
            if problem:
                out.add(
                    f"in {setup.config_path} at 'reports.{spec.name}.variable_name':"
                    f" {variable.text}: {problem}"
                )


def _hoc_templates(info: Any) -> list[str]:
    from engine.io.attributes import AttributeReader
    from engine.managers.circuit import open_node_population

    if info.type not in ("biophysical", "single_compartment"):
        return []
    with contextlib.suppress(UserError):
        storage = open_node_population(info.nodes_file, info.name)
        reader = AttributeReader(storage, info.nodes_file)
        if reader.has("model_template"):
            ids = np.arange(storage.size, dtype=np.uint64)
            values = {str(t) for t in reader.read("model_template", ids).tolist()}
            return sorted(t[4:] for t in values if t.startswith("hoc:"))
    return []


def _recordable_names(h: Any) -> dict[str, set[str]]:
    """mechanism name -> its variable names (suffixed as hoc sees them for density ones)."""
    from engine.loaded_mechanisms import mechanism_names

    names: dict[str, set[str]] = {}
    for mechanism in mechanism_names(h):
        variables: set[str] = set()
        for vartype in HOC_VARIABLE_KINDS:
            standard = h.MechanismStandard(mechanism, vartype)
            for j in range(int(standard.count())):
                variable = h.ref("")
                standard.name(variable, j)
                variables.add(str(variable[0]))
        names[mechanism] = variables
    return names


def _unknown_variable(variable: Any, known: dict[str, set[str]]) -> str | None:
    if variable.mechanism:
        if variable.mechanism not in known:
            return f"no mechanism '{variable.mechanism}' is compiled or built in"
        suffixed = f"{variable.name}_{variable.mechanism}"
        if not {variable.name, suffixed} & known[variable.mechanism]:
            return f"mechanism '{variable.mechanism}' has no variable '{variable.name}'"
        return None
    name = variable.name
    if name in ALWAYS_RECORDABLE or name in known:
        return None
    if any(name in variables for variables in known.values()):
        return None
    return "no mechanism, ion or membrane variable of that name"
