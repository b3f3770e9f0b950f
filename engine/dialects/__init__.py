"""Input dialects other than SONATA as libsonata parses it, one package each, translated at the edge.

May import engine.io, engine.errors and engine.stimuli.registry; the core imports a dialect only at
`engine.config.load_setup` (the one dispatch point).
"""
