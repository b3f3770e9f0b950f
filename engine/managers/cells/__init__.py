"""Cells: node managers, hoc templates, Allen cell models, section points, cost estimates.

May import engine.io, engine.config, engine.errors; not synapses or reports.
"""
