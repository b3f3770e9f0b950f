"""The simulation half of `convert --to sonata`: LEMS Simulation -> simulation_config.json
(run length and step, network temperature -> celsius, inputLists as SONATA inputs, spike
sources as virtual populations replayed from a spike file, OutputFile columns as
soma or compartment_set reports, EventOutputFile as the spike output).

Why per kind: each NeuroML input maps onto SONATA inputs with the same waveform
(`current_inputs`: pulse/sine/ramp generators; `poisson_inputs`: Poisson synapses as
replayed spike sources); anything else is refused with the file, the element and its id.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.dialects.neuroml import current_inputs, units
from engine.dialects.neuroml.lems import LemsSimulation, parse_cell_path, read_lems
from engine.dialects.neuroml.poisson_inputs import convert_poisson_inputs
from engine.dialects.neuroml.spike_trains import spike_sources
from engine.dialects.neuroml.to_sonata import (
    SPIKE_SOURCE_LISTS,
    ConvertedNetwork,
    ConvertedPopulation,
    afferent_location,
    convert_network,
)
from engine.errors import CircuitError, ConfigError
from engine.io import sonata_writer

DEFAULT_CELSIUS = 6.3  # NEURON's default, and jNeuroML's for networks without temperature


def _is_lems(model: Path) -> bool:
    return model.suffix == ".xml" and not model.name.endswith(".nml")


def convert_model(model: Path, out: Path) -> Path:
    """Convert a .net.nml or LEMS_*.xml into `out`; returns the simulation config path."""
    model = Path(model).resolve()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    lems: LemsSimulation | None = read_lems(model) if _is_lems(model) else None
    if lems is not None:
        nml = [i for i in lems.includes if i.endswith(".nml")]
        if not nml:
            raise ConfigError("includes no NeuroML file", file=model, key="Include")
        net_file = (model.parent / nml[-1]).resolve()
        target = lems.target
    else:
        net_file, target = model, None
    length = lems.length_ms if lems else 1000.0
    seed = lems.seed if lems and lems.seed is not None else 1
    converted = convert_network(net_file, out, target, spike_sources(length, seed, net_file))
    poisson = convert_poisson_inputs(converted, net_file, out, length, seed)
    if converted.spikes:
        from engine.io.spike_file import write_spike_file

        write_spike_file(out / "input_spikes.h5", converted.spikes)
    step = lems.step_ms if lems else 0.025
    compartment_sets: dict = {}
    inputs, node_sets = _inputs(converted, net_file, out, (length, step), poisson, compartment_sets)
    node_sets.update(converted.node_sets)
    reports = _reports(converted, lems, model, node_sets, compartment_sets) if lems else {}
    if compartment_sets:
        sonata_writer.write_json(out / "compartment_sets.json", compartment_sets)
    _write_configs(converted, out, lems, seed, inputs, reports, node_sets)
    return out / "simulation_config.json"


def _inputs(
    converted: ConvertedNetwork,
    net_file: Path,
    out: Path,
    run: tuple[float, float],
    poisson: set[str],
    compartment_sets: dict,
) -> tuple[dict, dict]:
    """Current inputs per input list and weight (Poisson-synapse lists, `poisson`, are
    spike sources); `run` is (length, step) in ms. Inputs on segments off the soma centre
    get a compartment set (added to `compartment_sets`) instead of a node set."""
    inputs, node_sets = {}, {}
    length = run[0]
    generators = current_inputs.generators(converted.document)
    for input_list in converted.network.input_lists:
        if input_list.id in poisson:
            continue
        _refuse_spike_source(
            converted, f'<inputList id="{input_list.id}">', input_list.component, net_file
        )
        if input_list.component not in generators:
            raise ConfigError(
                f"<inputList id=\"{input_list.id}\"> component '{input_list.component}' is not a"
                f" {current_inputs.SUPPORTED}, poissonFiringSynapse or"
                " transientPoissonFiringSynapse",
                file=net_file,
            )
        element, gen = generators[input_list.component]
        population = converted.populations[input_list.populations]
        by_weight = _placed_by_weight(input_list, population, out, net_file)
        for k, (weight, entries) in enumerate(sorted(by_weight.items())):
            name = input_list.id if len(by_weight) == 1 else f"{input_list.id}__w{k}"
            ids = sorted({node for node, _, _ in entries})
            somatic = all((section, pos) == (0, 0.5) for _, section, pos in entries)
            if somatic:
                node_sets[name] = {"population": population.name, "node_id": ids}
            else:  # the segments jNeuroML's export injects into
                compartment_sets[name] = {
                    "population": population.name,
                    "compartment_set": [list(e) for e in sorted(entries)],
                }
            target = current_inputs.Target(
                name, population.name, ids, weight, out, *run, compartment_set=not somatic
            )
            inputs.update(current_inputs.input_blocks(element, gen, target))
    for k, item in enumerate(getattr(converted.network, "explicit_inputs", None) or []):
        name = f"explicitInput{k}"
        if name in poisson:
            continue
        _refuse_spike_source(
            converted, f'<explicitInput target="{item.target}">', item.input, net_file
        )
        if item.input not in generators:
            raise ConfigError(
                f"<explicitInput target=\"{item.target}\"> input '{item.input}' is not a"
                f" {current_inputs.SUPPORTED}, poissonFiringSynapse or"
                " transientPoissonFiringSynapse",
                file=net_file,
            )
        population = converted.populations.get(item.get_target_population())
        if population is None or int(item.get_target_cell_id()) not in population.index:
            raise ConfigError(
                f'<explicitInput target="{item.target}"> targets no cell of the network',
                file=net_file,
            )
        node = population.index[int(item.get_target_cell_id())]
        node_sets[name] = {"population": population.name, "node_id": [node]}
        element, gen = generators[item.input]
        target = current_inputs.Target(name, population.name, [node], 1.0, out, *run)
        inputs.update(current_inputs.input_blocks(element, gen, target))
    if converted.virtual_targets:
        name = "neuroml_spike_source_targets"
        node_sets[name] = sorted(converted.virtual_targets)
        inputs["neuroml_spike_sources"] = {
            "input_type": "spikes",
            "module": "synapse_replay",
            "delay": 0.0,
            "duration": length,
            "node_set": name,
            "spike_file": "input_spikes.h5",
        }
    return inputs, node_sets


def _placed_by_weight(
    input_list: Any, population: ConvertedPopulation, out: Path, net_file: Path
) -> dict[float, list[tuple[int, int, float]]]:
    """weight -> [(node, section, position)] of an input list's inputs, at the section and
    position our `nml:` builder makes of each input's segment and fractionAlong (soma
    centre of a point cell: segment 0 only). Inputs of one list at the same place add up:
    their weights are summed, as the currents are."""
    placed: dict[tuple[int, int, float], float] = defaultdict(float)
    for item in [*input_list.input, *input_list.input_ws]:
        weight = float(item.get_weight()) if hasattr(item, "get_weight") else 1.0
        node = population.index[int(item.get_target_cell_id())]
        segment, fraction = int(item.get_segment_id()), float(item.get_fraction_along())
        if population.locate is None and segment != 0:
            raise ConfigError(
                f'<inputList id="{input_list.id}"> input {item.id}: segment {segment} of a'
                " point cell (it has segment 0 only)",
                file=net_file,
            )
        try:
            section, pos = afferent_location(population, segment, fraction, out)
        except CircuitError as exc:
            raise ConfigError(
                f'<inputList id="{input_list.id}"> input {item.id}: {exc.plain_message}',
                file=net_file,
            ) from None
        placed[(node, int(section), float(pos))] += weight
    by_weight: dict[float, list[tuple[int, int, float]]] = defaultdict(list)
    for entry, weight in placed.items():
        by_weight[weight].append(entry)
    return by_weight


def _refuse_spike_source(converted: ConvertedNetwork, what: str, component: str, net_file: Path):
    """NeuroML's inputList / explicitInput take a basePointCurrent; a spike generator feeds
    cells through a population and a projection."""
    for attribute, element in SPIKE_SOURCE_LISTS.items():
        if any(g.id == component for g in getattr(converted.document, attribute, None) or []):
            raise ConfigError(
                f"{what} component '{component}' is a {element}, a spike source: an inputList"
                " takes a current (basePointCurrent); give the generator a population and a"
                " projection",
                file=net_file,
            )


def _column_location(converted: ConvertedNetwork, model: Path, column: tuple[str, str]):
    """(population id, node id, (section id, position)) of an OutputColumn of v:
    "pop/0/cell/v" is the soma section's centre (as jNeuroML's NEURON export records it,
    and the soma report the point cells get), "pop/0/cell/3/v" the centre of segment 3."""
    column_id, quantity = column
    population, index, rest = parse_cell_path(quantity)
    parts = rest.split("/")
    pop = converted.populations.get(population)
    segment = parts[0] if len(parts) == 2 else "0"
    if pop is None or pop.type == "virtual" or parts[-1] != "v" or len(parts) > 2:
        raise ConfigError(
            f"<OutputColumn id=\"{column_id}\"> quantity '{quantity}': only the membrane"
            " potential v of a network cell (its soma or one of its segments) is converted"
            " to a report",
            file=model,
        )
    if index not in pop.index or not segment.isdigit():
        raise ConfigError(
            f"<OutputColumn id=\"{column_id}\"> quantity '{quantity}' names no cell or"
            f" segment of population {population}",
            file=model,
        )
    if pop.locate is None and int(segment) != 0:
        raise ConfigError(
            f"<OutputColumn id=\"{column_id}\"> quantity '{quantity}': {pop.component}"
            " is a point cell, it has segment 0 only",
            file=model,
        )
    if pop.locate is None or len(parts) == 1:
        return population, pop.index[index], (0, 0.5)
    try:
        return population, pop.index[index], pop.locate(int(segment), 0.5)
    except CircuitError as exc:
        raise ConfigError(
            f"<OutputColumn id=\"{column_id}\"> quantity '{quantity}': {exc.plain_message}",
            file=model,
        ) from None


def _reports(
    converted: ConvertedNetwork,
    lems: LemsSimulation,
    model: Path,
    node_sets: dict,
    compartment_sets: dict,
) -> dict:
    """OutputFiles of v as compartment reports, one per output and population: of the
    soma when every column is a soma, else a compartment_set report of exactly the
    columns' locations (entries in `compartment_sets`)."""
    reports = {}
    timing = {"unit": "mV", "dt": lems.step_ms, "start_time": 0.0, "end_time": lems.length_ms}
    for output in lems.outputs:
        cells: dict[str, dict[int, set]] = defaultdict(lambda: defaultdict(set))
        for column in output.columns:
            population, node, location = _column_location(converted, model, column)
            cells[population][node].add(location)
        for population, by_node in sorted(cells.items()):
            name = output.id if len(cells) == 1 else f"{output.id}__{population}"
            sonata_name = converted.populations[population].name
            somatic = all(loc == (0, 0.5) for locs in by_node.values() for loc in locs)
            if somatic:
                node_sets[f"report_{name}"] = {
                    "population": sonata_name,
                    "node_id": sorted(by_node),
                }
                reports[name] = {"cells": f"report_{name}", "type": "compartment",
                                 "variable_name": "v", "sections": "soma", **timing}  # fmt: skip
                continue
            entries = sorted(
                [node, section, position]
                for node, locations in by_node.items()
                for section, position in locations
            )
            compartment_sets[name] = {"population": sonata_name, "compartment_set": entries}
            reports[name] = {"type": "compartment_set", "compartment_set": name,
                             "variable_name": "v", **timing}  # fmt: skip
    return reports


def _write_configs(
    converted, out: Path, lems, seed: int, inputs: dict, reports: dict, node_sets: dict
) -> None:
    network = converted.network
    temperature = getattr(network, "temperature", None)
    celsius = units.temperature_celsius(temperature) if temperature else DEFAULT_CELSIUS
    sonata_writer.write_node_sets(out / "node_sets.json", node_sets)
    types = {p.name: {"type": p.type} for p in converted.populations.values()}
    edges = [
        {
            "edges_file": out / "edges.h5",
            "populations": {n: {"type": t} for n, t in converted.edges},
        }
    ]
    sonata_writer.write_circuit_config(
        out / "circuit_config.json",
        nodes=[{"nodes_file": out / "nodes.h5", "populations": types}],
        edges=edges if converted.edges else [],
        components={
            "biophysical_neuron_models_dir": out / "cells",
            "synaptic_models_dir": out / "synapses",
            **converted.components,
        },
        node_sets_file=out / "node_sets.json",
    )
    run = {
        "tstop": lems.length_ms if lems else 1000.0,
        "dt": lems.step_ms if lems else 0.025,
        "random_seed": seed,
    }
    sonata_writer.write_simulation_config(
        out / "simulation_config.json",
        network=out / "circuit_config.json",
        run=run,
        output={
            "output_dir": out / "output",
            "spikes_file": "spikes.h5",
            "spikes_sort_order": "by_time",
        },
        conditions={"celsius": celsius, "v_init": -65.0},
        inputs=inputs or None,
        reports=reports or None,
        node_sets_file=out / "node_sets.json",
        extra={"compartment_sets_file": out / "compartment_sets.json"}
        if (out / "compartment_sets.json").exists()
        else None,
    )
    if not (out / "synapses").exists():
        (out / "synapses").mkdir()
    shutil.rmtree(out / "output", ignore_errors=True)
