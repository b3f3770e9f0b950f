"""Per-cell cost estimates for load balancing, without building the model.

A biophysical cell costs what its compartments cost, each weighted by the density mechanisms
it carries, plus its afferent synapses. Compartments come from the morphology read with
morphio (nseg by the rule 1 + 2*int(L/40), one per soma), corrected per section type by
one probe instance of each template: the probe's real nseg over the same rule on its own
morphology (which follows the template's own nseg rule, Allen's dL and axon replacement);
mechanisms per section type from that probe too; synapse counts from the edge files'
target_to_source index, read in bulk. Unit: one compartment without mechanisms.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engine import failure
from engine.errors import CircuitError, UserError
from engine.io.morphology import read_morphology, resolve_morphology_path

log = logging.getLogger("sonatasim")

# Relative costs, from timing NEURON 9 fixed-step runs (soma + dendrite cells): a passive
# compartment (cable + pas) = 3, an Exp2Syn synapse ~ 2/3 of that, hh adds more than one
# generic mechanism (but mechanisms are counted, not told apart).
COMPARTMENT_COST = 1.0  # the cable equation of one compartment
MECHANISM_COST = 2.0  # each density mechanism inserted in it
SYNAPSE_COST = 2.0  # one synapse (point process + NetCon)
ARTIFICIAL_CELL_COST = 1.0  # IntFire-like cells are event driven: nearly free
DEFAULT_MECHANISMS = 1.0  # per compartment, when no probe cell could be built
DEFAULT_TEMPLATE_COST = 100.0  # a cell whose template builds its own morphology (unknown)
SEGMENT_LENGTH_UM = 40.0  # the templates' geom_nseg rule: nseg = 1 + 2*int(L/40)
# Part of the plan cache key: a changed model invalidates cached plans.
COST_MODEL = (
    COMPARTMENT_COST,
    MECHANISM_COST,
    SYNAPSE_COST,
    ARTIFICIAL_CELL_COST,
    SEGMENT_LENGTH_UM,
    "nseg scaled by a probe cell",
)

SECTION_TYPES = ("soma", "axon", "dend", "apic")
_TYPE_OF_CODE = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}  # other codes land in dend
_LIST_OF_TYPE = {"soma": "somatic", "axon": "axonal", "dend": "basal", "apic": "apical"}
EDGE_TYPES_WITH_SYNAPSES = ("chemical", "synapse", "", "point_process", "Exp2Syn_synapse")

Costs = dict[str, np.ndarray]  # population -> cost of each simulated id (same order)
MechanismCounts = Callable[[Any, str, np.ndarray, int], dict[str, float]]


def nseg_estimate(lengths: np.ndarray) -> np.ndarray:
    return 1 + 2 * (np.asarray(lengths, dtype=float) // SEGMENT_LENGTH_UM).astype(np.int64)


@functools.lru_cache(maxsize=4096)
def morphology_compartments(path: Path) -> dict[str, int]:
    """Estimated compartments per section type of one morphology file (cached per file)."""
    morph = read_morphology(path)
    counts = dict.fromkeys(SECTION_TYPES, 0)
    counts["soma"] = 1
    types = np.asarray(morph.section_types, dtype=int)
    if types.size == 0:
        return counts
    points = np.asarray(morph.points, dtype=float)
    offsets = np.asarray(morph.section_offsets, dtype=np.int64)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    lengths = along[offsets[1:] - 1] - along[offsets[:-1]]
    nseg = nseg_estimate(lengths)
    for code in np.unique(types):
        kind = _TYPE_OF_CODE.get(int(code), "dend")
        counts[kind] += int(nseg[types == code].sum())
    return counts


def afferent_synapse_counts(setup: Any, population: str, ids: np.ndarray) -> np.ndarray:
    """Synapses ending on each of `ids`, over every edge population targeting `population`."""
    ids = np.asarray(ids, dtype=np.int64)
    counts = np.zeros(ids.size, dtype=np.int64)
    for name, info in sorted(setup.edge_populations.items()):
        if info.target != population or info.type not in EDGE_TYPES_WITH_SYNAPSES:
            continue
        path = Path(info.edges_file)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            raise CircuitError("edges file not found", file=path, key=f"edges.{name}") from None
        per_node = _edge_counts(str(path), name, mtime)
        if ids.size:
            # nodes after the last one with edges may be missing from a bincount
            padded = np.zeros(max(per_node.size, int(ids.max()) + 1), dtype=np.int64)
            padded[: per_node.size] = per_node
            counts += padded[ids]
    return counts


@functools.lru_cache(maxsize=64)
def _edge_counts(path: str, name: str, mtime_ns: int) -> np.ndarray:
    """Edges ending on each node id (cached per file version)."""
    try:
        with h5py.File(path, "r") as f:
            pop = f["edges"][name]
            index = pop.get("indices/target_to_source")
            name_of_ranges = next(
                (k for k in ("node_id_to_ranges", "node_id_to_range") if index and k in index), None
            )  # the second is bmtk's name for the same table
            if name_of_ranges is not None:
                ranges = index[name_of_ranges][:].astype(np.int64)
                edge_ranges = index["range_to_edge_id"][:].astype(np.int64)
                along = np.concatenate([[0], np.cumsum(edge_ranges[:, 1] - edge_ranges[:, 0])])
                return along[ranges[:, 1]] - along[ranges[:, 0]]
            targets = pop["target_node_id"][:].astype(np.int64)
    except (OSError, KeyError) as exc:
        raise CircuitError(f"cannot read edge index: {exc}", file=path, key=name) from None
    return np.bincount(targets)


def biophysical_costs(
    manager: Any, ids: np.ndarray, synapses: np.ndarray, mechanisms: MechanismCounts | None
) -> np.ndarray:
    """Cost of each cell of a biophysical population; one estimate per (template, file)."""
    templates = manager.attribute("model_template", ids).astype(str)
    if not manager.has_attribute("morphology"):  # templates that build their own geometry
        return DEFAULT_TEMPLATE_COST + SYNAPSE_COST * synapses.astype(float)
    names = manager.attribute("morphology", ids).astype(str)
    morph_dir, ext = manager.morphology_source()
    keys = np.char.add(np.char.add(templates, "\n"), names)
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    per_key = np.zeros(unique.size)
    probed: dict[str, dict[str, Any]] = {}
    for k, index in enumerate(first):
        template, morph_file = str(templates[index]), str(names[index])
        cell = failure.cell_text(manager.name, int(ids[index]), template.partition(":")[2])
        try:
            path = resolve_morphology_path(Path(morph_dir), morph_file, ext)
            compartments = morphology_compartments(path)
        except UserError as exc:  # the first cell that names the file is the one to blame
            raise exc.within(cell) from None
        if template not in probed:
            found = (
                mechanisms(manager, template, ids, int(index))
                if mechanisms is not None
                else dict.fromkeys(SECTION_TYPES, DEFAULT_MECHANISMS)
            )
            probed[template] = {**found, "morphology": compartments}  # the probe's own file
        mechs = probed[template]
        scale = _nseg_scale(mechs)
        per_key[k] = sum(
            n * scale.get(kind, 1.0)
            * (COMPARTMENT_COST + MECHANISM_COST * mechs.get(kind, DEFAULT_MECHANISMS))
            for kind, n in compartments.items()
        )  # fmt: skip
    return per_key[inverse.ravel()] + SYNAPSE_COST * synapses


def _nseg_scale(probed: dict[str, Any]) -> dict[str, float]:
    """Per section type: the probe's real compartments over the rule's estimate for it."""
    real, estimate = probed.get("nseg"), probed.get("morphology")
    if not real or not estimate:
        return {}
    return {
        kind: real[kind] / estimate[kind]
        for kind in SECTION_TYPES
        if kind in real and estimate.get(kind)
    }


def estimate_costs(
    setup: Any,
    node_managers: dict[str, Any],
    cells: dict[str, np.ndarray],
    mechanisms: MechanismCounts | None = None,
) -> Costs:
    """Estimated cost of every cell to simulate, per population (same order as `cells`)."""
    costs: Costs = {}
    for population in sorted(cells):
        ids = np.asarray(cells[population], dtype=np.uint64)
        manager = node_managers[population]
        synapses = afferent_synapse_counts(setup, population, ids)
        kind = manager.info.type
        detailed = getattr(manager, "detailed", None)  # a population mixing model types
        if detailed is not None and ids.size:
            mask = manager.detailed_mask(ids)
            cost = ARTIFICIAL_CELL_COST + SYNAPSE_COST * synapses.astype(float)
            if mask.any():
                cost[mask] = biophysical_costs(detailed, ids[mask], synapses[mask], mechanisms)
            costs[population] = cost
        elif kind in ("biophysical", "single_compartment") and ids.size:
            costs[population] = biophysical_costs(manager, ids, synapses, mechanisms)
        else:
            costs[population] = ARTIFICIAL_CELL_COST + SYNAPSE_COST * synapses.astype(float)
    return costs


class MechanismProbe:
    """Density mechanisms per compartment of each section type, from one probe cell.

    Builds one instance of a template (with the first cell's morphology), counts the
    mechanisms in every section of each SectionList, and deletes it again. Needs the
    mechanisms loaded and the morphology loader installed, as a run does.
    """

    def __init__(self, h: Any, loader: Any):
        self.h = h
        self.loader = loader
        # per (population, template): the probe's nseg belongs to its population's first cell
        self.cache: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, manager: Any, template: str, ids: np.ndarray, index: int) -> dict:
        key = (str(manager.name), template)
        if key in self.cache:
            return self.cache[key]
        name = template.split(":", 1)[-1]
        try:
            cell, _ = manager.probe_cell(self.h, int(ids[index]), self.loader)
        except (RuntimeError, KeyError) as exc:  # not a user error: estimate without it
            log.warning(
                "cannot probe template %s for its mechanisms (%s); assuming %g per compartment",
                name,
                exc,
                DEFAULT_MECHANISMS,
            )
            self.cache[key] = dict.fromkeys(SECTION_TYPES, DEFAULT_MECHANISMS)
            return self.cache[key]
        counts: dict[str, Any] = {"nseg": {}}
        for kind, list_name in _LIST_OF_TYPE.items():
            sections = list(getattr(cell, list_name, None) or [])
            per_section = [_mechanism_count(sec) for sec in sections]
            counts[kind] = float(np.mean(per_section)) if per_section else DEFAULT_MECHANISMS
            if sections:  # a template without this SectionList tells nothing about it
                counts["nseg"][kind] = sum(int(sec.nseg) for sec in sections)
        self.loader.forget(cell)
        del cell
        log.debug("mechanisms per compartment of %s: %s", name, counts)
        self.cache[key] = counts
        return counts


def _mechanism_count(section: Any) -> int:
    """Density mechanisms in the middle segment (ions are bookkeeping, not counted)."""
    return sum(1 for mech in section(0.5) if not mech.name().endswith("_ion"))
