"""Synapses: edges, synapse models (base, generic, BBP, GluSynapse, Allen), gap junctions, neuromodulation, minis, overrides.

May import managers.cells, engine.io, engine.config and the base modules (errors, compat, statements, mechanisms, simulator).
"""
