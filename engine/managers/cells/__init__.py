"""Cells: node managers, hoc templates, Allen cell models, NEURON sections from morphologies, points, cost.

May import engine.io, engine.config and the base modules (errors, simulator); never synapses or reports.
"""
