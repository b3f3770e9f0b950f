"""ReportManager: SONATA reports (compartment, summation, synapse, lfp) written with h5py.

Hooks called by the Simulation: `create()` before initialisation, `flush()` between
integration chunks, `finalize()` after the run, `summary_lines()` for the run summary.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("sonatasim")


class ReportManager:
    def __init__(self, sim: Any, circuit: Any, setup: Any):
        self.sim = sim
        self.circuit = circuit
        self.setup = setup

    def create(self) -> None:
        names = sorted(self.setup.libsonata_config.list_report_names)
        if names and self.sim.is_root:
            log.warning("reports are not written yet; skipped: %s", ", ".join(names))

    def flush(self) -> None:
        """Write what is buffered so far (called between psolve chunks)."""

    def finalize(self) -> None:
        """Complete and rename every report file (collective)."""

    def summary_lines(self) -> list[str]:
        return []
