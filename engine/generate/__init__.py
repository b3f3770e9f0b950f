"""Circuit generators for tests, examples and benchmarks: SONATA (OBI) and Allen-dialect circuits, hoc templates.

May import engine.io (writers) and engine.errors; the engine's run path never imports this package.
"""
