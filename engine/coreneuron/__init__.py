"""Running the model with CoreNEURON (the NEURON wheel's, in memory: "direct mode").

Why a package of its own: the model is built by NEURON exactly as for a NEURON run; only
the integration differs. Everything CoreNEURON-specific lives here so later features
(checkpoints) extend one place:

* `support`: what CoreNEURON cannot run, refused before the run with one line;
* `runner`: the CORENEURONLIB library, `coreneuron.enable` and the psolve chunks;
* `recorder`: reports, recorded by NEURON's `Vector.record` (which CoreNEURON fills in
  direct mode) and written in the same SONATA files as with NEURON.
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
