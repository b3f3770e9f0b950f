"""The example NeuroML cell under its earlier module name (kept for existing imports); the
code lives in engine.dialects.neuroml.examples.cell."""

from engine.dialects.neuroml.examples.cell import CELL_ID, cell_document, write_cell, write_circuit
from engine.dialects.neuroml.examples.channels import hh_channels

__all__ = ["CELL_ID", "cell_document", "hh_channels", "write_cell", "write_circuit"]
