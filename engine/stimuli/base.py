"""What every input family shares: the build context, parameter checks, target points and
per-cell values read from the nodes file.

A stimulus validates its block first (identically on every rank, so a bad value stops all
ranks with the same message), then builds on this rank's target points in ascending gid.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.errors import ConfigError
from engine.managers.cells import points as points_module
from engine.stimuli.sources import Injection

log = logging.getLogger("sonatasim")

THRESHOLD = "@dynamics:threshold_current"
HOLDING = "@dynamics:holding_current"
INPUT_RESISTANCE = "@dynamics:input_resistance"
DETAILED = ("biophysical", "single_compartment")  # population types whose cells have sections


@dataclass
class StimulusContext:
    """Shared by all blocks of one run: the simulator, circuit, setup and the counters."""

    sim: Any
    circuit: Any
    setup: Any
    counters: dict[str, int] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # per-run state of a family

    def next_count(self, family: str) -> int:
        """The block counter of a family (0, 1, ...), advanced by this call."""
        value = self.counters.get(family, 0)
        self.counters[family] = value + 1
        return value


def enum_name(value: Any) -> str:
    return str(value.name) if hasattr(value, "name") else str(value).split(".")[-1]


class Stimulus:
    """Base of every input family; subclasses implement `build()`."""

    module: ClassVar[str] = ""

    def __init__(self, context: StimulusContext, position: int, name: str, block: Any):
        self.context = context
        self.position = position
        self.name = name
        self.block = block
        self.injections: list[Injection] = []
        self.objects: list[Any] = []  # other NEURON objects to keep alive

    # -- conveniences -------------------------------------------------------------------
    @property
    def h(self) -> Any:
        return self.context.sim.h

    @property
    def delay(self) -> float:
        return float(self.block.delay)

    @property
    def duration(self) -> float:
        return float(self.block.duration)

    @property
    def module_name(self) -> str:
        return enum_name(self.block.module)

    @property
    def input_type(self) -> str:
        return enum_name(self.block.input_type)

    @property
    def physical(self) -> bool:
        return bool(getattr(self.block, "represents_physical_electrode", False))

    def error(self, message: str, key: str) -> ConfigError:
        return ConfigError(
            f"input '{self.name}' ({self.module_name}): {message}",
            file=self.context.setup.config_path,
            key=f"inputs.{self.name}.{key}",
        )

    def warn_once(self, message: str, *args: Any) -> None:
        """A block-level warning, printed by rank 0 only."""
        if self.context.sim.is_root:
            log.warning("input %s: " + message, self.name, *args)

    # -- parameter checks (rank-independent) --------------------------------------------
    def require(self, condition: bool, message: str, key: str) -> None:
        if not condition:
            raise self.error(message, key)

    def finite(self, key: str, value: Any = None) -> float:
        value = getattr(self.block, key) if value is None else value
        number = float(value)
        self.require(math.isfinite(number), f"{key} must be a finite number, got {value}", key)
        return number

    def positive(self, key: str, value: Any = None) -> float:
        number = self.finite(key, value)
        self.require(number > 0, f"{key} must be positive, got {number:g}", key)
        return number

    def non_negative(self, key: str, value: Any = None) -> float:
        number = self.finite(key, value)
        self.require(number >= 0, f"{key} must not be negative, got {number:g}", key)
        return number

    # -- targets -------------------------------------------------------------------------
    def target_points(self) -> list[Any]:
        """This rank's points, ascending gid: soma centres, or a compartment set's points."""
        circuit = self.context.circuit
        compartment_set = self.block.compartment_set
        if compartment_set:
            points = points_module.local_compartment_set_points(circuit, compartment_set)
        else:
            points = points_module.local_target_points(
                circuit, self.block.node_set, key=f"inputs.{self.name}.node_set"
            )
        return sorted(points, key=lambda p: p.gid)

    def target_populations(self) -> list[str]:
        """Populations of cells with sections that the block targets (same on every rank);
        virtual and point-neuron populations take no current."""
        circuit = self.context.circuit
        if self.block.compartment_set:
            return sorted({p.population for p in self.target_points()})
        target = circuit.targets.target(self.block.node_set, key=f"inputs.{self.name}.node_set")
        infos = self.context.setup.node_populations
        return [p for p in target.populations if p in infos and infos[p].type in DETAILED]

    def cell_values(
        self, points: list[Any], attribute: str, *, required: bool, default: float = 0.0
    ) -> dict[int, float]:
        """gid -> value of a node attribute (bulk read per population).

        A missing attribute is an error naming the block when `required` (checked for every
        targeted population on every rank), else `default` with a warning.
        """
        managers = self.context.circuit.node_managers
        missing = [p for p in self.target_populations() if not managers[p].has_attribute(attribute)]
        if missing and required:
            raise self.error(
                f"needs the node attribute {attribute} (per-cell value), which population"
                f" {', '.join(repr(p) for p in missing)} does not have",
                "node_set" if self.block.node_set else "compartment_set",
            )
        if missing:
            self.warn_once("%s missing in %s; using %g", attribute, ", ".join(missing), default)
        values: dict[int, float] = {}
        by_population: dict[str, list[Any]] = {}
        for point in points:
            by_population.setdefault(point.population, []).append(point)
        for population, members in by_population.items():
            manager = managers[population]
            if not manager.has_attribute(attribute):
                values.update({p.gid: default for p in members})
                continue
            ids = np.array([p.node_id for p in members], dtype=np.uint64)
            read = manager.attribute(attribute, ids).astype(float)
            values.update({p.gid: float(v) for p, v in zip(members, read, strict=True)})
        return values

    def relative_base(self, points: list[Any], conductance: bool) -> dict[int, float]:
        """Threshold current (nA), or 1/input resistance (uS) for conductance inputs."""
        if not conductance:
            return self.cell_values(points, THRESHOLD, required=True)
        resistance = self.cell_values(points, INPUT_RESISTANCE, required=True)
        inverse = {}
        for gid, r in resistance.items():
            if not r > 0:
                raise self.error(
                    f"cell gid {gid} has input_resistance {r:g} MOhm; conductance inputs"
                    " relative to it need a positive value",
                    "input_type",
                )
            inverse[gid] = 1.0 / r
        return inverse

    # -- lifecycle -----------------------------------------------------------------------
    def create(self) -> None:
        self.build()

    def build(self) -> None:
        raise NotImplementedError

    def summary(self) -> str:
        return f"{self.name} ({self.module_name}): {len(self.injections)} source(s)"
