"""What `sonatasim validate` checks of a population's cell files: templates, model files
and morphologies are found and read (nodes.py builds the cells).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.config import NodePopulationInfo
from engine.errors import CircuitError
from engine.io.attributes import AttributeReader, find_model_file
from engine.io.morphology import morphology_file_name, resolve_morphology_path
from engine.managers.cells import allen as allen_cells
from engine.managers.cells.nodes import BiophysicalNodeManager, _is_ctdb
from engine.managers.cells.templates import template_file


def check_cell_files(info: NodePopulationInfo, storage: Any) -> list[str]:
    """Problems with the templates, model files and morphologies a population names.

    For `sonatasim validate`: reads attributes through AttributeReader (so node types CSV
    columns count) and knows both hoc:<Name> templates and ctdb:Biophys1 json models.
    """
    reader = AttributeReader(storage, info.nodes_file)
    where = f"in {info.nodes_file} at '{info.name}'"
    if not reader.has("model_template"):
        return [f"{where}: no model_template attribute"]
    if info.is_virtual:
        return []
    ids = np.arange(storage.size, dtype=np.uint64)
    templates = np.asarray(reader.read("model_template", ids)).astype(str)
    # per node: built from a morphology (a population may mix model types)
    if reader.has("model_type"):
        kinds = np.asarray(reader.read("model_type", ids)).astype(str)
        detailed = np.isin(kinds, ("biophysical", "single_compartment"))
    else:
        detailed = np.full(ids.size, info.type in ("biophysical", "single_compartment"))
    problems = _missing_templates(info, templates[~detailed])
    if not detailed.any():
        return problems
    ids, templates = ids[detailed], templates[detailed]
    for template in sorted(set(templates.tolist())):
        if template.startswith("hoc:"):
            problems += _missing_templates(info, np.array([template]))
        elif _is_ctdb(template):
            problems += _check_ctdb(info, reader, ids[templates == template])
        elif template.startswith("nml:"):
            from engine.dialects.neuroml.point_cells import check_template

            point = check_template(info, template)  # None: not a NeuroML point cell
            problems += point if point is not None else _check_neuroml(info, template[4:])
        else:
            problems.append(
                f"{where}: model_template '{template}' is not hoc:<Name>, nml:<file> or ctdb:Biophys1"
            )
    if not reader.has("morphology"):
        if info.dialect == "allen" and all(t.startswith("hoc:") for t in templates.tolist()):
            return problems  # bmtk hoc templates may build their own morphology
        if all(t.startswith("nml:") for t in templates.tolist()):
            return problems  # NeuroML cells with a <morphology> need none (checked at build)
        return problems + [f"{where}: no morphology attribute"]
    manager = BiophysicalNodeManager(info, storage, 0)
    try:
        morph_dir, ext = manager.morphology_source()
    except CircuitError as exc:
        return problems + [exc.describe()]
    missing = []
    for name in sorted({str(n) for n in reader.read("morphology", ids).tolist()}):
        try:
            resolve_morphology_path(morph_dir, name, ext)
        except CircuitError:
            missing.append(morphology_file_name(name, ext))
    if missing and not morph_dir.is_file():
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        problems.append(f"{len(missing)} morphologies missing in {morph_dir}: {shown}")
    return problems


def _check_neuroml(info: NodePopulationInfo, name: str) -> list[str]:
    """The NeuroML file is found, reads, validates and holds nothing we refuse."""
    from engine.dialects.neuroml import document, generated

    try:
        path = document.find_cell_file(name, generated.model_dirs(info), info.nodes_file)
        generated.cell_mechanisms(document.load_cell(path))
    except CircuitError as exc:
        return [exc.describe()]
    return []


def _missing_templates(info: NodePopulationInfo, templates: np.ndarray) -> list[str]:
    """hoc templates among `templates` that cannot be found."""
    problems = []
    for template in sorted({t for t in templates.tolist() if t.startswith("hoc:")}):
        if template_file(info, template[4:]) is None:
            folder = info.biophysical_neuron_models_dir or info.templates_dir
            path = (folder or info.point_neuron_models_dir or Path(".")) / f"{template[4:]}.hoc"
            problems.append(f"hoc template not found: {path} (population {info.name})")
    return problems


def _check_ctdb(info: NodePopulationInfo, reader: AttributeReader, ids: np.ndarray) -> list[str]:
    problems = []
    dirs = tuple(d for d in (info.biophysical_neuron_models_dir,) if d is not None)
    if reader.has("dynamics_params"):
        for name in sorted({str(f) for f in reader.read("dynamics_params", ids).tolist() if f}):
            try:
                allen_cells.read_dynamics(
                    find_model_file(name, dirs, info.nodes_file, "dynamics_params")
                )
            except CircuitError as exc:
                problems.append(exc.describe())
    if reader.has("model_processing"):
        for value in sorted({str(v) for v in reader.read("model_processing", ids).tolist() if v}):
            try:
                allen_cells.processing_steps(value)
            except CircuitError as exc:
                problems.append(f"in {info.nodes_file}: {exc.plain_message}")
    return problems
