"""Circuit generators for tests, examples and benchmarks: SONATA (OBI) and Allen-dialect circuits.

May import engine.io (writers) and engine.errors; nothing in the engine's run path imports this package.
"""
