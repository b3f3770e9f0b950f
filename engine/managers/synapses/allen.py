"""Allen/bmtk synapse rules: weight functions, `nsyns`, and placement by section and distance.

bmtk edges (feature-matrix.md row 9) usually carry no synapse location. An edge type names
`target_sections` (e.g. `['somatic', 'basal']`) and `distance_range` ([min, max] um from
the soma), and each edge stands for `nsyns` synapses, each placed at random on a segment of
those sections within that distance and each receiving the full `syn_weight` (as
transformed by the edge type's `weight_function`). Edges with a preselected location
(`afferent_section_id`/`_pos`, or bmtk's `sec_id`/`sec_x`) get one synapse there.
Artificial-cell targets (IntFire1) get one NetCon per edge of weight
`syn_weight * sign * nsyns`, `sign` from the synapse json (bmtk's point-process rule).

Placement follows bmtk's candidate rule (a segment whose span of path distance from soma(0)
overlaps `distance_range`, weighted by its length times the overlapped fraction), but the
draws are ours, not bit-compatible with bmtk's (which depend on its gid order): a generator
seeded with
(run.random_seed, the edge population's 12-bit hash, target node id) and drawn in edge-id
order: a cell gets the same synapses on any number of ranks.

How `EdgeManager.create_synapses` uses this (`plan_synapses` is None for other edges):
the local edges are expanded to one row per synapse (`expand(local, plan.rows)`), every
per-edge attribute is then read for the expanded selection, NetCon weights are
`plan.weights`, and synapses sit at (`plan.section_ids`, `plan.positions`) when set (else
at the edges' own afferent_section_id/_pos).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.compat import population_hash_id, synapse_ids_per_target
from engine.errors import CircuitError
from engine.managers.cells.placement import segment_candidates

SECTION_NAMES = {"soma": "soma", "somatic": "soma", "dend": "dend", "basal": "dend"}
SECTION_NAMES.update({"apic": "apic", "apical": "apic", "axon": "axon", "axonal": "axon"})
ALLEN_EDGE_ATTRIBUTES = ("nsyns", "weight_function", "target_sections", "distance_range")


def _identity(w: np.ndarray, *_: Any) -> np.ndarray:
    return w


def gaussian_ll(w: np.ndarray, edges: Any, src: Any, tgt: Any) -> np.ndarray:
    """bmtk's gaussianLL: w * exp(-(d/sigma)^2), d = tuning-angle difference folded to [0, 90]."""
    sigma = edges("weight_sigma")
    delta = np.abs(tgt("tuning_angle") - src("tuning_angle"))
    delta = np.abs(np.abs(np.abs(180.0 - delta % 360.0) - 90.0) - 90.0)
    factors = [
        math.exp(-((d / s) ** 2))
        for d, s in zip(delta.tolist(), np.broadcast_to(sigma, delta.shape).tolist(), strict=True)
    ]
    return w * np.array(factors)  # math.exp per edge, as bmtk: np.exp can differ by 1 ulp


WEIGHT_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "wmax": _identity,
    "default_weight_fn": _identity,
    "gaussianLL": gaussian_ll,
}


@dataclass
class AllenSynapsePlan:
    """Per synapse: the local edge it belongs to, its NetCon weight, and its location."""

    rows: np.ndarray
    weights: np.ndarray
    section_ids: np.ndarray | None = None
    positions: np.ndarray | None = None


def uses_allen_rules(edges_manager: Any) -> bool:
    info = edges_manager.info
    return getattr(info, "dialect", "sonata") == "allen" or any(
        edges_manager.has_attribute(a) for a in ALLEN_EDGE_ATTRIBUTES
    )


def parse_sections(value: Any) -> set[str]:
    """`"['somatic', 'basal']"`, `somatic`, ... -> {'soma', 'dend'}."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return set(SECTION_NAMES.values())
    text = str(value).strip()
    try:
        parsed = ast.literal_eval(text) if text.startswith(("[", "(")) else text
    except (ValueError, SyntaxError):
        parsed = text
    names = [parsed] if isinstance(parsed, str) else list(parsed)
    unknown = [n for n in names if n not in SECTION_NAMES]
    if unknown:
        raise CircuitError(f"unknown target_sections {unknown}", key="target_sections")
    return {SECTION_NAMES[n] for n in names}


def parse_range(value: Any) -> tuple[float, float]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0.0, math.inf
    try:
        low, high = ast.literal_eval(str(value)) if isinstance(value, str) else value
        return float(low), float(high)
    except (ValueError, SyntaxError, TypeError):
        raise CircuitError(
            f"distance_range {value!r} is not [min, max]", key="distance_range"
        ) from None


def syn_weights(em: Any, edges: Any, local: Any, artificial: Any) -> np.ndarray:
    """NetCon weight per local edge: weight_function(syn_weight), x sign*nsyns on IntFire."""
    n = len(local)
    if not em.has_attribute("syn_weight"):
        raise CircuitError("Allen edges need syn_weight", file=em.info.edges_file, key=em.name)
    weights = em.attribute("syn_weight", edges).astype(np.float64)
    if em.has_attribute("weight_function"):
        functions = np.asarray(em.attribute("weight_function", edges), dtype=object)
        for name in {f for f in functions.tolist() if isinstance(f, str) and f}:
            if name not in WEIGHT_FUNCTIONS:
                raise CircuitError(
                    f"weight_function {name!r} is not supported (known: {', '.join(WEIGHT_FUNCTIONS)})",
                    file=em.info.edges_file,
                    key="weight_function",
                )
            mask = functions == name

            def edge_attr(attr: str, m: np.ndarray = mask) -> np.ndarray:
                return em.attribute(attr, edges).astype(np.float64)[m]

            def node_attr(manager: Any, ids: np.ndarray, m: np.ndarray = mask):
                return lambda attr: manager.attribute(attr, ids[m]).astype(np.float64)

            weights[mask] = WEIGHT_FUNCTIONS[name](
                weights[mask],
                edge_attr,
                node_attr(em.source, local.source_ids),
                node_attr(em.target, local.target_ids),
            )
    onto_points = np.broadcast_to(np.asarray(artificial, dtype=bool), (n,))
    if onto_points.any() and not _preselected(em):
        sign = em.optional_attribute("@dynamics:sign", edges, 1.0, n)
        weights = np.where(onto_points, weights * sign * _nsyns(em, edges, n), weights)
    return weights


def _nsyns(em: Any, edges: Any, n: int) -> np.ndarray:
    return em.optional_attribute("nsyns", edges, 1.0, n).astype(np.int64)


def _preselected(em: Any) -> bool:
    return em.has_attribute("afferent_section_id") or em.has_attribute("sec_id")


def plan_synapses(
    em: Any, edges: Any, local: Any, settings: Any, h: Any, artificial: Any
) -> AllenSynapsePlan | None:
    """The synapses of the local edges under bmtk's rules; None for non-Allen edges.

    `artificial` (one bool, or one per edge of a population mixing model types): edges
    onto artificial cells are one NetCon each, weight x sign x nsyns (bmtk's rule)."""
    if len(local) == 0 or not uses_allen_rules(em):
        return None
    n = len(local)
    onto_points = np.broadcast_to(np.asarray(artificial, dtype=bool), (n,))
    weights = syn_weights(em, edges, local, onto_points)
    if onto_points.all():
        return AllenSynapsePlan(rows=np.arange(n), weights=weights)
    if _preselected(em):
        if em.has_attribute("afferent_section_id"):
            return AllenSynapsePlan(rows=np.arange(n), weights=weights)
        sections = em.attribute("sec_id", edges).astype(np.int64)
        positions = em.optional_attribute("sec_x", edges, 0.5, n)
        return AllenSynapsePlan(np.arange(n), weights, sections, positions)
    counts = np.where(onto_points, 1, np.maximum(_nsyns(em, edges, n), 0))
    rows = np.repeat(np.arange(n), counts)
    kinds = (
        em.attribute("target_sections", edges)
        if em.has_attribute("target_sections")
        else [None] * n
    )
    ranges = (
        em.attribute("distance_range", edges) if em.has_attribute("distance_range") else [None] * n
    )
    section_ids = np.zeros(rows.size, dtype=np.int64)
    positions = np.zeros(rows.size)
    seed = int(settings.run.random_seed)
    pop_hash = population_hash_id(em.name)
    generators: dict[int, np.random.Generator] = {}
    candidates: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    start = np.concatenate([[0], np.cumsum(counts)])
    for i in range(n):
        if counts[i] == 0 or onto_points[i]:
            continue  # (an artificial cell takes its one NetCon at no section)
        node_id = int(local.target_ids[i])
        cell = em.target.cells[node_id]
        rule = (node_id, frozenset(parse_sections(kinds[i])), parse_range(ranges[i]))
        if rule not in candidates:
            candidates[rule] = segment_candidates(h, cell, rule[1], *rule[2])
        ids, xs, lengths = candidates[rule]
        if ids.size == 0:
            raise CircuitError(
                f"node {node_id}: no segment in {sorted(rule[1])} within {rule[2]} um of the soma",
                file=em.info.edges_file,
                key="target_sections",
            )
        rng = generators.setdefault(node_id, np.random.default_rng([seed, pop_hash, node_id]))
        chosen = rng.choice(ids.size, size=int(counts[i]), p=lengths / lengths.sum())
        section_ids[start[i] : start[i + 1]] = ids[chosen]
        positions[start[i] : start[i + 1]] = xs[chosen]
    return AllenSynapsePlan(rows, weights[rows], section_ids, positions)


def expand(local: Any, rows: np.ndarray) -> Any:
    """LocalEdges with one entry per synapse (edge arrays repeated by nsyns)."""
    if rows.size == len(local) and np.array_equal(rows, np.arange(len(local))):
        return local
    target_ids = local.target_ids[rows]
    edge_ids = local.edge_ids[rows]
    return replace(
        local,
        edge_ids=edge_ids,
        source_ids=local.source_ids[rows],
        target_ids=target_ids,
        synapse_ids=synapse_ids_per_target(target_ids, np.arange(rows.size)),
        delays=local.delays[rows],
        weights=local.weights[rows],
        targets=[],
    )
