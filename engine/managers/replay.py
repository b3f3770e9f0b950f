"""synapse_replay inputs: spikes from a SONATA spike file delivered onto existing synapses.

Each rank creates one event source per replayed source node that has synapses on its own
cells, and one NetCon per such synapse, with the edge's delay and weight. Spike times are
the file's, so what a synapse receives never depends on the rank count.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError, UserError
from engine.io.spike_file import read_spike_file
from engine.managers.synapses.base import NETCON_REPLAY

log = logging.getLogger("sonatasim")

VECSTIM = "SonataVecStim"


class ReplayManager:
    def __init__(self, sim: Any, circuit: Any):
        self.sim = sim
        self.circuit = circuit
        self.sources: list[Any] = []
        self.vectors: list[Any] = []
        self.netcons: list[Any] = []
        self.replayed_events = 0

    def add_input(self, name: str, block: Any) -> None:
        spikes = self._read_spikes(name, Path(block.spike_file))
        target = self.circuit.targets.target(block.node_set, key=f"inputs.{name}.node_set")
        delay = float(block.delay)
        sources = {e.source for e in self.circuit.setup.edge_populations.values()}
        if not sources & set(spikes) and self.sim.is_root:
            log.warning(
                "input %s: no edge population starts at the spike file's populations (%s);"
                " nothing is replayed",
                name,
                ", ".join(sorted(spikes)) or "none",
            )
        managers = self.circuit.edge_managers + self.circuit.neuromodulation_managers
        for manager in managers:
            source_pop = manager.source.name
            if source_pop not in spikes or manager.local is None or not len(manager.local):
                continue
            node_ids, times = spikes[source_pop]
            keep = times >= delay  # earlier spikes are dropped, as in neurodamus
            self._connect(manager, target, node_ids[keep], times[keep])

    def _read_spikes(self, name: str, spike_file: Path) -> dict:
        """The spike file's trains; a problem with it names the config and the block."""
        try:
            if spike_file.suffix != ".h5":  # libsonata refuses this first, when parsing
                raise UserError("replay spike_file must be a SONATA .h5 file")
            spikes = read_spike_file(spike_file)
            sizes = {name: m.size for name, m in self.circuit.node_managers.items()}
            problems = spike_train_problems(spikes, sizes)
            if problems:
                raise UserError(problems[0])
            return spikes
        except UserError as exc:
            inner = f" at '{exc.key}'" if exc.key else ""
            raise ConfigError(
                f"input '{name}' (synapse_replay): spike file {spike_file}{inner}:"
                f" {exc.plain_message}",
                file=self.circuit.setup.config_path,
                key=f"inputs.{name}.spike_file",
            ) from exc

    def _connect(self, manager: Any, target: Any, node_ids: np.ndarray, times: np.ndarray) -> None:
        h = self.sim.h
        local = manager.local
        in_target = target.contains(manager.target.name, local.target_ids)
        wanted = np.flatnonzero(in_target)
        if wanted.size == 0 or node_ids.size == 0:
            return
        order = np.lexsort((times, node_ids))
        node_ids, times = node_ids[order], times[order]
        unique, starts = np.unique(node_ids, return_index=True)
        ends = np.append(starts[1:], node_ids.size)
        spans = {int(u): (s, e) for u, s, e in zip(unique, starts, ends, strict=True)}
        sources: dict[int, Any] = {}
        simple = manager.plain_weights
        source_ids, delays = local.source_ids.tolist(), np.asarray(local.delays, float).tolist()
        weights = np.asarray(local.weights, float).tolist() if simple else None
        for i in wanted.tolist():
            src = source_ids[i]
            if src not in spans or local.targets[i] is None:
                continue  # no spikes, or a synapse on a section the template removed
            stim = sources.get(src)
            if stim is None:
                start, end = spans[src]
                vec = h.Vector(np.sort(times[start:end]))
                stim = getattr(h, VECSTIM)()
                stim.play(vec)
                sources[src] = stim
                self.vectors.append(vec)
                self.sources.append(stim)
                self.replayed_events += int(end - start)
            if simple:  # threshold (unused for an artificial source), delay, weight at once
                nc = h.NetCon(stim, local.targets[i], 10.0, delays[i], weights[i])
            else:
                nc = h.NetCon(stim, local.targets[i])
                nc.delay = delays[i]
                manager.configure_netcon(nc, i, NETCON_REPLAY)
            self.netcons.append(nc)


def spike_train_problems(spikes: dict, population_sizes: dict[str, int]) -> list[str]:
    """What makes replayed spikes meaningless: times that are not finite numbers, node ids
    past the end of their population (neither neurodamus nor bmtk can deliver those)."""
    problems = []
    for population, (node_ids, times) in sorted(spikes.items()):
        bad_times = ~np.isfinite(np.asarray(times, dtype=float))
        if bad_times.any():
            first = int(np.flatnonzero(bad_times)[0])
            problems.append(
                f"population '{population}': {int(bad_times.sum())} timestamp(s) are not finite"
                f" numbers (the first, entry {first}, is {times[first]})"
            )
        size = population_sizes.get(population)
        if size is not None and len(node_ids) and int(np.max(node_ids)) >= size:
            beyond = np.asarray(node_ids)[np.asarray(node_ids) >= size]
            problems.append(
                f"population '{population}': node id {int(beyond.min())} does not exist (the"
                f" population has {size} nodes, ids 0..{size - 1}; {beyond.size} spike(s) so)"
            )
    return problems
