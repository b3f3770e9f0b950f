"""Morphology files: find one in a directory or a merged .h5 container and read it with morphio.

Building a cell's NEURON sections from what is read here is engine.managers.cells.morphology.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import h5py
import morphio

from engine.errors import CircuitError

log = logging.getLogger(__name__)

MORPHOLOGY_EXTENSIONS = ("h5", "asc", "swc")
_CONTAINER_SUFFIXES = (".h5", ".hdf5")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_collections: dict[Path, tuple[morphio.Collection, set[str]]] = {}


def _clean(exc: BaseException) -> str:
    """morphio's message on one line, without colour codes."""
    return " ".join(_ANSI.sub("", str(exc)).split()) or type(exc).__name__


def _container_of(path: Path) -> Path | None:
    """The merged .h5 file holding `path` (written as container/cell_name), if any."""
    parent = path.parent
    if parent.suffix.lower() in _CONTAINER_SUFFIXES and parent.is_file():
        return parent
    return None


def _collection(container: Path) -> tuple[morphio.Collection, set[str]]:
    """One open Collection (and its cell names) per container: opening HDF5 is slow."""
    found = _collections.get(container)
    if found is None:
        with h5py.File(container, "r") as f:
            names = set(f.keys())
        found = _collections[container] = (morphio.Collection(str(container)), names)
    return found


def read_morphology(path: Path) -> morphio.Morphology:
    """Parse one morphology; problems become a CircuitError naming the file.

    morphio's warnings (zero diameters, ...) are collected instead of printed: a network
    shares few files across thousands of cells, so one debug line per file is enough.
    """
    path = Path(path)
    collector = morphio.WarningHandlerCollector()
    container = None if path.is_file() else _container_of(path)
    try:
        if container is not None:
            collection, names = _collection(container)
            if path.name not in names:  # morphio would print HDF5's error stack first
                raise CircuitError(f"no morphology '{path.name}' in this container", file=path)
            morph = collection.load(path.name, warning_handler=collector)
        elif path.is_file():
            morph = morphio.Morphology(str(path), warning_handler=collector)
        else:
            raise CircuitError("morphology file not found", file=path)
    except morphio.MorphioError as exc:
        raise CircuitError(f"cannot read morphology: {_clean(exc)}", file=path) from exc
    except (OSError, RuntimeError) as exc:
        raise CircuitError(f"cannot read morphology: {_clean(exc)}", file=path) from exc
    emitted = collector.get_all()
    if emitted:
        kinds = sorted({type(e.warning).__name__ for e in emitted})
        log.debug("%s: %d morphio warnings (%s)", path, len(emitted), ", ".join(kinds))
    return morph


def _split_extension(name: str) -> tuple[str, str | None]:
    """('cell', 'swc') for 'cell.swc'; unknown suffixes stay part of the name."""
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix.lower() in MORPHOLOGY_EXTENSIONS:
        return stem, suffix
    return name, None


def resolve_morphology_path(morph_dir: Path, name: str, ext: str | None) -> Path:
    """The file for morphology `name` in `morph_dir` (a directory or a merged .h5 file).

    `ext` is the format the config points at (e.g. 'h5' for alternate_morphologies h5v1);
    it replaces an extension already in `name`. Without `ext` an extension in `name` is
    used as is, else the known formats are tried. A cell inside a merged container is
    returned as `container.h5/cell_name`, which `read_morphology` understands.
    """
    morph_dir = Path(morph_dir)
    stem, own_ext = _split_extension(str(name))
    if morph_dir.is_file():
        if morph_dir.suffix.lower() not in _CONTAINER_SUFFIXES:
            raise CircuitError("morphology location is neither a directory nor .h5", file=morph_dir)
        return morph_dir / stem
    if not morph_dir.is_dir():
        raise CircuitError("morphology directory not found", file=morph_dir)
    wanted = ext.lstrip(".") if ext else own_ext
    exts = [wanted] if wanted else list(MORPHOLOGY_EXTENSIONS)
    candidates = [f"{stem}.{e}" for e in exts] + [f"{stem}.{e.upper()}" for e in exts]
    for candidate in candidates:
        if (morph_dir / candidate).is_file():
            return morph_dir / candidate
    looked = ", ".join(candidates[: len(exts)])
    raise CircuitError(
        f"morphology '{name}' not found (looked for {looked})", file=morph_dir / candidates[0]
    )
