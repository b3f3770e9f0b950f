"""poisson: independent Poisson spike trains from the nodes of `node_set`, delivered onto
those nodes' existing synapses (libsonata 0.2.2: `rate`, "Rate of the inputs", and
`weight`, "Weight per synapse"; modelled after Brian2's PoissonInput).

Every node of the node set (typically a virtual, projection population) becomes a spike
source firing at `rate` Hz during [delay, delay + duration). Its spikes reach every
synapse whose edge starts at that node, after the edge's delay, with NetCon weight
`weight` (uS for conductance synapses, the raw increment for artificial cells) in place of
the edge's own weight. Neurodamus has no such input, so the stream key is ours (see
random_streams): it depends on the block counter, stimulus_seed and the source's gid, so
a train is the same on every rank that needs it and whatever the rank count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.stimuli.base import Stimulus
from engine.stimuli.random_streams import POISSON_KEYS, keyed_stream
from engine.stimuli.registry import register

VECSTIM = "SonataVecStim"


def poisson_train(h: Any, rng: Any, rate: float, start: float, duration: float) -> np.ndarray:
    """Spike times in [start, start + duration): exponential intervals of mean 1000/rate ms."""
    chunk = 1 + int(duration * rate / 1000)
    chunk = int(chunk + 3 * math.sqrt(chunk))
    rng.negexp(1000.0 / rate)  # selects the distribution (and draws one number)
    intervals = np.zeros(0)
    while intervals.sum() < duration:
        more = h.Vector(chunk)
        more.setrand(rng)
        intervals = np.concatenate((intervals, np.array(more)))
    times = start + np.cumsum(intervals)
    return times[times < start + duration]


@register("poisson")
class PoissonInput(Stimulus):
    def build(self) -> None:
        rate = self.non_negative("rate")
        self.weight = self.finite("weight")
        delay = self.non_negative("delay")
        duration = self.non_negative("duration")
        self.require(
            not self.block.compartment_set,
            "poisson inputs select their source nodes with a node_set, not a compartment_set",
            "compartment_set",
        )
        count = self.context.next_count("poisson")
        circuit = self.context.circuit
        target = circuit.targets.target(self.block.node_set, key=f"inputs.{self.name}.node_set")
        sources = set(target.populations)
        if not any(e.source in sources for e in self.context.setup.edge_populations.values()):
            self.warn_once(
                "no edge population starts at %s; a poisson input drives the synapses of"
                " its node_set's nodes, so nothing is delivered",
                ", ".join(sorted(sources)) or "an empty node set",
            )
        self.trains: dict[int, np.ndarray] = {}
        self.netcons: list[tuple[int, Any, Any]] = []  # (source gid, netcon, target cell gid)
        if rate == 0 or duration == 0:
            return
        h, seed = self.h, int(self.context.setup.run.stimulus_seed)
        stims: dict[int, Any] = {}
        for manager in circuit.edge_managers:
            local = manager.local
            if manager.source.name not in sources or local is None or not len(local):
                continue
            wanted = np.flatnonzero(target.contains(manager.source.name, local.source_ids))
            for i in wanted:
                gid = int(local.source_ids[i]) + manager.source.offset
                stim = stims.get(gid)
                if stim is None:
                    rng = keyed_stream(h, POISSON_KEYS, count, seed, gid)
                    self.trains[gid] = poisson_train(h, rng, rate, delay, duration)
                    vector = h.Vector(self.trains[gid])
                    stim = stims[gid] = getattr(h, VECSTIM)()
                    stim.play(vector)
                    self.objects += [stim, vector]
                netcon = h.NetCon(stim, local.targets[i])
                netcon.delay = float(local.delays[i])
                netcon.weight[0] = self.weight
                target_gid = int(local.target_ids[i]) + manager.target.offset
                self.netcons.append((gid, netcon, target_gid))

    def export(self) -> dict[str, np.ndarray]:
        """The generated trains and the (source gid, target gid, delay, weight) of each NetCon."""
        out = {f"train__{gid}": times for gid, times in self.trains.items()}
        rows = [(s, t, nc.delay, nc.weight[0]) for s, nc, t in self.netcons]
        out["netcons"] = np.array(rows, dtype=np.float64).reshape(-1, 4)
        return out

    def summary(self) -> str:
        return f"{self.name} (poisson): {len(self.trains)} train(s), {len(self.netcons)} synapse(s)"
