"""sonatasim: run SONATA circuits on NEURON, from one core to many MPI ranks.

Top level: cli -> config -> simulation -> managers -> io/stimuli -> simulator; lower layers never import higher ones.
"""

__version__ = "0.1.0"
