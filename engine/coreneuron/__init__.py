"""Running the model with CoreNEURON (the NEURON wheel's, in memory: "direct mode").

Why a package of its own: the model is built by NEURON exactly as for a NEURON run; only
the integration differs. Everything CoreNEURON-specific lives here so later features
(checkpoints) extend one place:

* `support`: what CoreNEURON cannot run, refused before the run with one line;
* `runner`: the CORENEURONLIB library, `coreneuron.enable` and the psolve chunks.

Reports of a CoreNEURON run are recorded by engine/managers/reports/coreneuron.py (the
report manager owns its recorders). May import engine.errors, engine.mechanisms and
neuron; called by engine.simulation.
"""

from __future__ import annotations

NEURON = "NEURON"
CORENEURON = "CORENEURON"
SIMULATORS = (NEURON, CORENEURON)


def chosen_simulator(config_value: str, override: str | None) -> str:
    """The simulator of a run: the command line's choice, else the config's."""
    if override:
        return override.strip().upper()
    return (config_value or NEURON).strip().upper()
