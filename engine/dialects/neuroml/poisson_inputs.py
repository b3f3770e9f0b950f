"""NeuroML Poisson-synapse inputs (`poissonFiringSynapse`, `transientPoissonFiringSynapse`,
in an `inputList` or an `explicitInput`) as SONATA virtual spike sources: one virtual node
per input, its train in `input_spikes.h5`, and one edge onto the input's target cell at
its segment and fractionAlong, weight 1 (or the input's weight), delay 0, with the input's
`synapse` component as the synapse model.

Why: SONATA has no Poisson-synapse input, but a replayed spike source through an edge is
the same process. The draws are ours (numpy, keyed by the seed, the input list and the
input id, never rank or order), so they differ from jNeuroML's: same statistics, other
numbers. The transient kind fires only within [delay, delay + duration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.dialects.neuroml import units
from engine.dialects.neuroml.spike_trains import poisson_train
from engine.dialects.neuroml.to_sonata import (
    EDGE_NML_ATTRIBUTES,
    ConvertedNetwork,
    ConvertedPopulation,
    _write_edges,
    afferent_location,
    synapse_file,
)
from engine.errors import ConfigError
from engine.io import sonata_writer

POISSON_ELEMENTS = {
    "poisson_firing_synapses": "poissonFiringSynapse",
    "transient_poisson_firing_synapses": "transientPoissonFiringSynapse",
}


def _groups(network: Any, sources: dict) -> list[tuple[str, str, str, list[tuple]]]:
    """(name, component, population, [(input id, cell, segment, fraction, weight)])."""
    groups = []
    for input_list in network.input_lists:
        if input_list.component not in sources:
            continue
        rows = [
            (
                int(item.id),
                int(item.get_target_cell_id()),
                int(item.get_segment_id()),
                float(item.get_fraction_along()),
                float(item.get_weight()) if hasattr(item, "get_weight") else 1.0,
            )
            for item in [*input_list.input, *input_list.input_ws]
        ]
        groups.append((input_list.id, input_list.component, input_list.populations, sorted(rows)))
    for k, item in enumerate(getattr(network, "explicit_inputs", None) or []):
        if item.input in sources:
            row = (0, int(item.get_target_cell_id()), 0, 0.5, 1.0)  # no segment: the soma
            groups.append((f"explicitInput{k}", item.input, item.get_target_population(), [row]))
    return groups


def _window(element: str, source: Any, length: float) -> tuple[float, float]:
    if element == "poissonFiringSynapse":
        return 0.0, length
    where = f"{element} id={source.id}"
    delay = units.parse(source.delay, "time", where=f"{where} delay")
    duration = units.parse(source.duration, "time", where=f"{where} duration")
    return delay, min(delay + duration, length)


def convert_poisson_inputs(
    converted: ConvertedNetwork, net_file: Path, out: Path, length: float, seed: int
) -> set[str]:
    """Add the virtual populations, spike trains and edges; returns the converted
    inputList ids (the other inputs are current inputs)."""
    sources = {
        str(item.id): (element, item)
        for attribute, element in POISSON_ELEMENTS.items()
        for item in getattr(converted.document, attribute, None) or []
    }
    taken = {p.name for p in converted.populations.values()}
    handled = set()
    for name, component, population, rows in _groups(converted.network, sources):
        what = f'<inputList id="{name}">' if not name.startswith("explicit") else "<explicitInput>"
        if population not in converted.populations:
            raise ConfigError(f"{what} targets unknown population '{population}'", file=net_file)
        if name in taken:
            raise ConfigError(f"{what}: a population is already named '{name}'", file=net_file)
        target = converted.populations[population]
        element, source = sources[component]
        where = f"{element} id={source.id}"
        rate = units.parse(source.average_rate, "per_time", where=f"{where} averageRate")
        start, stop = _window(element, source, length)
        syn_name = synapse_file(
            converted, source.synapse, f'<{element} id="{source.id}">', net_file, out
        )
        n = len(rows)
        trains = [poisson_train(rate, start, stop, seed, name, row[0]) for row in rows]
        converted.spikes[name] = (
            np.concatenate([np.full(len(t), i, np.uint64) for i, t in enumerate(trains)]),
            np.concatenate(trains),
        )
        sonata_writer.write_nodes(
            out / "nodes.h5",
            name,
            {
                "model_type": np.full(n, "virtual", dtype=object),
                "model_template": np.full(n, f"neuroml:{component}", dtype=object),
            },
        )
        pre = ConvertedPopulation(
            name, "virtual", component, element, {r[0]: i for i, r in enumerate(rows)}
        )
        try:
            targets = np.array([target.index[r[1]] for r in rows], np.uint64)
        except KeyError as exc:
            raise ConfigError(
                f"{what} targets cell {exc} not in '{population}'", file=net_file
            ) from None
        places = [afferent_location(target, r[2], r[3], out) for r in rows]
        attributes = {
            "syn_weight": np.array([r[4] for r in rows]),
            "delay": np.zeros(n),
            "model_template": np.full(n, f"nml:{syn_name}", dtype=object),
            "afferent_section_id": np.array([p[0] for p in places], np.int64),
            "afferent_section_pos": np.array([p[1] for p in places]),
        }
        columns = dict(
            zip(
                EDGE_NML_ATTRIBUTES,
                ([0] * n, [0.5] * n, [r[2] for r in rows], [r[3] for r in rows]),
                strict=True,
            )
        )
        for key, values in columns.items():
            attributes[key] = np.array(values, np.int64 if "segment" in key else np.float64)
        arrays = {"src": np.arange(n, dtype=np.uint64), "tgt": targets}
        _write_edges(
            converted,
            out / "edges.h5",
            f"{name}_synapses",
            "chemical",
            pre,
            target,
            arrays,
            attributes,
        )
        converted.populations[name] = pre
        converted.node_sets[name] = {"population": name}
        converted.virtual_targets.add(target.name)
        taken.add(name)
        handled.add(name)
    return handled
