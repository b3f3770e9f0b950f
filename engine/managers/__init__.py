"""Managers: each owns one kind of NEURON object (cells, synapses, inputs, recordings)."""
