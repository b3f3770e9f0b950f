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


def split_morphology_name(name: str) -> tuple[str, str | None]:
    """('cell', 'swc') for 'cell.swc' or 'cell.SWC'; any other dot belongs to the name.

    OBI names such as `dend-C1_-_Scale_x1.000_y0.950_z1.000_-_Clone_1` carry no extension:
    only .swc, .asc and .h5 (any case) are ever treated as one, never `Path.suffix`.
    """
    stem, dot, suffix = str(name).rpartition(".")
    if dot and stem and suffix.lower() in MORPHOLOGY_EXTENSIONS:
        return stem, suffix
    return str(name), None


# alternate_morphologies keys and their extension, in neurodamus' order of preference
ALTERNATE_FORMATS = (("neurolucida-asc", "asc"), ("h5v1", "h5"))


def morphology_directory(
    morphologies_dir: Path | None, alternates: dict[str, Path]
) -> tuple[Path | None, str]:
    """(directory, extension) a population's cells are read from: an asc alternate, else
    an h5v1 one, else `morphologies_dir` with swc (neurodamus' choice, io/sonata_config.py)."""
    for key, ext in ALTERNATE_FORMATS:
        if key in alternates:
            return Path(alternates[key]), ext
    return (Path(morphologies_dir) if morphologies_dir is not None else None), "swc"


def morphology_file_name(name: str, ext: str) -> str:
    """The file that a node's `morphology` attribute names in a directory of format `ext`.

    SONATA stores the name without extension and the directory's kind gives it
    (`morphologies_dir` swc, `alternate_morphologies` h5v1 h5 / neurolucida-asc asc), as
    libsonata, bluepysnap and neurodamus do; bmtk circuits store the file name with its
    extension (bmtk joins it to the directory as is), which is then kept.
    """
    _, own = split_morphology_name(name)
    return str(name) if own else f"{name}.{ext.lstrip('.')}"


def _case_variants(file_name: str) -> list[str]:
    """`cell.asc`, then `cell.ASC` / `cell.Asc` spellings of the same known extension."""
    stem, own = split_morphology_name(file_name)
    if own is None:
        return [file_name]
    spellings = dict.fromkeys([own, own.lower(), own.upper(), own.capitalize()])
    return [f"{stem}.{e}" for e in spellings]


def resolve_morphology_path(morph_dir: Path, name: str, ext: str | None = None) -> Path:
    """The file for morphology `name` in `morph_dir` (a directory or a merged .h5 file).

    `ext` is the format of the directory (see `morphology_file_name`). Without it an
    extension in `name` is used, else the known formats are tried in turn (a template
    that passes a bare name). The extension's case on disk may differ (`cell.ASC`). A cell
    inside a merged container is returned as `container.h5/cell_name`, which
    `read_morphology` understands.
    """
    morph_dir = Path(morph_dir)
    stem, own_ext = split_morphology_name(str(name))
    if morph_dir.is_file():
        if morph_dir.suffix.lower() not in _CONTAINER_SUFFIXES:
            raise CircuitError("morphology location is neither a directory nor .h5", file=morph_dir)
        return morph_dir / stem
    if not morph_dir.is_dir():
        raise CircuitError("morphology directory not found", file=morph_dir)
    if ext or own_ext:
        wanted = [morphology_file_name(str(name), ext or "")]
    else:
        wanted = [f"{name}.{e}" for e in MORPHOLOGY_EXTENSIONS]
    candidates = [v for file_name in wanted for v in _case_variants(file_name)]
    for candidate in candidates:
        if (morph_dir / candidate).is_file():
            return morph_dir / candidate
    looked = ", ".join(wanted)
    raise CircuitError(
        f"morphology '{name}' not found (looked for {looked})", file=morph_dir / wanted[0]
    )


def template_file_name(morph_dir: Path, name: str, ext: str) -> str:
    """The file name a hoc template is given for `name`: the file as spelled on disk, so a
    template that picks its reader by extension sees `.asc`/`.ASC`/`.swc`/`.h5`; for a
    merged container `name.h5` (neurodamus' convention), resolved by our loader."""
    if Path(morph_dir).is_file():
        return morphology_file_name(name, ext)
    return resolve_morphology_path(Path(morph_dir), name, ext).name
