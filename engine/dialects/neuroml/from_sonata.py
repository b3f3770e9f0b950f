"""`sonatasim convert simulation_config.json --to neuroml`: a NeuroML2 network plus a
LEMS_<name>.xml that jNeuroML/pyNeuroML run.

What maps: `nml:` cells (their files are copied and included as they are), virtual
populations as spikeArray populations (from the replayed spike file), chemical edges with
`nml:` synapses as projections of connectionWD (weight, delay, pre/post segment and
fractionAlong), electrical edges as electricalProjections with a gapJunction, `linear`
constant current inputs as pulseGenerators (ramps as rampGenerators), `sinusoidal` as
sineGenerators, soma
reports of v as OutputFile columns (compartment_set reports at segment centres as segment
columns) and the spikes as an EventOutputFile. What NeuroML
cannot express (a hoc template's code, a synapse that is not a NeuroML file, another
input module) is refused with one line per kind, never dropped.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from engine.dialects.neuroml.lems import LemsSimulation, write_lems
from engine.errors import ConfigError

SONATA_NAME = "sonata_population"  # population <property>: the SONATA name it came from


def nml_id(name: str) -> str:
    """A NeuroML id ([a-zA-Z_][a-zA-Z0-9_]*) for a SONATA name."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    return text if re.match(r"[A-Za-z_]", text) else f"_{text}"


class _Problems:
    """Everything NeuroML cannot express, one line per kind."""

    def __init__(self):
        self.kinds: dict[str, list[str]] = defaultdict(list)

    def add(self, kind: str, what: str) -> None:
        self.kinds[kind].append(what)

    def raise_if_any(self, config: Path) -> None:
        if self.kinds:
            lines = [
                f"{kind}: {', '.join(sorted(set(w)))}" for kind, w in sorted(self.kinds.items())
            ]
            raise ConfigError("NeuroML cannot express: " + "; ".join(lines), file=config)


def _attributes(storage: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    import libsonata

    everything = libsonata.Selection([(0, storage.size)])
    present = storage.attribute_names
    return {n: np.asarray(storage.get_attribute(n, everything)) for n in names if n in present}


def convert_config(config: Path, out: Path, setup: Any) -> Path:
    """Write `out/<name>.net.nml` and `out/LEMS_<name>.xml`; returns the LEMS file.

    `setup` is `engine.config.load_setup(config)`, read by the caller (the dialect does not
    import the core)."""
    import libsonata
    import neuroml
    import neuroml.writers

    from engine.io.spike_file import read_spike_file

    config = Path(config).resolve()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sim = setup.libsonata_config
    name = nml_id(config.parent.name or "network")
    doc = neuroml.NeuroMLDocument(id=name)
    net = neuroml.Network(
        id=f"{name}_network",
        type="networkWithTemperature",
        temperature=f"{setup.conditions.celsius}degC",
    )
    doc.networks.append(net)
    problems, included, components, cell_files = _Problems(), set(), {}, {}
    replayed = _replayed_spikes(sim, read_spike_file)
    storages = {}
    for pop_name, info in sorted(setup.node_populations.items()):
        storage = libsonata.NodeStorage(str(info.nodes_file)).open_population(pop_name)
        storages[pop_name] = storage
        attrs = _attributes(storage, ("model_template", "x", "y", "z"))
        pop_id = nml_id(pop_name)
        n = int(storage.size)
        if info.is_virtual:
            components[pop_name] = _spike_populations(
                doc, net, pop_name, n, replayed.get(pop_name, {}), attrs
            )
            continue
        templates = sorted({str(t) for t in attrs.get("model_template", np.array([""]))})
        if len(templates) != 1 or not templates[0].startswith("nml:"):
            problems.add(
                "cell templates that are not NeuroML files", f"{pop_name} ({', '.join(templates)})"
            )
            continue
        source = (
            Path(info.biophysical_neuron_models_dir or info.nodes_file.parent) / templates[0][4:]
        )
        cell_id = _include(doc, source, out, included, problems)
        cell_files[pop_name] = source
        pop = neuroml.Population(id=pop_id, component=cell_id, size=n, type="populationList")
        pop.properties.append(neuroml.Property(tag=SONATA_NAME, value=pop_name))
        xyz = [attrs.get(a, np.zeros(n)) for a in "xyz"]
        for i in range(n):
            location = neuroml.Location(x=float(xyz[0][i]), y=float(xyz[1][i]), z=float(xyz[2][i]))
            pop.instances.append(neuroml.Instance(id=i, location=location))
        net.populations.append(pop)
        components[pop_name] = [(pop, np.arange(n))]
    for edge_name, info in sorted(setup.edge_populations.items()):
        _projection(doc, net, edge_name, info, components, out, included, problems)
    inputs = _inputs(doc, net, sim, setup, components, cell_files, problems)
    outputs, events = _outputs(sim, setup, components, cell_files, problems)
    problems.raise_if_any(config)
    net_file = out / f"{name}.net.nml"
    neuroml.writers.NeuroMLWriter.write(doc, str(net_file))
    lems = out / f"LEMS_{name}.xml"
    write_lems(
        lems,
        LemsSimulation(
            f"{name}_simulation",
            net.id,
            setup.run.tstop,
            setup.run.dt,
            setup.run.random_seed,
            [*sorted(included), net_file.name],
            outputs,
            events,
        ),
    )
    del inputs
    return lems


def _include(doc: Any, source: Path, out: Path, included: set, problems: _Problems) -> str:
    """Copy a NeuroML file next to the network, include it; the id of its one component."""
    import neuroml

    from engine.dialects.neuroml.documents import (
        POINT_CELL_LISTS,
        SYNAPSE_LISTS,
        components,
        read_document,
    )

    if not source.is_file():
        problems.add("missing NeuroML files", str(source))
        return "missing"
    if source.name not in included:
        shutil.copyfile(source, out / source.name)
        doc.includes.append(neuroml.IncludeType(href=source.name))
        included.add(source.name)
    document = read_document(source)
    found = {**components(document, POINT_CELL_LISTS), **components(document, SYNAPSE_LISTS)}
    found.update({c.id: ("cell", c) for c in document.cells})
    if len(found) != 1:
        problems.add("NeuroML files without exactly one component", source.name)
        return "missing"
    return next(iter(found))


def _replayed_spikes(sim: Any, read_spike_file) -> dict[str, dict[int, np.ndarray]]:
    """population -> node id -> spike times, from the replay inputs of the config."""
    result: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
    for input_name in sim.list_input_names:
        block = sim.input(input_name)
        spike_file = getattr(block, "spike_file", "") or getattr(block, "input_file", "")
        if not spike_file:
            continue
        trains = read_spike_file(Path(spike_file))
        for population, (ids, times) in trains.items():
            ids, times = np.asarray(ids), np.asarray(times)
            for node in np.unique(ids):
                result[population][int(node)] = np.sort(times[ids == node])
    return result


def _spike_populations(doc, net, pop_name: str, n: int, trains: dict, attrs: dict) -> list:
    """spikeArray populations: one for the whole population when every node fires alike
    (as a NeuroML spike-source population does), else one per node."""
    import neuroml

    def spike_array(ident: str, times: np.ndarray):
        spikes = [neuroml.Spike(id=k, time=f"{float(t)!r}ms") for k, t in enumerate(times)]
        doc.spike_arrays.append(neuroml.SpikeArray(id=ident, spikes=spikes))

    trains_list = [trains.get(i, np.zeros(0)) for i in range(n)]
    same = all(np.array_equal(t, trains_list[0]) for t in trains_list)
    groups = (
        [(nml_id(pop_name), np.arange(n))]
        if same
        else [(nml_id(f"{pop_name}_{i}"), np.array([i])) for i in range(n)]
    )
    templates = {str(t) for t in attrs.get("model_template", [])}
    named = templates.pop()[8:] if len(templates) == 1 and same else ""  # "neuroml:<id>"
    xyz = [attrs.get(a, np.zeros(n)) for a in "xyz"]
    result = []
    for ident, ids in groups:
        component = nml_id(named) if named else f"{ident}_spikes"
        spike_array(component, trains_list[int(ids[0])] if n else np.zeros(0))
        pop = neuroml.Population(
            id=ident, component=component, size=len(ids), type="populationList"
        )
        pop.properties.append(neuroml.Property(tag=SONATA_NAME, value=pop_name))
        for i, node in enumerate(ids):
            location = neuroml.Location(
                x=float(xyz[0][node]), y=float(xyz[1][node]), z=float(xyz[2][node])
            )
            pop.instances.append(neuroml.Instance(id=i, location=location))
        net.populations.append(pop)
        result.append((pop, ids))
    return result


def _locate(components: dict, population: str, node_id: int) -> tuple[Any, int]:
    """(NeuroML population, instance index) of a SONATA node."""
    for pop, ids in components[population]:
        where = np.nonzero(ids == node_id)[0]
        if where.size:
            return pop, int(where[0])
    raise ConfigError(f"node {node_id} of population {population} has no NeuroML cell")


from engine.dialects.neuroml.from_sonata_edges import _inputs, _outputs, _projection  # noqa: E402
