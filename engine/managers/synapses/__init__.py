"""Synapses: edge managers, synapse models (base, BBP, GluSynapse, Allen), gap junctions, neuromodulation, minis, overrides.

May import engine.managers.cells, engine.io, engine.config; not reports.
"""
