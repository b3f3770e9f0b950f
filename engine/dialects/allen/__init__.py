"""The Allen/bmtk dialect: config, circuit, inputs and IClamp placement translated into SONATA files.

May import engine.io and engine.errors (and engine.stimuli.registry); never engine.managers or engine.config.
"""
