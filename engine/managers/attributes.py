"""Attribute reads for one node or edge population, in bulk, from one place.

Everything that reads node or edge attributes goes through `AttributeReader`, so the Allen
dialect's node/edge types CSV (which libsonata ignores) can be merged here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libsonata
import numpy as np

from engine.errors import CircuitError


def selection(ids: np.ndarray) -> libsonata.Selection:
    return libsonata.Selection(np.asarray(ids, dtype=np.uint64))


class AttributeReader:
    """Reads attributes of a libsonata Node/EdgePopulation for a selection of ids."""

    def __init__(self, storage: Any, file: Path):
        self.storage = storage
        self.file = file

    def names(self) -> set[str]:
        return set(self.storage.attribute_names) | {
            "@dynamics:" + n for n in self.storage.dynamics_attribute_names
        }

    def has(self, name: str) -> bool:
        if name.startswith("@dynamics:"):
            return name[10:] in self.storage.dynamics_attribute_names
        return name in self.storage.attribute_names

    def read(self, name: str, sel: Any) -> np.ndarray:
        """Values for `sel` (a libsonata Selection or an array of ids)."""
        if not isinstance(sel, libsonata.Selection):
            sel = selection(sel)
        try:
            if name.startswith("@dynamics:"):
                return np.asarray(self.storage.get_dynamics_attribute(name[10:], sel))
            return np.asarray(self.storage.get_attribute(name, sel))
        except libsonata.SonataError as exc:
            raise CircuitError(f"cannot read attribute: {exc}", file=self.file, key=name) from None

    def read_optional(self, name: str, sel: Any, default: float, n: int) -> np.ndarray:
        if self.has(name):
            return self.read(name, sel).astype(np.float64)
        return np.full(n, default, dtype=np.float64)
