"""Morphologies into NEURON: build a cell's sections ourselves from what morphio read.

Templates call `sonatasim_morphology.load(this, dir, name)` from `init()`; we create the
sections inside the template object in SONATA section order (id 0 = soma, id k = morphio
section k-1), so `afferent_section_id` indexes the list returned here.

Conventions (taken from the behaviour of NEURON's Import3d so areas and lengths agree):
* single-point soma and NeuroMorpho three-point soma: a sphere of diameter d becomes a
  3-point cylinder of length d and diameter d along x (lateral area = sphere area);
* contour soma (asc/h5): resampled outline, principal axis, 21 slices along it whose width
  gives the diameter (`contour_to_centroid`);
* stack of soma cylinders (swc): the points as they are; a stack whose diameters are all
  zero is an outline exported to swc and is treated as a contour (zero area can't run);
* root neurites connect their 0 end to soma(0.5), except on a cylinder stack where a root
  nearest the first/last soma point attaches at soma(0)/soma(1). Root sections keep their
  own first point (no soma point is prepended) and get a pt3dstyle logical connection, so
  NEURON never moves them from their file coordinates.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import morphio
import numpy as np

from engine.errors import CircuitError
from engine.io.morphology import read_morphology, resolve_morphology_path

_ARRAYS = ("soma", "dend", "apic", "axon")
# Keyed by the SWC / SONATA type codes morphio's section_types holds (2 axon, 3 basal, 4
# apical); other codes (custom types) go to `dend` and only to the `all` list.
_ARRAY_OF_TYPE = {2: "axon", 3: "dend", 4: "apic"}
_LIST_OF_TYPE = {2: "axonal", 3: "basal", 4: "apical"}
_CONTOUR_SAMPLES = 101  # points along the resampled outline
_CONTOUR_SLICES = 21  # soma 3-d points along the principal axis


def _sphere(center: np.ndarray, diameter: float) -> np.ndarray:
    """A sphere as Import3d draws it: 3 points along x, length = diameter."""
    x, y, z = (float(v) for v in center)
    r = diameter / 2.0
    return np.array([[x - r, y, z, diameter], [x, y, z, diameter], [x + r, y, z, diameter]])


def contour_to_centroid(outline: np.ndarray) -> np.ndarray:
    """A soma outline as 21 (x, y, z, diam) points along its principal axis.

    The outline is resampled at 101 points evenly spaced along its xy path from the first
    to the last traced point (so the axis does not depend on how densely it was traced)
    and centred on their mean. The principal axis is the covariance eigenvector with the
    largest eigenvalue; the width direction is the middle eigenvector projected on the xy
    plane. The outline is cut at its two extreme points into two sides; each slice's
    diameter is the distance between the sides; the end diameters are averaged with their
    neighbours to avoid zero. This reproduces Import3d's soma to float precision.
    """
    pts = np.asarray(outline, dtype=float)[:, :3]
    steps = np.hypot(*np.diff(pts[:, :2], axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    if along[-1] <= 0:
        raise ValueError("soma outline is degenerate (zero perimeter in the xy plane)")
    where = np.linspace(0.0, along[-1], _CONTOUR_SAMPLES)
    samples = np.column_stack([np.interp(where, along, pts[:, k]) for k in range(3)])
    center = samples.mean(axis=0)
    rel = samples - center
    values, vectors = np.linalg.eigh(rel.T @ rel)
    major = vectors[:, int(np.argmax(values))]
    middle = 3 - int(np.argmax(values)) - int(np.argmin(values))
    width = vectors[:, middle].copy()
    width[2] = 0.0  # Import3d measures widths in the xy plane (outlines are traced in xy)
    if np.linalg.norm(width) < 1e-6:  # an outline standing in a vertical plane
        width = vectors[:, middle].copy()
    width /= np.linalg.norm(width)
    pos, off = rel @ major, rel @ width
    start = int(np.argmax(pos))
    pos, off = np.roll(pos, -start), np.roll(off, -start)
    cut = int(np.argmin(pos))
    sides = [(pos[:cut][::-1], off[:cut][::-1]), (pos[cut:], off[cut:])]
    kept = []
    for p, o in sides:
        rising = np.concatenate([[True], p[1:] > p[:-1]])
        kept.append((p[rising], o[rising]))
    every = np.sort(np.concatenate([kept[0][0], kept[1][0]]))
    slices = np.linspace(every[1], every[-2], _CONTOUR_SLICES)
    diam = np.abs(np.interp(slices, *kept[0]) - np.interp(slices, *kept[1]))
    diam[0] = (diam[0] + diam[1]) / 2.0
    diam[-1] = (diam[-1] + diam[-2]) / 2.0
    xyz = center + np.outer(slices, major)
    result = np.column_stack([xyz, diam])
    if not np.all(np.isfinite(result)) or diam.max() <= 0:
        raise ValueError("soma outline is degenerate (its points do not enclose an area)")
    return result


def soma_points(morph: morphio.Morphology) -> tuple[np.ndarray, str]:
    """The soma's (x, y, z, diam) 3-d points and the kind of soma they came from."""
    soma = morph.soma
    pts = np.asarray(soma.points, dtype=float)
    diam = np.asarray(soma.diameters, dtype=float)
    kind = soma.type
    if len(pts) == 0:
        raise ValueError("the morphology has no soma")
    if len(pts) == 1 or kind == morphio.SomaType.SOMA_SINGLE_POINT:
        return _sphere(pts[0], float(diam[0])), "sphere"
    if kind == morphio.SomaType.SOMA_NEUROMORPHO_THREE_POINT_CYLINDERS:
        return _sphere(pts[0], float(diam[0])), "sphere"
    if kind == morphio.SomaType.SOMA_SIMPLE_CONTOUR or not np.any(diam > 0):
        if len(pts) < 3:
            raise ValueError(f"soma outline has {len(pts)} points, at least 3 are needed")
        return contour_to_centroid(pts), "contour"
    return np.column_stack([pts, diam]), "cylinders"


def _root_x(soma_xyz: np.ndarray, kind: str, first_point: np.ndarray) -> float:
    """Where a root neurite attaches on the soma section (see module docstring)."""
    if kind != "cylinders":
        return 0.5
    nearest = int(np.argmin(np.linalg.norm(soma_xyz - first_point, axis=1)))
    if nearest == 0:
        return 0.0
    return 1.0 if nearest == len(soma_xyz) - 1 else 0.5


def _point_at(xyz: np.ndarray, x: float) -> np.ndarray:
    """The 3-d position at arc fraction x of a polyline (for pt3dstyle)."""
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xyz, axis=0), axis=1))])
    if along[-1] <= 0:
        return xyz[0]
    return np.array([np.interp(x * along[-1], along, xyz[:, k]) for k in range(3)])


def _add_points(h: Any, sec: Any, pts: np.ndarray) -> None:
    """Replace `sec`'s 3-d points (one call per point: faster than building Vectors)."""
    h.pt3dclear(sec=sec)
    add = sec.pt3dadd
    for x, y, z, d in pts.tolist():
        add(x, y, z, d)


def instantiate_morphology(cell: Any, morph: morphio.Morphology) -> list[Any]:
    """Create `cell`'s sections from `morph`; return them in SONATA section order.

    Arrays the template does not declare fall back to `dend`; an array the morphology does
    not use is left as one unconnected placeholder section (hoc has no zero-length arrays)
    outside the SectionLists, as with Import3d.
    """
    from engine import simulator

    h = simulator.current().h
    where = cell.hname()
    declared = {name for name in _ARRAYS if hasattr(cell, name)}
    if not {"soma", "dend"} <= declared:
        raise CircuitError("the template must declare 'soma' and 'dend' sections", key=where)
    try:
        soma_pts, kind = soma_points(morph)
    except ValueError as exc:
        raise CircuitError(str(exc), key=where) from exc
    types = np.asarray(morph.section_types, dtype=int)
    counts = {"dend": 0, "apic": 0, "axon": 0}
    placement = []
    for kind_id in types.tolist():
        array = _ARRAY_OF_TYPE.get(kind_id, "dend")
        array = array if array in declared else "dend"
        placement.append((array, counts[array]))
        counts[array] += 1
    # Every declared array is re-created: hoc keeps an array's last size per template, so a
    # new instance would otherwise start with the previous cell's dend[66] etc.
    sizes = ", ".join(
        ["soma[1]"] + [f"{a}[{max(n, 1)}]" for a, n in counts.items() if a in declared]
    )
    if not h.execute1(f"create {sizes}", cell):
        raise CircuitError(f"could not create sections '{sizes}'", key=where)
    arrays = {a: getattr(cell, a) for a in _ARRAYS if a in declared}
    soma = arrays["soma"][0]
    sections = [soma] + [arrays[a][i] for a, i in placement]
    _add_points(h, soma, soma_pts)
    names = ("all", "somatic", "axonal", "basal", "apical")
    lists = {n: getattr(cell, n) for n in names if hasattr(cell, n)}
    lists = {n: sl for n, sl in lists.items() if sl is not None}
    for name in ("all", "somatic"):
        if name in lists:
            lists[name].append(soma)
    parent = np.full(len(types), -1, dtype=int)
    for parent_id, children in morph.connectivity.items():
        parent[children] = parent_id
    points = np.column_stack([morph.points, morph.diameters]).astype(float)
    offsets = np.asarray(morph.section_offsets, dtype=int)
    for i, sec in enumerate(sections[1:]):
        pts = points[offsets[i] : offsets[i + 1]]
        _add_points(h, sec, pts)
        if parent[i] < 0:
            x = _root_x(soma_pts[:, :3], kind, pts[0, :3])
            sec.connect(soma(x), 0)
            h.pt3dstyle(1, *_point_at(soma_pts[:, :3], x), sec=sec)
        else:
            sec.connect(sections[parent[i] + 1](1), 0)
        if "all" in lists:
            lists["all"].append(sec)
        group = _LIST_OF_TYPE.get(int(types[i]))
        if group in lists:
            lists[group].append(sec)
    return sections


class MorphologyLoader:
    """The Python object behind hoc's `sonatasim_morphology`; caches parsed files.

    Many cells share a morphology, so parsed files are kept in a small LRU cache. The
    sections of every cell it loaded are remembered (by hoc name) for `sections_of`.
    """

    def __init__(self, ext: str | None = None, cache_size: int = 64):
        self.ext = ext
        self.cache_size = cache_size
        self._cache: OrderedDict[Path, morphio.Morphology] = OrderedDict()
        self._sections: dict[str, list[Any]] = {}
        self.last_error: BaseException | None = None

    def morphology(self, path: Path) -> morphio.Morphology:
        """Parsed morphology for `path`, from the cache when possible."""
        path = Path(path)
        morph = self._cache.get(path)
        if morph is not None:
            self._cache.move_to_end(path)
            return morph
        morph = read_morphology(path)
        self._cache[path] = morph
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return morph

    def load(self, cell: Any, morph_dir: str, file_name: str) -> int:
        """Called from hoc: build `cell`'s sections; returns 0 as hoc functions do.

        hoc turns a Python exception into a generic hoc error, so the exception is also
        kept in `last_error` for the engine to re-raise with its real message.
        """
        self.last_error = None
        try:
            path = resolve_morphology_path(Path(str(morph_dir)), str(file_name), self.ext)
            morph = self.morphology(path)
            try:
                sections = instantiate_morphology(cell, morph)
            except CircuitError as exc:
                raise CircuitError(exc.plain_message, file=path, key=exc.key) from exc
        except Exception as exc:
            # not raised into hoc: NEURON would print the Python traceback; the engine
            # raises `last_error` once the template returns (or fails on the missing cell)
            self.last_error = exc
            return -1
        self._sections[cell.hname()] = sections
        return 0

    def load_path(self, cell: Any, path: str) -> int:
        """hoc's `morphio_read(cell, path)` (the name newer BBP templates call for .h5, which
        neurodamus provides): build `cell`'s sections from one file path.

        The template indexes (and may replace) the sections itself, so they are not
        remembered for `sections_of`: the engine reads the template's own section table.
        """
        self.last_error = None
        try:
            where = Path(str(path))
            morph = self.morphology(resolve_morphology_path(where.parent, where.name, self.ext))
            try:
                instantiate_morphology(cell, morph)
            except CircuitError as exc:
                raise CircuitError(exc.plain_message, file=where, key=exc.key) from exc
        except Exception as exc:  # kept, not raised into hoc (see `load`)
            self.last_error = exc
            return -1
        return 0

    def new_cell(self, template: Any, *args: Any) -> Any:
        """`template(*args)`, raising the loader's own error rather than hoc's generic one."""
        self.last_error = None
        try:
            cell = template(*args)
        except RuntimeError as exc:
            if self.last_error is not None:
                raise self.last_error from exc
            raise
        if self.last_error is not None:
            raise self.last_error
        return cell

    def sections_of(self, cell: Any) -> list[Any]:
        """The SONATA-ordered sections of a cell this loader built."""
        try:
            return self._sections[cell.hname()]
        except KeyError:
            raise KeyError(f"no morphology was loaded for {cell.hname()}") from None

    def forget(self, cell: Any) -> None:
        """Drop the remembered sections of a cell that is being deleted."""
        self._sections.pop(cell.hname(), None)

    def install(self, h: Any) -> MorphologyLoader:
        """Make this loader hoc's `sonatasim_morphology` (define templates after this)."""
        if not hasattr(h, "sonatasim_morphology"):
            h("objref sonatasim_morphology")
        h.sonatasim_morphology = self
        if not hasattr(h, "morphio_read"):  # what neurodamus' MorphIO.hoc defines
            h("proc morphio_read() { sonatasim_morphology.load_path($o1, $s2) }")
        return self


def section_areas_and_lengths(sections: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (um) and membrane areas (um2) per section, for tests and benchmarks."""
    lengths = np.array([sec.L for sec in sections], dtype=float)
    areas = np.array([sum(seg.area() for seg in sec) for sec in sections], dtype=float)
    return lengths, areas
