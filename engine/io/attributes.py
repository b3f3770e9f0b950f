"""Attribute reads for one node or edge population, in bulk, from one place.

Everything that reads node or edge attributes goes through `AttributeReader`, so the Allen
dialect's node/edge types CSV (which libsonata ignores) is merged here and nowhere else:

* an attribute of the h5 group wins (the per-node value is the more specific one);
* else the types CSV column, looked up by each node's `node_type_id` (`edge_type_id`);
* `@dynamics:<name>` comes from the h5 `dynamics_params` group, else from the json file
  named by the `dynamics_params` attribute (h5 or CSV), found in the population's models
  directories: only the json's top-level numbers are exposed (Exp2Syn tau1/tau2/erev,
  IntFire1 tau/refrac, ...).

Where the CSV and the json files of a population are is registered once by `load_setup`
(`register_types_source`), keyed by the h5 file and population name, so a reader created
anywhere (node or edge managers, validation) merges the same way without extra arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import h5py
import libsonata
import numpy as np

from engine.errors import CircuitError
from engine.io.types_csv import TypesTable, read_types_csv

DYNAMICS = "@dynamics:"


@dataclass(frozen=True)
class TypesSource:
    """Where a population's types CSV and dynamics_params json files are."""

    types_file: Path | None = None
    models_dirs: tuple[Path, ...] = ()


_SOURCES: dict[tuple[str, str], TypesSource] = {}


def _key(file: Path | str, population: str) -> tuple[str, str]:
    return (str(Path(file).resolve()), population)


def register_types_source(file: Path | str, population: str, source: TypesSource) -> None:
    """Tell every future reader of (file, population) where its CSV and json files are."""
    _SOURCES[_key(file, population)] = source


def types_source(file: Path | str, population: str) -> TypesSource | None:
    return _SOURCES.get(_key(file, population))


def selection(ids: np.ndarray) -> libsonata.Selection:
    return libsonata.Selection(np.asarray(ids, dtype=np.uint64))


@lru_cache(maxsize=32)
def _type_ids(file: str, mtime: float, group: str, population: str, dataset: str) -> np.ndarray:
    """The whole `node_type_id` / `edge_type_id` column of a population (read once)."""
    try:
        with h5py.File(file, "r") as f:
            data = f.get(f"{group}/{population}/{dataset}")
            if data is None:
                raise CircuitError(
                    f"no '{dataset}' dataset, needed to merge the types file",
                    file=file,
                    key=f"{group}/{population}",
                )
            return np.asarray(data[...], dtype=np.int64)
    except OSError as exc:
        raise CircuitError(f"cannot read {dataset}: {exc}", file=file) from None


@lru_cache(maxsize=256)
def _json_scalars(path: Path, mtime: float) -> dict[str, float]:
    """Top-level numeric entries of a dynamics_params json file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CircuitError(f"cannot read dynamics_params: {exc}", file=path) from None
    if not isinstance(data, dict):
        return {}
    return {
        k: float(v)
        for k, v in data.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def find_model_file(name: str, dirs: tuple[Path, ...], file: Path, key: str) -> Path:
    """The dynamics_params file `name` in the first of `dirs` that has it."""
    candidate = Path(name)
    if candidate.is_absolute() and candidate.is_file():
        return candidate
    for directory in dirs:
        if (directory / name).is_file():
            return directory / name
    where = ", ".join(map(str, dirs)) or "no models directory configured"
    raise CircuitError(
        f"dynamics_params file '{name}' not found (looked in {where})", file=file, key=key
    )


class AttributeReader:
    """Reads attributes of a libsonata Node/EdgePopulation for a selection of ids."""

    def __init__(self, storage: Any, file: Path, source: TypesSource | None = None):
        self.storage = storage
        self.file = Path(file)
        name = getattr(storage, "name", "")
        self.source = source if source is not None else types_source(self.file, name)
        self.is_edges = isinstance(storage, libsonata.EdgePopulation)
        self._table: TypesTable | None = None
        self._json_names: set[str] | None = None

    # What exists.

    @property
    def table(self) -> TypesTable | None:
        """The types CSV of this population, if the circuit config names one."""
        if self._table is None and self.source and self.source.types_file:
            column = "edge_type_id" if self.is_edges else "node_type_id"
            self._table = read_types_csv(self.source.types_file, column)
        return self._table

    def _h5_names(self) -> set[str]:
        return set(self.storage.attribute_names)

    def _csv_names(self) -> set[str]:
        return set(self.table.names) if self.table is not None else set()

    def json_names(self) -> set[str]:
        """Numeric parameters defined by any dynamics_params json of this population."""
        if self._json_names is None:
            names: set[str] = set()
            if self.source and self.source.models_dirs and self._has_plain("dynamics_params"):
                all_ids = np.arange(self.storage.size, dtype=np.uint64)
                for file in set(self._plain("dynamics_params", all_ids).tolist()):
                    if isinstance(file, str) and file:
                        names |= set(_json_scalars(*self._json_file(file)))
            self._json_names = names
        return self._json_names

    def names(self) -> set[str]:
        dynamics = set(self.storage.dynamics_attribute_names) | self.json_names()
        return self._h5_names() | self._csv_names() | {DYNAMICS + n for n in dynamics}

    def _has_plain(self, name: str) -> bool:
        return name in self._h5_names() or name in self._csv_names()

    def has(self, name: str) -> bool:
        if name.startswith(DYNAMICS):
            dyn = name[len(DYNAMICS) :]
            return dyn in self.storage.dynamics_attribute_names or dyn in self.json_names()
        return self._has_plain(name)

    def from_types_file(self, name: str) -> bool:
        """True when `name` comes from the types CSV (not per node/edge in the h5)."""
        return name not in self._h5_names() and name in self._csv_names()

    # Reading.

    def read(self, name: str, sel: Any) -> np.ndarray:
        """Values for `sel` (a libsonata Selection or an array of ids)."""
        if not isinstance(sel, libsonata.Selection):
            sel = selection(sel)
        try:
            if name.startswith(DYNAMICS):
                dyn = name[len(DYNAMICS) :]
                if dyn in self.storage.dynamics_attribute_names:
                    return np.asarray(self.storage.get_dynamics_attribute(dyn, sel))
                if dyn in self.json_names():
                    return self._json_values(dyn, sel)
                return np.asarray(self.storage.get_dynamics_attribute(dyn, sel))
            return self._plain(name, sel)
        except libsonata.SonataError as exc:
            raise CircuitError(f"cannot read attribute: {exc}", file=self.file, key=name) from None

    def _plain(self, name: str, sel: Any) -> np.ndarray:
        if not isinstance(sel, libsonata.Selection):
            sel = selection(sel)
        if name in self._h5_names() or name not in self._csv_names():
            return np.asarray(self.storage.get_attribute(name, sel))
        ids = np.asarray(sel.flatten(), dtype=np.int64)
        return self.table.values(name, self.type_ids()[ids])

    def type_ids(self) -> np.ndarray:
        """node_type_id / edge_type_id of every element of the population."""
        group, dataset = ("edges", "edge_type_id") if self.is_edges else ("nodes", "node_type_id")
        path = str(self.file.resolve())
        mtime = self.file.stat().st_mtime
        return _type_ids(path, mtime, group, self.storage.name, dataset)

    def _json_file(self, name: str) -> tuple[Path, float]:
        path = find_model_file(name, self.source.models_dirs, self.file, "dynamics_params")
        return path, path.stat().st_mtime

    def _json_values(self, param: str, sel: Any) -> np.ndarray:
        files = self._plain("dynamics_params", sel)
        out = np.full(len(files), np.nan)
        for file in set(files.tolist()):
            if isinstance(file, str) and file:
                value = _json_scalars(*self._json_file(file)).get(param, np.nan)
                out[files == file] = value
        return out

    def read_optional(self, name: str, sel: Any, default: float, n: int) -> np.ndarray:
        """Float values, `default` where absent (also for types whose CSV/json lacks it)."""
        if self.has(name):
            values = self.read(name, sel).astype(np.float64)
            return np.where(np.isnan(values), default, values)
        return np.full(n, default, dtype=np.float64)
