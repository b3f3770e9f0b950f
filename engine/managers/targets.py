"""Node sets resolved with libsonata: the only place that reads node set files.

A target is a set of (population, node ids) pairs. Every consumer (the simulated node_set,
inputs, reports, overrides) asks the TargetManager, which materializes each name once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import libsonata
import numpy as np

from engine.errors import ConfigError


@dataclass
class Target:
    """Node ids (0-based, sorted) per population selected by a node set."""

    name: str
    ids: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def populations(self) -> list[str]:
        return [p for p, ids in self.ids.items() if ids.size]

    def size(self) -> int:
        return int(sum(ids.size for ids in self.ids.values()))

    def get(self, population: str) -> np.ndarray:
        return self.ids.get(population, np.zeros(0, dtype=np.uint64))

    def contains(self, population: str, node_ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of `node_ids` of `population` are in this target."""
        return np.isin(np.asarray(node_ids), self.get(population))


class TargetManager:
    """Merged node sets (circuit first, simulation entries override) for a circuit."""

    def __init__(self, node_sets_files: list[Path], populations: dict[str, object]):
        self._populations = populations  # name -> libsonata.NodePopulation
        self._cache: dict[str, Target] = {}
        self._node_sets = libsonata.NodeSets("{}")
        self._origin: dict[str, Path] = {}
        for path in node_sets_files:
            self._merge_file(Path(path))

    def _merge_file(self, path: Path) -> None:
        if not path.exists():
            raise ConfigError("node sets file not found", file=path, key="node_sets_file")
        try:
            text = path.read_text()
            names = list(json.loads(text))
            self._node_sets.update(libsonata.NodeSets(text))
        except (json.JSONDecodeError, libsonata.SonataError) as exc:
            raise ConfigError(f"invalid node sets file: {exc}", file=path) from None
        for name in names:
            self._origin[name] = path

    @property
    def names(self) -> list[str]:
        return sorted(self._node_sets.names)

    def has(self, name: str) -> bool:
        return name in self._node_sets.names

    def target(self, name: str, *, key: str = "node_set") -> Target:
        """Materialize node set `name` over all populations (cached)."""
        if name in self._cache:
            return self._cache[name]
        if not self.has(name):
            known = ", ".join(self.names[:20]) or "none defined"
            raise ConfigError(f"node set '{name}' is not defined (known: {known})", key=key)
        target = Target(name)
        missing_attribute = []
        for pop_name in sorted(self._populations):
            try:
                selection = self._node_sets.materialize(name, self._populations[pop_name])
            except libsonata.SonataError as exc:
                # libsonata raises when a queried attribute is absent from a population,
                # even one the set does not mean; such a population simply has no match.
                if "No such attribute" in str(exc):
                    missing_attribute.append(str(exc))
                    continue
                raise ConfigError(
                    f"cannot resolve node set '{name}': {exc}",
                    file=self._origin.get(name),
                    key=key,
                ) from None
            ids = np.asarray(selection.flatten(), dtype=np.uint64)
            if ids.size:
                target.ids[pop_name] = np.unique(ids)
        if missing_attribute and len(missing_attribute) == len(self._populations):
            raise ConfigError(
                f"cannot resolve node set '{name}': {missing_attribute[0]} in any population",
                file=self._origin.get(name),
                key=key,
            )
        self._cache[name] = target
        return target

    def whole_populations(self, names: list[str]) -> Target:
        """A target holding every node of the given populations (no node_set given)."""
        target = Target("<all>")
        for name in names:
            size = self._populations[name].size
            target.ids[name] = np.arange(size, dtype=np.uint64)
        return target
