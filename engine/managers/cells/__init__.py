"""Cells: node managers, hoc templates, Allen cell models, NeuroML cells (dispatch into engine.dialects.neuroml), NEURON sections from morphologies, points, cost.

May import engine.io, engine.config and the base modules (errors, simulator); never synapses or reports.
"""
