"""The NeuroML2 dialect: reading NeuroML cells (libNeuroML), refusals, NMODL for their channels.

May import engine.io and engine.errors, as engine.dialects.allen; the core reaches it only through a
dispatch point (engine.managers.cells.neuroml / neuroml_points for `nml:` cells,
engine.managers.synapses.neuroml for `nml:` synapses, the mechanism set in simulation, the convert
command); tests/test_layering.py checks it.
"""
