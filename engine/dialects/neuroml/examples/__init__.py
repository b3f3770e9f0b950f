"""Our own NeuroML models, written with libNeuroML, in one place: the multi-compartment HH
cell and its SONATA circuit (`cell`, `channels`), the point-neuron networks and single
cells (`network`) that the tests compare against jNeuroML and the benchmark converts, and
the network mixing HH and Izhikevich cells (`mixed`).

`python -m engine.dialects.neuroml.examples network DIR` writes configs/neuroml_network,
`python -m engine.dialects.neuroml.examples cell DIR` configs/neuroml_cell,
`python -m engine.dialects.neuroml.examples mixed DIR` configs/neuroml_mixed_network.
"""

from engine.dialects.neuroml.examples.mixed import write_mixed_network
from engine.dialects.neuroml.examples.network import write_network, write_single_cell

__all__ = ["write_mixed_network", "write_network", "write_single_cell"]
