"""Node sets and compartment sets resolved with libsonata: the only place that reads them.

A target is a set of (population, node ids) pairs. Every consumer (the simulated node_set,
inputs, reports, overrides) asks the TargetManager, which materializes each name once and,
once the cells are dealt to ranks, offers the local view (the part living on this rank).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libsonata
import numpy as np

from engine.errors import ConfigError

log = logging.getLogger("sonatasim")

_EMPTY = np.zeros(0, dtype=np.uint64)


def _is_root() -> bool:
    """Warnings once per run, not once per rank (the handle exists once NEURON started)."""
    from engine import simulator

    handle = simulator._handle
    return handle is None or handle.rank == 0


@dataclass
class Target:
    """Node ids (0-based, sorted, unique) per population selected by a node set."""

    name: str
    ids: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def populations(self) -> list[str]:
        return [p for p, ids in self.ids.items() if ids.size]

    def size(self) -> int:
        return int(sum(ids.size for ids in self.ids.values()))

    def get(self, population: str) -> np.ndarray:
        return self.ids.get(population, _EMPTY)

    def contains(self, population: str, node_ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of `node_ids` of `population` are in this target."""
        return np.isin(np.asarray(node_ids), self.get(population))

    def restrict(self, cells: dict[str, np.ndarray], name: str | None = None) -> Target:
        """The part of this target among `cells` (population -> ids), e.g. the local cells."""
        out = Target(name or self.name)
        for population, ids in self.ids.items():
            kept = np.intersect1d(ids, np.asarray(cells.get(population, _EMPTY), np.uint64))
            if kept.size:
                out.ids[population] = kept
        return out

    def pairs(self) -> list[tuple[str, int]]:
        """(population, node id) pairs, populations by name then ids ascending."""
        return [(p, int(i)) for p in sorted(self.ids) for i in self.ids[p]]


@dataclass
class CompartmentTarget:
    """A compartment set: (node id, section id, offset) entries of one population."""

    name: str
    population: str
    entries: Any  # libsonata.CompartmentSet, sorted by (node id, section id, offset)

    def size(self) -> int:
        return len(self.entries)

    def node_ids(self) -> np.ndarray:
        return np.asarray(self.entries.node_ids().flatten(), dtype=np.uint64)

    def local(self, node_ids: np.ndarray) -> dict[int, list[tuple[int, float]]]:
        """node id -> [(section id, offset)] for the given (local) nodes, in file order."""
        ids = np.asarray(node_ids, dtype=np.uint64)
        if ids.size == 0:
            return {}
        out: dict[int, list[tuple[int, float]]] = {}
        for loc in self.entries.filtered_iter(libsonata.Selection(ids)):
            out.setdefault(int(loc.node_id), []).append((int(loc.section_id), float(loc.offset)))
        return out


class TargetManager:
    """Merged node sets (circuit first, simulation entries override) and compartment sets."""

    def __init__(
        self,
        node_sets_files: list[Path],
        populations: dict[str, Any],
        compartment_sets_file: Path | None = None,
    ):
        self._populations = populations  # name -> libsonata.NodePopulation
        self._cache: dict[str, Target] = {}
        self._origin: dict[str, Path] = {}
        self._definitions: dict[str, Any] = {}
        self._local: dict[str, np.ndarray] | None = None
        self._warned: set[str] = set()
        self._compartment_sets: Any = None
        self.compartment_sets_file: Path | None = None
        self._node_sets = self._merge_files([Path(p) for p in node_sets_files])
        if compartment_sets_file:
            self.attach_compartment_sets(Path(compartment_sets_file))

    def _merge_files(self, paths: list[Path]) -> Any:
        """One libsonata NodeSets from all files, later files overriding earlier names.

        Merged as JSON first, so a compound in the simulation's file may name a set that
        only the circuit's file defines (and a redefined name means the new definition).
        """
        merged: dict[str, Any] = {}
        for path in paths:
            if not path.exists():
                raise ConfigError("node sets file not found", file=path, key="node_sets_file")
            try:
                content = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ConfigError(f"invalid node sets file: {exc}", file=path) from None
            if not isinstance(content, dict):
                raise ConfigError("a node sets file must hold a JSON object", file=path)
            merged.update(content)
            self._origin.update(dict.fromkeys(content, path))
        self._definitions = merged
        self._check_cycles(merged)
        try:
            return libsonata.NodeSets(json.dumps(merged))
        except libsonata.SonataError as exc:
            where = " + ".join(str(p) for p in paths)
            raise ConfigError(f"invalid node sets: {exc}", file=where or None) from None

    def _check_cycles(self, definitions: dict[str, Any]) -> None:
        """A compound set that includes itself (directly or through others) is refused by
        name; libsonata would only say that its recursion depth was exceeded."""
        done: set[str] = set()

        def visit(name: str, path: list[str]) -> None:
            if name in path:
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise ConfigError(
                    f"node set '{name}' includes itself ({cycle})",
                    file=self._origin.get(name),
                    key=name,
                )
            members = definitions.get(name)
            if name in done or not isinstance(members, list):
                return
            for member in members:
                if isinstance(member, str):
                    visit(member, [*path, name])
            done.add(name)

        for name in sorted(definitions):
            visit(name, [])

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
            files = " + ".join(sorted({str(p) for p in self._origin.values()})) or None
            raise ConfigError(
                f"node set '{name}' is not defined in the node sets file(s) (known: {known})",
                file=files,
                key=key,
            )
        self._check_populations(name, key)
        target = Target(name)
        missing_attribute: list[str] = []
        for pop_name in sorted(self._populations):
            ids = self._materialize(name, pop_name, key, missing_attribute)
            if ids.size:
                target.ids[pop_name] = ids
        if missing_attribute and len(missing_attribute) == len(self._populations):
            raise ConfigError(
                f"cannot resolve node set '{name}': {missing_attribute[0]} in any population",
                file=self._origin.get(name),
                key=key,
            )
        if target.size() == 0 and _is_root():
            log.warning("node set '%s' (used at '%s') matches no node", name, key)
        self._cache[name] = target
        return target

    def _materialize(self, name: str, population: str, key: str, missing: list[str]) -> Any:
        """Sorted ids of `population` in set `name`.

        libsonata raises when a queried attribute is absent from a population, even one the
        set does not mean: such a basic set matches nothing there, and a compound is the
        union of its members resolved one by one (so one member cannot hide the others).
        """
        try:
            selection = self._node_sets.materialize(name, self._populations[population])
        except libsonata.SonataError as exc:
            if "No such attribute" not in str(exc):
                raise ConfigError(
                    f"cannot resolve node set '{name}': {exc}",
                    file=self._origin.get(name),
                    key=key,
                ) from None
            members = self._definitions.get(name)
            if not isinstance(members, list):
                missing.append(str(exc))
                return _EMPTY
            parts = [self._materialize(m, population, key, []) for m in members]
            return np.unique(np.concatenate([_EMPTY, *parts]))
        return np.unique(np.asarray(selection.flatten(), dtype=np.uint64))

    def _check_populations(self, name: str, key: str) -> None:
        """A population named in the set (or a set it includes) must exist."""
        try:
            referenced = set(self._node_sets.referenced_populations(name))
        except libsonata.SonataError as exc:
            raise ConfigError(
                f"cannot resolve node set '{name}': {exc}", file=self._origin.get(name), key=key
            ) from None
        unknown = sorted(referenced - set(self._populations))
        if unknown:
            raise ConfigError(
                f"node set '{name}' names population(s) {', '.join(unknown)}, which the circuit"
                f" does not have (it has: {', '.join(sorted(self._populations)) or 'none'})",
                file=self._origin.get(name),
                key=key,
            )

    def whole_populations(self, names: list[str]) -> Target:
        """A target holding every node of the given populations (no node_set given)."""
        target = Target("<all>")
        for name in names:
            size = self._populations[name].size
            target.ids[name] = np.arange(size, dtype=np.uint64)
        return target

    def warn_once(self, message: str) -> None:
        """A warning about a target, logged once however many consumers use it."""
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    # Local views: the load balancer tells which cells live on this rank.

    def set_local_cells(self, cells: dict[str, np.ndarray]) -> None:
        self._local = {p: np.asarray(ids, dtype=np.uint64) for p, ids in cells.items()}

    @property
    def local_cells(self) -> dict[str, np.ndarray]:
        if self._local is None:
            raise RuntimeError("local cells are known only after the cells were dealt to ranks")
        return self._local

    def local(self, name: str, *, key: str = "node_set") -> Target:
        """The cells of node set `name` instantiated on this rank."""
        return self.target(name, key=key).restrict(self.local_cells)

    # Compartment sets.

    def attach_compartment_sets(self, path: Path) -> None:
        """Parse the compartment_sets_file with libsonata (checks order and duplicates)."""
        path = Path(path)
        if not path.exists():
            raise ConfigError(
                "compartment sets file not found", file=path, key="compartment_sets_file"
            )
        try:
            self._compartment_sets = libsonata.CompartmentSets.from_file(str(path))
        except (libsonata.SonataError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"invalid compartment sets file: {exc}", file=path, key="compartment_sets_file"
            ) from None
        self.compartment_sets_file = path

    @property
    def compartment_set_names(self) -> list[str]:
        return sorted(self._compartment_sets.names()) if self._compartment_sets else []

    def compartment_set(self, name: str, *, key: str = "compartment_set") -> CompartmentTarget:
        """The compartment set `name`, its population and node ids checked."""
        if self._compartment_sets is None:
            raise ConfigError(
                f"compartment set '{name}' is used but the simulation config has no"
                " compartment_sets_file",
                key=key,
            )
        if name not in self._compartment_sets:
            known = ", ".join(self.compartment_set_names[:20]) or "none defined"
            raise ConfigError(
                f"compartment set '{name}' is not defined (known: {known})",
                file=self.compartment_sets_file,
                key=key,
            )
        entries = self._compartment_sets[name]
        population = entries.population
        if population not in self._populations:
            raise ConfigError(
                f"compartment set '{name}' is on population '{population}', which the circuit"
                f" does not have (it has: {', '.join(sorted(self._populations)) or 'none'})",
                file=self.compartment_sets_file,
                key=key,
            )
        target = CompartmentTarget(name, population, entries)
        ids = target.node_ids()
        size = int(self._populations[population].size)
        if ids.size and int(ids.max()) >= size:
            raise ConfigError(
                f"compartment set '{name}' names node {int(ids.max())} of population"
                f" '{population}', which has {size} nodes",
                file=self.compartment_sets_file,
                key=key,
            )
        if target.size() == 0 and _is_root():
            log.warning("compartment set '%s' has no entry", name)
        return target
