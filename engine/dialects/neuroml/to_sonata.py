"""`sonatasim convert MODEL --to sonata`: a NeuroML network (.net.nml, or the LEMS file
that includes it) as a SONATA circuit whose cells are `nml:` templates, plus a simulation
config from the LEMS Simulation (see `to_sonata_simulation`).

Why: users keep their NeuroML models and run them on any number of ranks without Java.
Node ids are the instance order of each population (ascending instance id); every edge
keeps NeuroML's pre/post segment and fractionAlong as `neuroml_*` attributes, so a
conversion back gives the same connections. Onto multi-compartment cells the post segment
and fractionAlong also become afferent_section_id / afferent_section_pos, with the
segment -> section layout the `nml:` cell builder uses (what the engine's edges read);
a gap junction's pre segment gives efferent_section_id / efferent_section_pos likewise, and
a connection's pre segment the spike detector it leaves from (`spike_detectors`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.dialects.neuroml.documents import POINT_CELL_LISTS, SYNAPSE_LISTS
from engine.dialects.neuroml.documents import read_document as _read
from engine.dialects.neuroml.spike_detectors import DETECTOR, SpikeDetectors
from engine.errors import CircuitError, ConfigError
from engine.io import sonata_writer

SPIKE_SOURCE_LISTS = {
    "spike_arrays": "spikeArray",
    "spike_generators": "spikeGenerator",
    "spike_generator_poissons": "spikeGeneratorPoisson",
    "spike_generator_randoms": "spikeGeneratorRandom",
    "spike_generator_ref_poissons": "spikeGeneratorRefPoisson",
}
# Lists a multi-compartment cell file needs besides the cell (its channels and pools).
CELL_SUPPORT_LISTS = (
    "ion_channel",
    "ion_channel_hhs",
    "ion_channel_v_shifts",
    "ion_channel_kses",
    "decaying_pool_concentration_models",
    "fixed_factor_concentration_models",
)
EDGE_NML_ATTRIBUTES = (
    "neuroml_pre_segment_id",
    "neuroml_pre_fraction_along",
    "neuroml_post_segment_id",
    "neuroml_post_fraction_along",
)


@dataclass
class ConvertedPopulation:
    """A node population written from a NeuroML population."""

    name: str
    type: str  # single_compartment | biophysical | virtual
    component: str
    element: str
    index: dict[int, int]  # NeuroML instance id -> SONATA node id
    is_list: bool = False
    # multi-compartment cells: (segment id, fractionAlong) -> (section id, position)
    locate: Callable[[int, float], tuple[int, float]] | None = None


@dataclass
class ConvertedNetwork:
    """What the simulation conversion needs from the network conversion."""

    network: Any
    document: Any
    populations: dict[str, ConvertedPopulation] = field(default_factory=dict)
    virtual_targets: set[str] = field(default_factory=set)
    node_sets: dict[str, Any] = field(default_factory=dict)
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (name, type)
    components: dict[str, Path] = field(default_factory=dict)  # circuit config dirs


def _single_network(document: Any, wanted: str | None, path: Path) -> Any:
    networks = list(document.networks)
    if wanted:
        for network in networks:
            if network.id == wanted:
                return network
        raise ConfigError(f'no <network id="{wanted}">', file=path, key="Simulation.target")
    if len(networks) != 1:
        raise ConfigError(f"{len(networks)} networks; name one with a LEMS file", file=path)
    return networks[0]


def _write_component(item: Any, list_name: str, document: Any, path: Path, extra=()) -> None:
    """One component (and for cells the channels it may use) as its own NeuroML file."""
    import neuroml
    import neuroml.writers

    doc = neuroml.NeuroMLDocument(id=str(item.id))
    getattr(doc, list_name).append(item)  # shared, not copied: writing reads it only
    for name in extra:
        getattr(doc, name).extend(list(getattr(document, name, None) or []))
    path.parent.mkdir(parents=True, exist_ok=True)
    neuroml.writers.NeuroMLWriter.write(doc, str(path))


def _list_of(document: Any, component: str) -> tuple[str, str, Any] | None:
    """(list attribute, element, object) of a component id in the document."""
    for lists in (POINT_CELL_LISTS, SYNAPSE_LISTS, SPIKE_SOURCE_LISTS, {"cells": "cell"}):
        for attribute, element in lists.items():
            for item in getattr(document, attribute, None) or []:
                if item.id == component:
                    return attribute, element, item
    return None


def _population_nodes(pop: Any) -> tuple[list[int], np.ndarray | None]:
    if pop.instances:
        ids = sorted(int(i.id) for i in pop.instances)
        by_id = {int(i.id): i for i in pop.instances}
        xyz = np.array([[float(getattr(by_id[i].location, a)) for a in "xyz"] for i in ids])
        return ids, xyz
    return list(range(int(pop.size or 0))), None


def convert_network(
    net_file: Path, out: Path, network_id: str | None, spike_sources
) -> ConvertedNetwork:
    """Write nodes.h5, edges.h5, cell/synapse files; `spike_sources(pop, element, item,
    n)` gives the (node ids, times) of a population of spike sources, kept in
    `result.spikes` for the caller to write (inputs may add populations)."""
    document = _read(net_file)
    network = _single_network(document, network_id, net_file)
    result = ConvertedNetwork(network, document)
    nodes_file, spikes = out / "nodes.h5", result.spikes
    pending: dict[str, dict[str, Any]] = {}  # node attributes, written once edges are known
    for pop in network.populations:
        found = _list_of(document, pop.component)
        if found is None:
            raise ConfigError(
                f"<population id=\"{pop.id}\"> component '{pop.component}' is not a cell, spike"
                " source or synapse this converter knows",
                file=net_file,
            )
        list_name, element, item = found
        ids, xyz = _population_nodes(pop)
        n = len(ids)
        sonata_name = next(
            (p.value for p in pop.properties if p.tag == "sonata_population"), pop.id
        )
        converted = ConvertedPopulation(
            sonata_name,
            "virtual",
            pop.component,
            element,
            {k: i for i, k in enumerate(ids)},
            bool(pop.instances),
        )
        attributes: dict[str, Any] = {"model_type": np.full(n, "virtual", dtype=object)}
        if element in SPIKE_SOURCE_LISTS.values():
            spikes[sonata_name] = spike_sources(pop, element, item, n)
            attributes["model_template"] = np.full(n, f"neuroml:{pop.component}", dtype=object)
        elif element in SYNAPSE_LISTS.values():
            raise ConfigError(
                f'<population id="{pop.id}"> has a synapse as component', file=net_file
            )
        else:
            point = element != "cell"
            converted.type = "single_compartment" if point else "biophysical"
            cell_path = out / "cells" / f"{pop.component}.cell.nml"
            if not cell_path.exists():
                _write_component(
                    item, list_name, document, cell_path, () if point else CELL_SUPPORT_LISTS
                )
            attributes["model_template"] = np.full(n, f"nml:{cell_path.name}", dtype=object)
            attributes["model_type"] = np.full(n, converted.type, dtype=object)
            if not point:
                converted.locate = _locator(cell_path, out, result)
        if xyz is not None:
            attributes.update({a: xyz[:, k] for k, a in enumerate("xyz")})
        pending[pop.id] = attributes
        result.populations[pop.id] = converted
        result.node_sets[sonata_name] = {"population": sonata_name}
    detectors = SpikeDetectors()
    _convert_projections(result, net_file, out, detectors)
    for pop_id, attributes in pending.items():
        converted = result.populations[pop_id]
        attributes.update(detectors.node_attributes(pop_id, converted.index))
        sonata_writer.write_nodes(nodes_file, converted.name, attributes)
    return result


def synapse_file(result: ConvertedNetwork, synapse: str, what: str, net_file: Path, out: Path):
    """The `nml:` file name of a chemical synapse component (written once), or a refusal
    naming `what` (the element that uses it)."""
    found = _list_of(result.document, synapse)
    if found is None or found[1] not in ("expOneSynapse", "expTwoSynapse", "alphaSynapse"):
        kind = found[1] if found else "an unknown component"
        raise ConfigError(
            f"{what} synapse '{synapse}' is {kind}, not a"
            " supported synapse (expOneSynapse, expTwoSynapse, alphaSynapse)",
            file=net_file,
        )
    syn_path = out / "synapses" / f"{synapse}.synapse.nml"
    if not syn_path.exists():
        _write_component(found[2], found[0], result.document, syn_path)
    return syn_path.name


def afferent_location(
    target: ConvertedPopulation, segment: int, fraction: float, out: Path
) -> tuple[int, float]:
    """(afferent section id, position): section 0 at 0.5 of a point cell; a detailed cell's
    segment mapped to the section `build_sections` makes of it (the population's locator)."""
    if target.locate is None:
        return 0, 0.5
    return target.locate(segment, fraction)


def _locator(cell_path: Path, out: Path, result: ConvertedNetwork):
    """Read back the written cell (refusing what the engine cannot run, before any run)
    and give its segment -> section mapping; biophysical nodes need a morphologies_dir
    in libsonata's eyes, though these cells bring their own morphology."""
    from engine.dialects.neuroml.document import load_cell
    from engine.dialects.neuroml.morphology import segment_locator

    cell = load_cell(cell_path)
    if not cell.has_morphology:
        raise ConfigError(f"cell {cell.id} has no <morphology>", file=cell_path)
    morphologies = out / "morphologies"
    morphologies.mkdir(parents=True, exist_ok=True)
    result.components["morphologies_dir"] = morphologies
    return segment_locator(cell)


def _sections(
    connections: list, locate, side: str, proj: Any, net_file: Path
) -> tuple[np.ndarray, np.ndarray]:
    """SONATA section ids and positions of one side of the connections (soma centre for
    point cells and spike sources)."""
    n = len(connections)
    ids, positions = np.zeros(n, np.int64), np.full(n, 0.5)
    if locate is not None:
        for k, c in enumerate(connections):
            segment = int(getattr(c, f"get_{side}_segment_id")())
            fraction = float(getattr(c, f"get_{side}_fraction_along")())
            try:
                ids[k], positions[k] = locate(segment, fraction)
            except CircuitError as exc:
                kind = "projection" if hasattr(proj, "synapse") else "electricalProjection"
                raise ConfigError(
                    f'<{kind} id="{proj.id}"> connection {c.id}: {exc.plain_message}',
                    file=net_file,
                ) from None
    return ids, positions


def _edge_arrays(connections: list, pre: ConvertedPopulation, post: ConvertedPopulation) -> dict:
    n = len(connections)
    src, tgt = np.zeros(n, np.uint64), np.zeros(n, np.uint64)
    columns = {
        name: np.zeros(n, np.int64 if "segment" in name else np.float64)
        for name in EDGE_NML_ATTRIBUTES
    }
    for k, c in enumerate(connections):
        src[k] = pre.index[int(c.get_pre_cell_id())]
        tgt[k] = post.index[int(c.get_post_cell_id())]
        columns["neuroml_pre_segment_id"][k] = int(c.get_pre_segment_id())
        columns["neuroml_pre_fraction_along"][k] = float(c.get_pre_fraction_along())
        columns["neuroml_post_segment_id"][k] = int(c.get_post_segment_id())
        columns["neuroml_post_fraction_along"][k] = float(c.get_post_fraction_along())
    return {"src": src, "tgt": tgt, **columns}


def _write_edges(
    result, edges_file: Path, name: str, kind: str, pre, post, arrays, attributes
) -> None:
    """One edge population (sorted by target, with libsonata's indices)."""
    sonata_writer.write_edges(
        edges_file,
        name,
        pre.name,
        post.name,
        arrays["src"],
        arrays["tgt"],
        attributes,
        n_source_nodes=len(pre.index),
        n_target_nodes=len(post.index),
    )
    result.edges.append((name, kind))


def _convert_projections(
    result: ConvertedNetwork, net_file: Path, out: Path, detectors: SpikeDetectors
) -> None:
    edges_file = out / "edges.h5"
    for proj in result.network.projections:
        connections = [*proj.connections, *proj.connection_wds]
        if not connections:
            continue
        what = f'<projection id="{proj.id}">'
        syn_name = synapse_file(result, proj.synapse, what, net_file, out)
        pre = result.populations[proj.presynaptic_population]
        post = result.populations[proj.postsynaptic_population]
        arrays = _edge_arrays(connections, pre, post)
        n = len(connections)
        weights = np.array([float(getattr(c, "weight", None) or 1.0) for c in connections])
        delays = np.array(
            [
                float(c.get_delay_in_ms()) if hasattr(c, "get_delay_in_ms") else 0.0
                for c in connections
            ]
        )
        post_ids, post_pos = _sections(connections, post.locate, "post", proj, net_file)
        attributes = {
            "syn_weight": weights,
            "delay": delays,
            "model_template": np.full(n, f"nml:{syn_name}", dtype=object),
            "afferent_section_id": post_ids,
            "afferent_section_pos": post_pos,
            **{k: arrays[k] for k in EDGE_NML_ATTRIBUTES},
        }
        if pre.locate is not None:  # where jNeuroML's export watches the pre cell
            pre_ids, pre_pos = _sections(connections, pre.locate, "pre", proj, net_file)
            pre_cells = [int(c.get_pre_cell_id()) for c in connections]
            found = detectors.indices(proj.presynaptic_population, pre_cells, pre_ids, pre_pos)
            if found.any():
                attributes[DETECTOR] = found
        _write_edges(result, edges_file, proj.id, "chemical", pre, post, arrays, attributes)
        if pre.type == "virtual":
            result.virtual_targets.add(post.name)
    for proj in result.network.electrical_projections:
        _convert_electrical(result, proj, net_file, edges_file)


def _convert_electrical(
    result: ConvertedNetwork, proj: Any, net_file: Path, edges_file: Path
) -> None:
    from engine.dialects.neuroml import units

    connections = [
        *proj.electrical_connections,
        *proj.electrical_connection_instances,
        *proj.electrical_connection_instance_ws,
    ]
    if not connections:
        return
    synapses = {c.synapse for c in connections}
    if len(synapses) != 1:
        raise ConfigError(
            f'<electricalProjection id="{proj.id}"> mixes synapses {sorted(synapses)}',
            file=net_file,
        )
    found = _list_of(result.document, synapses.pop())
    if found is None or found[1] != "gapJunction":
        raise ConfigError(
            f'<electricalProjection id="{proj.id}">: only gapJunction is supported', file=net_file
        )
    g_ns = (
        units.parse(found[2].conductance, "conductance", where=f"gapJunction id={found[2].id}")
        * 1e3
    )
    pre = result.populations[proj.presynaptic_population]
    post = result.populations[proj.postsynaptic_population]
    # each edge is one whole junction: its source side at the pre segment (efferent),
    # its target side at the post segment (afferent), as the engine's gap junctions read
    post_ids, post_pos = _sections(connections, post.locate, "post", proj, net_file)
    pre_ids, pre_pos = _sections(connections, pre.locate, "pre", proj, net_file)
    arrays = _edge_arrays(connections, pre, post)
    n = len(connections)
    weights = np.array([float(getattr(c, "weight", None) or 1.0) for c in connections])
    attributes = {
        "conductance": g_ns * weights,
        "syn_weight": weights,
        "afferent_section_id": post_ids,
        "afferent_section_pos": post_pos,
        "efferent_section_id": pre_ids,
        "efferent_section_pos": pre_pos,
        "model_template": np.full(n, f"neuroml:{found[2].id}", dtype=object),
        **{k: arrays[k] for k in EDGE_NML_ATTRIBUTES},
    }
    _write_edges(result, edges_file, proj.id, "electrical", pre, post, arrays, attributes)
