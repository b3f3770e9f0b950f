"""What every synapse model and its users share: the model context, the base model, NetCon kinds.

Split out so models (generic, BBP, GluSynapse) import one small module and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# NetCon kinds, as neurodamus numbers them (weight slot `nc_type_param` of BBP mechanisms).
NETCON_PRESYNAPTIC, NETCON_MINI, NETCON_REPLAY = 0, 1, 2


@dataclass
class ModelContext:
    """What a model factory may read: the edge manager, the local edges and the settings."""

    edges_manager: Any
    selection: Any  # libsonata Selection of the local edges
    local: Any  # LocalEdges
    settings: Any  # SimulationSetup

    @property
    def n(self) -> int:
        return len(self.local)

    def optional(self, name: str, default: float) -> np.ndarray:
        return self.edges_manager.optional_attribute(name, self.selection, default, self.n)

    def has(self, name: str) -> bool:
        return bool(self.edges_manager.has_attribute(name))

    def read(self, name: str) -> np.ndarray:
        return self.edges_manager.attribute(name, self.selection)


@dataclass
class SynapseModel:
    """Base model: NetCon weight[0] = `weights[i]`; subclasses create the point process."""

    weights: np.ndarray

    weight_unit = "uS"  # of `weights`; BBP models carry nS (their gmax turns nS into uS)

    def create(self, h: Any, segment: Any, i: int) -> Any:
        raise NotImplementedError

    def share_groups(self) -> np.ndarray | None:
        """Per edge, an id equal for edges whose parameters match (linear models only)."""
        return None

    def configure_netcon(self, netcon: Any, i: int, kind: int = NETCON_PRESYNAPTIC) -> None:
        netcon.weight[0] = float(self.weights[i])


def scale_use_by_calcium(use: np.ndarray, hill: np.ndarray, calcium: float) -> np.ndarray:
    """U scaled for extracellular calcium by the synapse's Hill coefficient (compat §3.4).

    The factor ((K^4 + 16) / 16 * Ca^4) / (K^4 + Ca^4) is evaluated first and in this
    order, as neurodamus does, so U is the same to the last bit.
    """
    k4 = hill.astype(np.float64) ** 4
    ca4 = float(calcium) ** 4
    return use * ((k4 + 16.0) / 16.0 * ca4 / (k4 + ca4))
