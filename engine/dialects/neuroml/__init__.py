"""The NeuroML2 dialect: importing/exporting NeuroML and building its cells (code lands here).

May import engine.io and engine.errors, as engine.dialects.allen; the core reaches it only through a dispatch point.
"""
