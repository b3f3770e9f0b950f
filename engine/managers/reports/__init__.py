"""Reports: parsed report blocks (spec), per-cell probes, the sampler/recorder and the report manager.

May import engine.managers.cells (points), engine.io (report_writer); not synapses.
"""
