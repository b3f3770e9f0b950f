"""Open an HDF5 file with h5py before a C++ reader does: a missing, truncated or non-HDF5
file then gives one line naming the file and key, not HDF5's diagnostic stack dump."""

from __future__ import annotations

from pathlib import Path

from engine.errors import CircuitError


def check_hdf5(path: Path, key: str) -> None:
    """Raise CircuitError unless `path` is an HDF5 file h5py can open and list."""
    import h5py

    if not Path(path).exists():
        raise CircuitError("file not found", file=path, key=key)
    if Path(path).is_dir():
        raise CircuitError("is a directory, not an HDF5 file", file=path, key=key)
    try:
        with h5py.File(path, "r") as handle:
            handle.visit(lambda name: None)  # walks the groups: a cut file fails here
    except (OSError, RuntimeError, KeyError) as exc:
        raise CircuitError(f"not a readable HDF5 file ({exc})", file=path, key=key) from None
