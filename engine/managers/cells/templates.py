"""hoc cell templates (`model_template: hoc:Name`), called the way neurodamus calls them.

Constructor arguments: (0-based node id, morphology directory, morphology file name, extra)
where extra is the node's @dynamics values named by the template file's global string
`<Name>_NeededAttributes` (";"-separated), or a single 0 without it.

Our own templates build their sections through the morphio loader, which knows the SONATA
order. Templates that load their morphology themselves (BBP emodels with Import3d, which
also replace the axon) get the section table neurodamus builds (`section_table`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import libsonata
import numpy as np

from engine import failure
from engine.config import NodePopulationInfo
from engine.errors import CircuitError
from engine.managers.cells import import3d_cache

log = logging.getLogger("sonatasim")

# Section-id blocks of the fallback rule, in order: (SectionList, hoc array).
SECTION_BLOCKS = (
    ("somatic", "soma"),
    ("axonal", "axon"),
    ("basal", "dend"),
    ("apical", "apic"),
    ("myelinated", "myelin"),
)
INDEX_PROBE_X = 0.0001  # where BBP templates' indexSections stores each section's index

# (nodes file, population, attribute) -> values of every node: extra-argument reads are
# per cell, so one bulk read per attribute and process.
_dynamics_columns: dict[tuple[str, str, str], np.ndarray] = {}


def template_file(info: NodePopulationInfo, name: str) -> Path | None:
    """`<biophysical_neuron_models_dir>/<name>.hoc` (or point_neuron_models_dir), else
    (bmtk) the .hoc file of `templates_dir` that defines template `name`; None if none."""
    folders = (info.biophysical_neuron_models_dir, info.point_neuron_models_dir)
    candidates = [d / f"{name}.hoc" for d in folders if d]
    if info.templates_dir is not None and info.templates_dir.is_dir():
        candidates.append(info.templates_dir / f"{name}.hoc")
        candidates += sorted(
            f
            for f in info.templates_dir.glob("*.hoc")
            if f"begintemplate {name}" in f.read_text(errors="replace")
        )
    return next((c for c in candidates if c.exists()), None)


def load_template(h: Any, info: NodePopulationInfo, name: str) -> None:
    """Load template `name` once per process (from `template_file`)."""
    if hasattr(h, name):
        return
    path = template_file(info, name)
    if path is None:
        if info.biophysical_neuron_models_dir is None and info.templates_dir is None:
            raise CircuitError(
                f"population '{info.name}' has no biophysical_neuron_models_dir",
                key="components.biophysical_neuron_models_dir",
            )
        folder = info.biophysical_neuron_models_dir or info.templates_dir
        raise CircuitError(
            "hoc template not found", file=Path(folder) / f"{name}.hoc", key="model_template"
        )
    if import3d_cache.enabled():
        import3d_cache.install(h)  # default: per-process reuse of Import3d's parse
    h.load_file("import3d.hoc")  # templates that read their own morphology use it
    with failure.doing(f"loading template {name} from {path}", cell_code=True):
        try:
            loaded = h.load_file(str(path))
        except RuntimeError as exc:
            raise CircuitError(
                f"hoc could not load it (NEURON's message above gives the line): {exc}",
                file=path,
            ) from None
    if not loaded:
        raise CircuitError(
            "hoc could not load the file (syntax error? NEURON's message is above)", file=path
        )
    if not hasattr(h, name):
        raise CircuitError(f"file does not define template {name}", file=path)


def needed_attributes(h: Any, name: str) -> list[str]:
    """The @dynamics attributes a template wants as extra arguments (may be empty)."""
    global_name = f"{name}_NeededAttributes"
    if not hasattr(h, global_name):
        return []
    value = getattr(h, global_name)
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _dynamics_value(info: NodePopulationInfo, attribute: str, node_id: int) -> float:
    key = (str(info.nodes_file), info.name, attribute)
    column = _dynamics_columns.get(key)
    if column is None:
        try:
            population = libsonata.NodeStorage(str(info.nodes_file)).open_population(info.name)
            everything = libsonata.Selection([(0, population.size)])
            column = np.asarray(population.get_dynamics_attribute(attribute, everything))
        except libsonata.SonataError as exc:
            raise CircuitError(
                f"the template needs @dynamics:{attribute}: {exc}",
                file=info.nodes_file,
                key=f"@dynamics:{attribute}",
            ) from None
        _dynamics_columns[key] = column
    return float(column[node_id])


def extra_arguments(h: Any, info: NodePopulationInfo, name: str, node_id: int) -> list[float]:
    """The constructor's arguments after the morphology file name (neurodamus' rule)."""
    names = needed_attributes(h, name)
    if not names:
        return [0.0]
    return [_dynamics_value(info, attribute, node_id) for attribute in names]


def _hoc_list(hoc: Any, name: str) -> list[Any] | None:
    value = getattr(hoc, name, None)
    if value is None:
        return None
    try:
        return list(value)
    except TypeError:
        return None


def indexed_sections(hoc: Any) -> list[Any] | None:
    """Section table from the template's own index (`indexSections`), if it wrote one.

    BBP templates store, before replacing the axon, each section's position in `all` into
    v(0.0001) and the count into `nSecAll`; sections created later (the new axon) keep the
    default negative voltage and are not in the table, and removed ones leave holes.
    """
    count = int(getattr(hoc, "nSecAll", 0) or 0)
    sections = _hoc_list(hoc, "all")
    if count <= 0 or not sections:
        return None
    table: list[Any] = [None] * count
    found = 0
    for section in sections:
        value = float(section(INDEX_PROBE_X).v)
        index = int(round(value))
        if value < 0 or abs(value - index) > 1e-9 or index >= count or table[index] is not None:
            continue
        table[index] = section
        found += 1
    return table if found else None


def block_sections(hoc: Any) -> list[Any]:
    """Section table by blocks: soma, axon, dend, apic, myelin (neurodamus' second rule).

    The axon block keeps the original axon count (`nSecAxonalOrig`) so the replacement
    axon sections get the first ids of the block and the rest are holes.
    """
    table: list[Any] = []
    for list_name, array_name in SECTION_BLOCKS:
        members = _hoc_list(hoc, list_name)
        if members is None:
            if list_name == "somatic":
                members = list(getattr(hoc, array_name, []))[:1]
            else:
                continue
        size = len(members)
        if list_name == "axonal":
            size = max(size, int(getattr(hoc, "nSecAxonalOrig", 0) or 0))
        table.extend(members[:size] + [None] * (size - len(members)))
    if not table or table[0] is None:
        table = _hoc_list(hoc, "all") or []
    return table


def section_table(hoc: Any) -> list[Any]:
    """SONATA section id -> section for a template that loaded its own morphology."""
    return indexed_sections(hoc) or block_sections(hoc)


def instantiate_hoc_cell(
    h: Any,
    info: NodePopulationInfo,
    name: str,
    node_id: int,
    morph_dir: Path,
    morph_file: str,
    loader: Any,
) -> tuple[Any, list[Any]]:
    """Build one cell; returns the hoc object and its sections in SONATA section-id order.

    `morph_file` is the file name with its extension (`morphology.template_file_name`)."""
    load_template(h, info, name)
    extra = extra_arguments(h, info, name, node_id)
    if loader is not None:
        loader.last_error = None
    try:
        hoc = getattr(h, name)(node_id, str(morph_dir), morph_file, *extra)
    except RuntimeError as exc:
        error = getattr(loader, "last_error", None)
        if isinstance(error, CircuitError):
            raise error from None
        raise CircuitError(
            f"the template failed (morphology {morph_file}): {exc}",
            file=info.nodes_file,
        ) from None
    error = getattr(loader, "last_error", None)
    if error is not None:  # the loader failed; the template carried on without sections
        raise error
    try:
        sections = loader.sections_of(hoc)
    except KeyError:  # the template read its morphology itself
        sections = section_table(hoc)
    if not sections or sections[0] is None:
        raise CircuitError(
            f"template {name} built no soma for node {node_id}", file=info.nodes_file
        )
    return hoc, sections


def instantiate_point_template(
    h: Any, info: NodePopulationInfo, name: str, node_id: int, morph_dir: str, morph_file: str
) -> Any:
    """A hoc template wrapping an artificial cell as `pointcell` (neurodamus' AllenPoint
    route calls it as a biophysical template: node id, morphology dir and file, extra)."""
    load_template(h, info, name)
    extra = extra_arguments(h, info, name, node_id)
    try:
        hoc = getattr(h, name)(node_id, morph_dir, morph_file, *extra)
    except RuntimeError as exc:
        raise CircuitError(
            f"template {name} failed for node {node_id} (population {info.name}): {exc}",
            file=info.nodes_file,
        ) from None
    if getattr(hoc, "pointcell", None) is None:
        raise CircuitError(
            f"template {name} (node {node_id} of population {info.name}) has no 'pointcell'"
            " member: a point_process template must expose its artificial cell as pointcell",
            file=info.nodes_file,
            key="model_template",
        )
    return hoc


def reinit_ion_channel_rngs(node_managers: dict[str, Any], seed: int) -> int:
    """`re_init_rng(ionchannel_seed)` on every local template that defines it (compat §2.1).

    Called after all cells of the rank exist and before gids are registered, as neurodamus
    does: the template still holds its raw 0-based node id as `gid` (stochastic channels key
    their streams on it); afterwards `gid` becomes the final gid. Returns how many cells
    were re-seeded.
    """
    count = 0
    for _, manager in sorted(node_managers.items()):
        for node_id in sorted(manager.cells):
            cell = manager.cells[node_id]
            hoc = getattr(cell, "hoc", None)
            if hoc is None or getattr(cell, "is_artificial", False):
                continue
            if hasattr(hoc, "re_init_rng"):
                hoc.re_init_rng(float(seed))
                count += 1
            if hasattr(hoc, "gid"):
                hoc.gid = float(cell.gid)
    return count
