"""Managers: each owns one kind of NEURON object; circuit, targets, load balance, stimuli, replay, spikes here.

cells/, synapses/ and reports/ group the rest. May import engine.io, engine.config, engine.stimuli, engine.simulator.
"""
