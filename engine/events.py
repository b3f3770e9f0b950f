"""Timed Python callbacks that survive a checkpoint (cvode.event by name).

Why: NEURON's SaveState keeps the queued hoc events of a run as their statement text; a
Python callable has none ("{PythonObject}"), so a restored run could not execute it. An
event scheduled here is the hoc statement `nrnpython("...fire('<name>')")`: the restored
run executes the same text, and `fire` calls the callback registered under that name in
the new process. Names are built from config names, so both runs share them. A statement
costs more than a callable per event (hoc parses it), so it is used only in runs that
save a checkpoint (`persist(True)`); other runs queue the callable itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sonatasim")

_callbacks: dict[str, Callable[[], None]] = {}
_persistent = False


def persist(enabled: bool) -> None:
    """Queue events as restorable statements from now on (a run that saves a checkpoint)."""
    global _persistent
    _persistent = enabled


def register(name: str, callback: Callable[[], None]) -> None:
    _callbacks[name] = callback


def at(h: Any, time: float, name: str) -> None:
    """Queue the callback registered as `name` for simulation time `time` (ms)."""
    if not _persistent:
        h.CVode().event(time, _callbacks[name])
        return
    if "'" in name or '"' in name or "\\" in name:
        raise ValueError(f"event name {name!r} must not contain quotes")
    h.CVode().event(time, f"nrnpython(\"from engine.events import fire; fire('{name}')\")")


def fire(name: str) -> None:
    callback = _callbacks.get(name)
    if callback is None:  # a restored event of something this run does not have
        log.warning("no handler for the restored event %s; ignored", name)
        return
    callback()
