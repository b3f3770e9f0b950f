"""sonatasim: run SONATA circuits on NEURON, from one core to many MPI ranks."""

__version__ = "0.1.0"
