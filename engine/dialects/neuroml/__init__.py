"""The NeuroML2 dialect: reading NeuroML cells (libNeuroML), refusals, NMODL for their channels.

May import engine.io and engine.errors, as engine.dialects.allen; the core reaches it only through a
dispatch point (engine.managers.cells.neuroml for `nml:` cells, the mechanism set in simulation).
"""
