"""bmtk spike inputs read other than from SONATA/h5/csv files: `nwb` files and `function` generators.

* `module: nwb`: bmtk's own layout (`/processing/<trial>/spike_train/<node_id>/data`, ms;
  `trial` names the group when there are several), read with h5py as bmtk does, or an
  NWB 2 file (pynwb): the `units` table, unit id = node id, `spike_times` in seconds as
  NWB prescribes (converted to ms).
* `module: function`: `spikes_function` names a Python function `f(node, sim)` returning
  the spike times (ms) of one virtual node, as bmtk's `@spikes_generator` functions do.
  SECURITY: this runs user code. It is only looked up in a `.py` file in the simulation
  config's own folder: `"spikes_function": "generators:poisson_train"` (or
  `generators.poisson_train`) loads `<config dir>/generators.py`; anything else (a bare
  name, a package path, a module outside that folder) is refused, so no other file there
  (e.g. a bmtk run script) is executed by accident. `node` is a dict of the
  node's attributes (with `node_id`, `population`), `sim` has `dt`, `tstop`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import h5py
import numpy as np

from engine.errors import ConfigError

S_TO_MS = 1000.0
Trains = dict[str, tuple[np.ndarray, np.ndarray]]


def read_nwb_spikes(path: Path, population: str | None, trial: str | None, key: str) -> Trains:
    """{population: (node ids, times ms)} of an NWB spike file."""
    if population is None:
        raise ConfigError("nwb spikes need a node_set naming their population", key=key)
    with h5py.File(path, "r") as f:
        if "processing" in f and any("spike_train" in g for g in f["processing"].values()):
            groups = list(f["processing"])
            if trial is None and len(groups) != 1:
                raise ConfigError(f"several trials {groups}: say which with 'trial'", key=key)
            train = f["processing"][trial or groups[0]]["spike_train"]
            ids, times = [], []
            for node, group in train.items():
                data = np.asarray(group["data"][()], dtype=np.float64)
                ids.append(np.full(data.size, int(node), np.uint64))
                times.append(data)
            return {population: _sorted(ids, times)}
    return {population: _nwb2_units(path, key)}


def _nwb2_units(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    import pynwb

    try:
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            units = io.read().units
            if units is None:
                raise ConfigError("NWB file has no units table", file=path, key=key)
            ids = [np.full(len(units["spike_times"][k]), int(units.id[k]), np.uint64)
                   for k in range(len(units))]  # fmt: skip
            times = [
                np.asarray(units["spike_times"][k], float) * S_TO_MS for k in range(len(units))
            ]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read NWB spikes: {exc}", file=path, key=key) from None
    return _sorted(ids, times)


def _sorted(ids: list, times: list) -> tuple[np.ndarray, np.ndarray]:
    if not ids:
        return np.zeros(0, np.uint64), np.zeros(0)
    node, t = np.concatenate(ids), np.concatenate(times)
    order = np.lexsort((node, t))
    return node[order], t[order]


def find_function(name: str, folder: Path, key: str) -> Any:
    """The generator `name` from a .py file in the config's own folder (never elsewhere)."""
    module, _, function = name.replace(":", ".").rpartition(".")
    path = folder / f"{module}.py"
    if not module or "/" in module or "." in module or not path.is_file():
        raise ConfigError(
            f"spikes_function {name!r}: give it as 'module:function' with module.py in the"
            f" config's folder {folder} (user code is only run from there)",
            key=key,
        )
    spec = importlib.util.spec_from_file_location(f"sonatasim_user_{path.stem}", path)
    loaded = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(loaded)
    except Exception as exc:  # noqa: BLE001 (user code: any failure is the user's)
        raise ConfigError(f"cannot load {path}: {exc!r}", key=key) from None
    if not callable(getattr(loaded, function, None)):
        raise ConfigError(f"spikes_function {name!r}: {path} defines no {function}()", key=key)
    return getattr(loaded, function)


def function_spikes(
    block: dict, population: str | None, keep: Any, readers: dict, folder: Path, run: dict, key: str
) -> Trains:
    """Call the generator once per node of the input's population (ascending node id)."""
    if population is None or population not in readers:
        raise ConfigError("function spikes need a node_set naming their population", key=key)
    name = block.get("spikes_function")
    if not name:
        raise ConfigError("function input without spikes_function", key=f"{key}.spikes_function")
    generator = find_function(str(name), folder, f"{key}.spikes_function")
    reader = readers[population]
    size = int(reader.storage.size)
    nodes = np.arange(size, dtype=np.uint64) if keep is None else np.asarray(keep, np.uint64)
    columns = {c: reader.read(c, nodes) for c in sorted(reader.names()) if not c.startswith("@")}
    sim = SimpleNamespace(dt=float(run.get("dt", 0.025)), tstop=float(run.get("tstop", 0.0)))
    ids, times = [], []
    for k, node in enumerate(nodes.tolist()):
        attributes = {c: v[k] for c, v in columns.items()}
        attributes.update(node_id=int(node), population=population)
        try:
            spikes = np.asarray(generator(attributes, sim), dtype=np.float64).reshape(-1)
        except Exception as exc:  # noqa: BLE001 (user code)
            raise ConfigError(
                f"spikes_function {name!r} failed on node {node}: {exc!r}", key=key
            ) from None
        ids.append(np.full(spikes.size, node, np.uint64))
        times.append(np.sort(spikes))
    return {population: _sorted(ids, times)}
