"""Reports: parsed report blocks (spec), what a variable name reads (variables), per-cell probes, the sampler (recorder) and the report manager.

May import managers.cells (points), engine.io (report_writer, atomic), engine.errors; never synapses.
"""
