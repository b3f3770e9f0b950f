"""StimulusManager: turns each `inputs` block into stimuli on the local cells.

Input families live in `engine/stimuli/`, one module each, registered by module name; this
manager keeps what blocks share (block counters that key the random streams, the
Random123 global index) and dispatches. (synapse_replay is the ReplayManager's.)

Every rank sees every block in config order, so the counters advance identically on all
ranks whether or not a rank has cells in the block.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from engine.errors import ConfigError
from engine.stimuli import random_streams, registry
from engine.stimuli.base import StimulusContext

log = logging.getLogger("sonatasim")


class StimulusManager:
    def __init__(self, sim: Any, circuit: Any, setup: Any):
        self.sim = sim
        self.circuit = circuit
        self.setup = setup
        self.context = StimulusContext(sim, circuit, setup)
        self.stimuli: list[Any] = []
        random_streams.set_global_index(sim.h, setup.run.random_seed)

    def add_input(self, position: int, name: str, block: Any) -> None:
        module = registry.module_name(block)
        stimulus_class = registry.lookup(module)
        if stimulus_class is None:
            raise ConfigError(
                f"input module '{module}' is not supported yet (supported: "
                f"{', '.join(registry.supported())})",
                file=self.setup.config_path,
                key=f"inputs.{name}.module",
            )
        stimulus = stimulus_class(self.context, position, name, block)
        stimulus.create()
        self.stimuli.append(stimulus)
        log.debug("input %s: %s", name, stimulus.summary())

    @property
    def injections(self) -> list[Any]:
        return [i for s in self.stimuli for i in getattr(s, "injections", [])]

    def by_name(self, name: str) -> Any:
        for stimulus in self.stimuli:
            if stimulus.name == name:
                return stimulus
        raise KeyError(name)

    def summary_lines(self) -> list[str]:
        kinds = Counter(i.kind for i in self.injections)
        if not kinds:
            return []
        parts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        return [f"stimuli on this rank: {parts}"]
