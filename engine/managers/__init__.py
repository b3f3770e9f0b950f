"""Managers: each owns one kind of NEURON object; circuit, targets, load balance, stimuli, replay, spikes, modifications.

cells/, synapses/, reports/ group the rest. May import engine.io, engine.config, engine.stimuli and the base modules.
"""
