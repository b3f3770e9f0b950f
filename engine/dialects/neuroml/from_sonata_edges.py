"""Edges, inputs and outputs of `convert --to neuroml` (see from_sonata)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

EDGE_ATTRIBUTES = (
    "syn_weight",
    "delay",
    "conductance",
    "model_template",
    "neuroml_pre_segment_id",
    "neuroml_pre_fraction_along",
    "neuroml_post_segment_id",
    "neuroml_post_fraction_along",
)


def _edges(info: Any) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    import libsonata

    storage = libsonata.EdgeStorage(str(info.edges_file)).open_population(info.name)
    everything = libsonata.Selection([(0, storage.size)])
    attrs = {
        n: np.asarray(storage.get_attribute(n, everything))
        for n in EDGE_ATTRIBUTES
        if n in storage.attribute_names
    }
    return (
        np.asarray(storage.source_nodes(everything)),
        np.asarray(storage.target_nodes(everything)),
        attrs,
    )


def _projection(doc, net, edge_name, info, components, out: Path, included: set, problems) -> None:
    import neuroml

    from engine.dialects.neuroml.from_sonata import _include, _locate, nml_id

    if info.source not in components or info.target not in components:
        return  # an end that NeuroML cannot express is already listed
    src, tgt, attrs = _edges(info)
    n = src.size
    if not n:
        return
    seg = {
        k: attrs.get(k, np.zeros(n) if "segment" in k else np.full(n, 0.5))
        for k in EDGE_ATTRIBUTES[4:]
    }
    if info.type == "electrical":
        g = attrs.get("conductance", attrs.get("syn_weight", np.zeros(n)) * 1e3)
        gmax, weights = _gap_weights(g, attrs.get("syn_weight") if "conductance" in attrs else None)
        # the gapJunction's own id when the edges name one (`neuroml:<id>`, as converted)
        names = sorted({str(t) for t in attrs.get("model_template", np.array([""]))})
        taken = {j.id for j in doc.gap_junctions}
        gap_id = nml_id(f"{edge_name}_gap")
        if len(names) == 1 and names[0].startswith("neuroml:") and names[0][8:] not in taken:
            gap_id = nml_id(names[0][8:])
        doc.gap_junctions.append(neuroml.GapJunction(id=gap_id, conductance=f"{gmax!r}nS"))
        proj = neuroml.ElectricalProjection(
            id=nml_id(edge_name),
            presynaptic_population=_pop_id(components, info.source),
            postsynaptic_population=_pop_id(components, info.target),
        )
        for k in range(n):
            pre, i = _locate(components, info.source, int(src[k]))
            post, j = _locate(components, info.target, int(tgt[k]))
            proj.electrical_connection_instance_ws.append(
                neuroml.ElectricalConnectionInstanceW(
                    id=k,
                    pre_cell=f"../{pre.id}/{i}/{pre.component}",
                    post_cell=f"../{post.id}/{j}/{post.component}",
                    pre_segment=int(seg["neuroml_pre_segment_id"][k]),
                    post_segment=int(seg["neuroml_post_segment_id"][k]),
                    pre_fraction_along=float(seg["neuroml_pre_fraction_along"][k]),
                    post_fraction_along=float(seg["neuroml_post_fraction_along"][k]),
                    synapse=gap_id,
                    weight=float(weights[k]),
                )
            )
        net.electrical_projections.append(proj)
        return
    templates = sorted({str(t) for t in attrs.get("model_template", np.array([""]))})
    if len(templates) != 1 or not templates[0].startswith("nml:"):
        problems.add("synapses that are not NeuroML files", f"{edge_name} ({', '.join(templates)})")
        return
    source = (
        Path(info.synaptic_models_dir or info.edges_file.parent)
        / templates[0][4:].partition("#")[0]
    )
    synapse = _include(doc, source, out, included, problems)
    weights = attrs.get("syn_weight", np.ones(n))
    delays = attrs.get("delay", np.zeros(n))
    projections: dict[tuple[str, str], Any] = {}
    for k in range(n):
        pre, i = _locate(components, info.source, int(src[k]))
        post, j = _locate(components, info.target, int(tgt[k]))
        key = (pre.id, post.id)
        if key not in projections:
            ident = (
                nml_id(edge_name) if not projections else nml_id(f"{edge_name}_{len(projections)}")
            )
            projections[key] = neuroml.Projection(
                id=ident,
                presynaptic_population=pre.id,
                postsynaptic_population=post.id,
                synapse=synapse,
            )
        proj = projections[key]
        proj.connection_wds.append(
            neuroml.ConnectionWD(
                id=len(proj.connection_wds),
                pre_cell_id=f"../{pre.id}/{i}/{pre.component}",
                post_cell_id=f"../{post.id}/{j}/{post.component}",
                pre_segment_id=int(seg["neuroml_pre_segment_id"][k]),
                post_segment_id=int(seg["neuroml_post_segment_id"][k]),
                pre_fraction_along=float(seg["neuroml_pre_fraction_along"][k]),
                post_fraction_along=float(seg["neuroml_post_fraction_along"][k]),
                weight=float(weights[k]),
                delay=f"{float(delays[k])!r}ms",
            )
        )
    net.projections.extend(projections.values())


def _gap_weights(g: np.ndarray, syn_weight: np.ndarray | None) -> tuple[float, np.ndarray]:
    """(gapJunction conductance nS, per-connection weights): the edges' syn_weight when
    conductance / syn_weight is one number (what `convert --to sonata` writes: the
    component's conductance times the weight), else the largest conductance and g / it."""
    if syn_weight is not None and np.all(syn_weight != 0):
        ratio = np.unique(g / syn_weight)
        if ratio.size == 1:
            return float(ratio[0]), np.asarray(syn_weight, np.float64)
    gmax = float(np.max(np.abs(g))) or 1.0
    return gmax, g / gmax


def _pop_id(components: dict, population: str) -> str:
    groups = components[population]
    if len(groups) != 1:
        raise ValueError(
            f"population {population} was split into {len(groups)} NeuroML populations"
        )
    return groups[0][0].id


def _node_ids(setup: Any, node_set: str) -> dict[str, np.ndarray]:
    import libsonata

    sets = (
        libsonata.NodeSets.from_file(str(setup.node_sets_files[-1]))
        if setup.node_sets_files
        else None
    )
    result = {}
    for population, info in setup.node_populations.items():
        storage = libsonata.NodeStorage(str(info.nodes_file)).open_population(population)
        try:
            selection = sets.materialize(node_set, storage)
        except Exception:  # the node set names nothing of this population
            continue
        ids = np.asarray(selection.flatten())
        if ids.size:
            result[population] = ids
    return result


def _inputs(doc, net, sim, setup, components, cell_files: dict, problems) -> int:
    import neuroml

    from engine.dialects.neuroml.from_sonata import _locate, nml_id

    count = 0
    for name in sim.list_input_names:
        block = sim.input(name)
        module = str(block.module).split(".")[-1].lower()
        if module == "synapse_replay":
            continue  # the virtual populations are spikeArrays (a current `replay` is refused)
        timing = {
            "id": nml_id(name),
            "delay": f"{block.delay!r}ms",
            "duration": f"{block.duration!r}ms",
        }
        if module == "linear" and float(block.amp_start) == float(block.amp_end):
            gen = neuroml.PulseGenerator(**timing, amplitude=f"{block.amp_start!r}nA")
            doc.pulse_generators.append(gen)
        elif module == "linear":
            ramp = {"start_amplitude": f"{block.amp_start!r}nA", "baseline_amplitude": "0nA"}
            gen = neuroml.RampGenerator(**timing, **ramp, finish_amplitude=f"{block.amp_end!r}nA")
            doc.ramp_generators.append(gen)
        elif module == "sinusoidal":
            period = f"{1000.0 / block.frequency!r}ms"
            amplitude = f"{block.amp_start!r}nA"
            gen = neuroml.SineGenerator(**timing, amplitude=amplitude, period=period, phase="0")
            doc.sine_generators.append(gen)
        else:
            problems.add("inputs without a NeuroML counterpart", f"{name} ({module})")
            continue
        for population, places in _input_places(
            block, sim, setup, components, cell_files, problems
        ):
            by_pop: dict[str, Any] = {}
            for node, segment in places:
                pop, i = _locate(components, population, node)
                if pop.id not in by_pop:
                    by_pop[pop.id] = neuroml.InputList(
                        id=nml_id(f"{name}_{pop.id}"), component=gen.id, populations=pop.id
                    )
                inputs = by_pop[pop.id]
                on_segment = (
                    {} if segment is None else {"segment_id": segment, "fraction_along": 0.5}
                )
                inputs.input.append(
                    neuroml.Input(
                        id=len(inputs.input),
                        target=f"../{pop.id}/{i}/{pop.component}",
                        destination="synapses",
                        **on_segment,
                    )
                )
            net.input_lists.extend(by_pop.values())
            count += len(by_pop)
    return count


def _input_places(block, sim, setup, components, cell_files: dict, problems) -> list:
    """[(population, [(node, segment or None for the cell's default place)])] of an input:
    its node set's cells, or its compartment set's entries at NeuroML segment centres."""
    if not block.compartment_set:
        return [
            (population, [(int(node), None) for node in ids])
            for population, ids in sorted(_node_ids(setup, block.node_set).items())
            if population in components
        ]
    where = _segments_of(
        sim, block.compartment_set, components, cell_files, problems, "compartment_set input"
    )
    if where is None:
        return []
    population, found, root = where
    return [(population, [(node, None if segment == root else segment) for node, segment in found])]


def _segments_of(sim, name: str, components, cell_files: dict, problems, what: str):
    """(population, [(node, segment or None, section, offset)], root segment) of the
    compartment set `name`: each entry at the centre of a NeuroML segment of an `nml:`
    cell (what `convert --to sonata` writes of a segment), the soma section's centre and
    section 0 of a point cell the root; None for a population NeuroML cannot express
    (already listed). Entries off a segment's centre are listed as problems of `what`."""
    import libsonata

    from engine.dialects.neuroml.document import load_cell
    from engine.dialects.neuroml.morphology import segment_at_centre

    compartments = libsonata.CompartmentSets.from_file(sim.compartment_sets_file)[name]
    population = compartments.population
    if population not in components or population not in cell_files:
        return None
    cell = load_cell(cell_files[population]) if cell_files[population].is_file() else None
    find = segment_at_centre(cell) if cell is not None and cell.has_morphology else None
    root = next((s.id for s in cell.segments if s.parent is None), 0) if find else 0
    found = []
    for entry in compartments.filtered_iter():
        section, offset = int(entry.section_id), float(entry.offset)
        segment = find(section, offset) if find else (root if section == 0 else None)
        if (section, offset) == (0, 0.5):
            segment = root  # the soma section's centre: the cell's v
        if segment is None:
            problems.add(
                f"{what} entries off a NeuroML segment's centre",
                f"{name} (node {entry.node_id}, section {section}, {offset})",
            )
        else:
            found.append((int(entry.node_id), segment))
    return population, found, root


def _segment_columns(sim, report, components, cell_files: dict, problems) -> list:
    """Columns of a compartment_set report of v: a segment's v, or the cell's v at the
    root segment (see `_segments_of`)."""
    from engine.dialects.neuroml.from_sonata import _locate

    where = _segments_of(
        sim, report.compartment_set, components, cell_files, problems,
        "compartment_set report",
    )  # fmt: skip
    if where is None:
        return []
    population, found, root = where
    columns = []
    for node, segment in found:
        pop, i = _locate(components, population, node)
        if segment == root:
            columns.append((f"{pop.id}_{i}", f"{pop.id}/{i}/{pop.component}/v"))
        else:
            columns.append((f"{pop.id}_{i}_{segment}", f"{pop.id}/{i}/{pop.component}/{segment}/v"))
    return columns


def _outputs(sim, setup, components, cell_files: dict, problems) -> tuple[list, list]:
    from engine.dialects.neuroml.from_sonata import _locate
    from engine.dialects.neuroml.lems import EventOutputFile, OutputFile

    outputs = []
    for name in sim.list_report_names:
        report = sim.report(name)
        if str(report.variable_name) != "v":
            problems.add("reports of variables other than v", name)
            continue
        if report.type.name == "compartment_set":
            columns = _segment_columns(sim, report, components, cell_files, problems)
            outputs.append(OutputFile(name, f"{name}.dat", columns))
            continue
        where = (report.type.name, report.sections.name, report.compartments.name)
        if where != ("compartment", "soma", "center"):
            problems.add("v reports other than the soma's or a compartment set's", name)
            continue
        columns = []
        for population, ids in sorted(_node_ids(setup, report.cells).items()):
            if population not in components:
                continue
            for node in ids:
                pop, i = _locate(components, population, int(node))
                columns.append((f"{pop.id}_{i}", f"{pop.id}/{i}/{pop.component}/v"))
        outputs.append(OutputFile(name, f"{name}.dat", columns))
    selections = []
    for population, groups in sorted(components.items()):
        if setup.node_populations[population].is_virtual:
            continue
        for pop, ids in groups:
            selections += [
                (str(len(selections)), f"{pop.id}/{i}/{pop.component}", "spike")
                for i in range(ids.size)
            ]
    return outputs, [EventOutputFile("spikes", "spikes.dat", "ID_TIME", selections)]
