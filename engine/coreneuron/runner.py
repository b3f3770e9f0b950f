"""psolve with CoreNEURON in memory: the library, the switch, and the chunks of time.

Why chunks: every `pc.psolve` with `coreneuron.enable` hands the whole model to CoreNEURON
and its state (voltages, states, event queue, Random123 positions) back to NEURON at the
end, so runs can be split, but each split costs one transfer. Without reports the run is
one psolve; with reports it is split so that the steps recorded by `Vector.record`
(CoreNEURON fills NEURON's vectors every step) stay within the report buffer budget.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import MechanismError

log = logging.getLogger("sonatasim")

LIBRARY_ENV = "CORENEURONLIB"


def point_at_library(library: Path) -> None:
    """Tell NEURON which libcorenrnmech to load for psolve (the one of our build)."""
    os.environ[LIBRARY_ENV] = str(library)


class CoreNeuronRunner:
    """Switches NEURON's psolve to CoreNEURON and runs the model in chunks."""

    def __init__(
        self,
        sim: Any,
        nrnmech: Path,
        cell_permute: int | None = None,
        has_gap_junctions: bool = False,
    ):
        from engine.mechanisms import coreneuron_library_for

        self.sim = sim
        library = coreneuron_library_for(nrnmech)
        if library is None:
            raise MechanismError(
                f"no libcorenrnmech beside {nrnmech}: the mechanisms were not compiled with"
                " nrnivmodl -coreneuron",
                file=str(nrnmech),
            )
        self.library = library
        self.cell_permute = cell_permute
        self.transfers = 0
        self.half_step_more = has_gap_junctions

    def enable(self) -> None:
        """Before the first psolve (after finitialize: NEURON initialises, CoreNEURON runs)."""
        from neuron import coreneuron

        point_at_library(self.library)
        if self.sim.is_root:
            log.info("integrating with CoreNEURON (%s)", self.library)
        coreneuron.enable = True
        coreneuron.verbose = 0
        if self.cell_permute is not None:
            coreneuron.cell_permute = self.cell_permute

    def disable(self) -> None:
        from neuron import coreneuron

        coreneuron.enable = False

    def run(
        self,
        tstop: float,
        dt: float,
        max_chunk_ms: float | None,
        after_chunk: Callable[[], None],
        progress: Callable[[float], None],
    ) -> None:
        """psolve to tstop, in chunks of at most `max_chunk_ms` (None: one psolve)."""
        h = self.sim.h
        while h.t < tstop - 0.5 * dt:
            until = tstop if max_chunk_ms is None else min(h.t + max_chunk_ms, tstop)
            before = h.t
            self._psolve(until, dt)
            after_chunk()
            progress(h.t - before)
        log.info("CoreNEURON: %d psolve transfer(s) of the model", self.transfers)

    def _psolve(self, until: float, dt: float) -> None:
        """psolve(until), ending at the step NEURON's psolve(until) ends at.

        With gap junctions CoreNEURON stops one step short of `until` (its last step must
        end strictly before it); asking for half a step more ends on `until` exactly. A
        psolve that does not advance raises instead of looping forever.
        """
        h, pc = self.sim.h, self.sim.pc
        before = h.t
        pc.psolve(until + (0.5 * dt if self.half_step_more else 0.0))
        self.transfers += 1
        if h.t < until - 0.5 * dt and not self.half_step_more:
            self.half_step_more = True  # learnt once; later chunks ask for it directly
            pc.psolve(until + 0.5 * dt)
            self.transfers += 1
        if h.t <= before:
            raise RuntimeError(f"CoreNEURON did not advance from t = {before} ms to {until} ms")
