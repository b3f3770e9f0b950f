"""Cells: node managers (also of populations mixing model types), hoc templates, Allen cell models, NeuroML cells (dispatch into engine.dialects.neuroml), NEURON sections from morphologies, points, cost.

May import engine.io, engine.config and the base modules (errors, simulator); never synapses or reports.
"""
