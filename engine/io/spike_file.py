"""SONATA spike files: write ours (atomically) and read any, including the legacy Allen layout.

Layout written: `/spikes/<population>/node_ids` (uint64) and `/timestamps` (float64, units
"ms"), with the population group's `sorting` attribute as the uint8 HDF5 enum the spec
defines, so libsonata's SpikeReader and other SONATA tools can read our output.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from engine.errors import CircuitError
from engine.io.atomic import atomic_path

PathLike = str | os.PathLike[str]

SORTING_VALUES = {"none": 0, "by_id": 1, "by_time": 2}
SORTING_DTYPE = h5py.enum_dtype(SORTING_VALUES, basetype=np.uint8)

SpikeTrains = dict[str, tuple[np.ndarray, np.ndarray]]


def sort_spikes(
    node_ids: np.ndarray, timestamps: np.ndarray, sort_order: str
) -> tuple[np.ndarray, np.ndarray]:
    """Order spikes as the `sorting` attribute promises: by (time, id), (id, time) or not."""
    if sort_order not in SORTING_VALUES:
        raise ValueError(f"sort_order must be one of {sorted(SORTING_VALUES)}, not {sort_order!r}")
    if sort_order == "none":
        return node_ids, timestamps
    keys = (node_ids, timestamps) if sort_order == "by_time" else (timestamps, node_ids)
    order = np.lexsort(keys)
    return node_ids[order], timestamps[order]


def write_spike_file(
    path: PathLike,
    spikes: dict[str, tuple[np.ndarray, np.ndarray]],
    sort_order: str = "by_time",
) -> None:
    """Write `{population: (node_ids, timestamps_ms)}` as a SONATA spike file, atomically."""
    if sort_order not in SORTING_VALUES:
        raise ValueError(f"sort_order must be one of {sorted(SORTING_VALUES)}, not {sort_order!r}")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        root = f.create_group("spikes")
        for population, (ids, times) in spikes.items():
            ids = np.asarray(ids).astype(np.uint64, copy=False).reshape(-1)
            times = np.asarray(times).astype(np.float64, copy=False).reshape(-1)
            if ids.shape != times.shape:
                raise ValueError(
                    f"population {population!r}: {ids.size} node ids but {times.size} timestamps"
                )
            ids, times = sort_spikes(ids, times, sort_order)
            group = root.create_group(population)
            group.attrs.create("sorting", SORTING_VALUES[sort_order], dtype=SORTING_DTYPE)
            group.create_dataset("node_ids", data=ids)
            group.create_dataset("timestamps", data=times).attrs["units"] = "ms"


def _inspect(path: Path) -> bool:
    """Check the layout before libsonata sees it; True for the legacy Allen layout.

    The legacy layout has datasets `/spikes/gids` and `/spikes/timestamps` and no
    populations. Checking here gives errors that name the population and file, not an
    HDF5 stack trace.
    """
    try:
        with h5py.File(path, "r") as f:
            spikes = f.get("spikes")
            if not isinstance(spikes, h5py.Group):
                raise CircuitError("no 'spikes' group in the spike file", file=str(path))
            if isinstance(spikes.get("timestamps"), h5py.Dataset):
                return True
            for name, group in spikes.items():
                for dataset in ("node_ids", "timestamps"):
                    if not isinstance(group, h5py.Group) or dataset not in group:
                        raise CircuitError(
                            f"population {name!r} lacks the '{dataset}' dataset",
                            file=str(path),
                            key=f"spikes/{name}/{dataset}",
                        )
            return False
    except OSError as exc:
        raise CircuitError(f"cannot read the spike file as HDF5: {exc}", file=str(path)) from exc


def read_spike_file(path: PathLike, *, default_population: str = "default") -> SpikeTrains:
    """Read every population of a spike file as `{population: (node_ids, timestamps)}`.

    SONATA files go through libsonata; the legacy Allen layout (no populations) is read with
    h5py and returned under `default_population`.
    """
    path = Path(path)
    if not path.is_file():
        raise CircuitError("spike file not found", file=str(path))
    if _inspect(path):
        with h5py.File(path, "r") as f:
            spikes = f["spikes"]
            ids_key = "gids" if "gids" in spikes else "node_ids"
            if ids_key not in spikes:
                raise CircuitError("legacy spike file lacks 'gids'", file=str(path), key="spikes")
            ids = np.asarray(spikes[ids_key][...], dtype=np.uint64).reshape(-1)
            times = np.asarray(spikes["timestamps"][...], dtype=np.float64).reshape(-1)
        if ids.shape != times.shape:
            raise CircuitError("gids and timestamps differ in length", file=str(path), key="spikes")
        return {default_population: (ids, times)}

    import libsonata

    result: SpikeTrains = {}
    try:
        reader = libsonata.SpikeReader(str(path))
        for population in sorted(reader.get_population_names()):
            data = reader[population].get_dict()
            result[population] = (
                np.asarray(data["node_ids"], dtype=np.uint64),
                np.asarray(data["timestamps"], dtype=np.float64),
            )
    except (libsonata.SonataError, RuntimeError, KeyError) as exc:
        raise CircuitError(f"malformed SONATA spike file: {exc}", file=str(path)) from exc
    return result
