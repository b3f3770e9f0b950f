"""StimulusManager: turns each `inputs` block into stimuli on the local cells.

Input families live in `engine/stimuli/`, one module each, registered by module name; this
manager only resolves targets and dispatches. (synapse_replay is the ReplayManager's.)
"""

from __future__ import annotations

import logging
from typing import Any

from engine.errors import ConfigError
from engine.stimuli import registry

log = logging.getLogger("sonatasim")


class StimulusManager:
    def __init__(self, sim: Any, circuit: Any, setup: Any):
        self.sim = sim
        self.circuit = circuit
        self.setup = setup
        self.stimuli: list[Any] = []

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
        stimulus = stimulus_class(self.sim, self.circuit, self.setup, position, name, block)
        stimulus.create()
        self.stimuli.append(stimulus)

    def summary_lines(self) -> list[str]:
        return []
