"""Our own NeuroML models, written with libNeuroML, in one place: the multi-compartment HH
cell and its SONATA circuit (`cell`, `channels`), and the point-neuron networks and single
cells (`network`) that the tests compare against jNeuroML and the benchmark converts.

`python -m engine.dialects.neuroml.examples network DIR` writes configs/neuroml_network,
`python -m engine.dialects.neuroml.examples cell DIR` configs/neuroml_cell.
"""

from engine.dialects.neuroml.examples.network import write_network, write_single_cell

__all__ = ["write_network", "write_single_cell"]
