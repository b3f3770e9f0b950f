"""Synthetic neuron morphologies that look like reconstructions, in swc, asc and h5.

Generated circuits and the tests need detailed cells without shipping other projects'
files: a soma outline (contour) or a single-point soma, one axon, several basal trees and
an apical tree, with a chosen number of sections per neurite type, tapering diameters and
several 3-d points per section. The same tree is written in every format:

* asc and h5 through morphio (contour soma; a child section starts at its parent's last
  point, as morphio reads these formats);
* swc written here: children do not repeat the fork point (each sample's parent is the
  fork), the soma is the outline as a chain of zero-radius samples (how outlines are
  exported to swc; the engine reads that chain as a contour) or one sample for a sphere.

So the asc, h5 and swc forms of one cell give the same sections, lengths and areas.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import morphio
import morphio.mut
import numpy as np

from engine.io.atomic import atomic_path

PathLike = str | os.PathLike[str]

AXON, BASAL, APICAL = 2, 3, 4
SECTION_TYPES = {
    AXON: morphio.SectionType.axon,
    BASAL: morphio.SectionType.basal_dendrite,
    APICAL: morphio.SectionType.apical_dendrite,
}
POINTS_PER_SECTION = 7
MIN_DIAMETER = 0.46


@dataclass
class Section:
    type: int
    parent: int  # index into the cell's sections, -1 for a root
    points: np.ndarray  # (n, 3) um; a child's first point is its parent's last
    diameters: np.ndarray  # (n,) um


@dataclass
class SyntheticCell:
    """A neuron as sections in depth-first order (the order every format keeps)."""

    soma_points: np.ndarray  # (n, 3): outline in the xy plane, or one centre point
    soma_diameter: float  # the sphere's diameter for a single-point soma, else 0
    sections: list[Section] = field(default_factory=list)

    def count(self, kind: int) -> int:
        return sum(1 for s in self.sections if s.type == kind)


def _tree_shape(n_sections: int, rng: np.random.Generator) -> list[int]:
    """Parent index of each section of one tree of exactly `n_sections` (depth-first order).

    Leaves are split in two while two or more sections remain; one left over becomes a
    third child of a fork (a trifurcation, which reconstructions have too).
    """
    if n_sections < 1:
        return []
    children: dict[int, list[int]] = {0: []}
    leaves, made = [0], 1
    while n_sections - made >= 2:
        leaf = leaves.pop(int(rng.integers(len(leaves))))
        for _ in range(2):
            children[leaf].append(made)
            children[made] = []
            leaves.append(made)
            made += 1
    if made < n_sections:
        fork = next(k for k, c in children.items() if c)
        children[fork].append(made)
        children[made] = []
    order, parents, stack = [], {0: -1}, [0]
    while stack:  # depth-first, children in creation order
        node = stack.pop()
        order.append(node)
        for child in reversed(children[node]):
            parents[child] = node
            stack.append(child)
    position = {node: k for k, node in enumerate(order)}
    return [-1 if parents[n] < 0 else position[parents[n]] for n in order]


def _grow_tree(
    kind: int,
    n_sections: int,
    start: np.ndarray,
    direction: np.ndarray,
    diameter: float,
    rng: np.random.Generator,
    section_length: tuple[float, float],
    min_diameter: float,
) -> list[Section]:
    parents = _tree_shape(n_sections, rng)
    sections: list[Section] = []
    for parent in parents:
        if parent < 0:
            origin, heading, d0 = start, direction, diameter
        else:
            up = sections[parent]
            origin, d0 = up.points[-1], float(up.diameters[-1])
            heading = up.points[-1] - up.points[-2]
            heading = heading / np.linalg.norm(heading) + rng.normal(0.0, 0.6, 3)
        heading = heading / np.linalg.norm(heading)
        length = rng.uniform(*section_length)
        steps = np.linspace(0.0, length, POINTS_PER_SECTION)
        wiggle = rng.normal(0.0, 0.08 * length / POINTS_PER_SECTION, (POINTS_PER_SECTION, 3))
        wiggle[0] = 0.0
        points = origin + np.outer(steps, heading) + wiggle
        d1 = max(min_diameter, d0 * 0.8)
        diameters = np.linspace(d0, d1, POINTS_PER_SECTION)
        # 3 decimals, as reconstructions are written: every reader (morphio, Import3d) then
        # gets the same float32 values from each format
        points = np.round(points, 3)
        points[0] = origin
        diameters = np.round(diameters, 3)
        diameters[0] = d0
        sections.append(Section(kind, parent, points, diameters))
    return sections


def synthetic_cell(
    seed: int = 0,
    *,
    n_axon: int = 128,
    n_basal: int = 66,
    n_apical: int = 130,
    basal_trees: int = 10,
    contour: bool = True,
    soma_radius: tuple[float, float] = (10.0, 13.0),
    diameters: tuple[float, float, float] = (1.5, 1.6, 3.5),
    lengths: tuple[float, float, float] = (120.0, 60.0, 75.0),
    min_diameter: float = MIN_DIAMETER,
) -> SyntheticCell:
    """A pyramidal-like cell; the defaults resemble a reconstructed L5 cell (324 sections,
    ~15 mm of axon, ~4 mm basal and ~10 mm apical dendrite, a 20 x 26 um soma outline)."""
    rng = np.random.default_rng(seed)
    rx, ry = soma_radius
    if contour:
        angle = np.linspace(0.0, 2.0 * np.pi, 24, endpoint=False)
        jitter = 1.0 + rng.uniform(-0.05, 0.05, angle.size)
        soma = np.column_stack([rx * jitter * np.cos(angle), ry * jitter * np.sin(angle),
                                np.zeros(angle.size)])  # fmt: skip
        cell = SyntheticCell(np.round(soma, 3), 0.0)
    else:
        cell = SyntheticCell(np.zeros((1, 3)), 2.0 * rx)

    def rim(direction: np.ndarray) -> np.ndarray:
        d = direction / np.linalg.norm(direction)
        return np.round(np.array([rx * d[0], ry * d[1], 0.0]) * 1.05 + [0.0, 0.0, d[2]], 3)

    # root diameters and mean section lengths of the axon, basal and apical trees
    (d_axon, d_basal, d_apical), (l_axon, l_basal, l_apical) = diameters, lengths
    trees = [(AXON, n_axon, np.array([0.0, -1.0, 0.1]), d_axon, (l_axon / 2, l_axon * 1.5))]
    counts = np.full(basal_trees, n_basal // max(basal_trees, 1))
    counts[: n_basal - counts.sum()] += 1
    for k, n in enumerate(counts):
        angle = np.pi * (0.15 + 0.7 * k / max(basal_trees - 1, 1))
        trees.append((BASAL, int(n), np.array([np.cos(angle) * 2, -np.sin(angle), 0.2]),
                      d_basal, (l_basal / 2, l_basal * 1.5)))  # fmt: skip
    apical = (l_apical / 2, l_apical * 1.5)
    trees.append((APICAL, n_apical, np.array([0.05, 1.0, 0.05]), d_apical, apical))
    for kind, n, direction, diameter, lengths in trees:
        if n <= 0:
            continue
        offset = len(cell.sections)
        grown = _grow_tree(kind, n, rim(direction), direction, diameter, rng, lengths, min_diameter)
        for section in grown:
            if section.parent >= 0:
                section.parent += offset
            cell.sections.append(section)
    return cell


def to_morphio(cell: SyntheticCell) -> morphio.mut.Morphology:
    """The cell as a mutable morphio morphology (for asc and h5)."""
    morph = morphio.mut.Morphology()
    if cell.soma_diameter > 0:
        morph.soma.points = cell.soma_points.tolist()
        morph.soma.diameters = [cell.soma_diameter]
        morph.soma.type = morphio.SomaType.SOMA_SINGLE_POINT
    else:
        morph.soma.points = cell.soma_points.tolist()
        morph.soma.diameters = [0.0] * len(cell.soma_points)
        morph.soma.type = morphio.SomaType.SOMA_SIMPLE_CONTOUR
    made: list[morphio.mut.Section] = []
    for section in cell.sections:
        level = morphio.PointLevel(section.points.tolist(), section.diameters.tolist())
        if section.parent < 0:
            made.append(morph.append_root_section(level, SECTION_TYPES[section.type]))
        else:
            made.append(made[section.parent].append_section(level))
    return morph


def swc_text(cell: SyntheticCell) -> str:
    """SWC rows: soma samples first, then every section without its repeated fork point."""
    rows = []
    if cell.soma_diameter > 0:
        x, y, z = cell.soma_points[0]
        rows.append((1, 1, x, y, z, cell.soma_diameter / 2.0, -1))
    else:
        for k, (x, y, z) in enumerate(cell.soma_points):
            rows.append((k + 1, 1, x, y, z, 0.0, k if k else -1))
    last_sample: list[int] = []
    for section in cell.sections:
        parent = 1 if section.parent < 0 else last_sample[section.parent]
        skip = 0 if section.parent < 0 else 1
        for point, diameter in zip(section.points[skip:], section.diameters[skip:], strict=True):
            sample = len(rows) + 1
            rows.append((sample, section.type, *point, diameter / 2.0, parent))
            parent = sample
        last_sample.append(parent)
    lines = ["# synthetic neuron written by sonatasim (engine.generate.morphologies)"]
    lines += [
        " ".join([str(i), str(t), *(repr(float(v)) for v in (x, y, z, r)), str(p)])
        for i, t, x, y, z, r, p in rows
    ]
    return "\n".join(lines) + "\n"


def write_cell(cell: SyntheticCell, path: PathLike) -> Path:
    """Write `cell` to `path`; the format comes from its extension (.swc/.asc/.h5, any case)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    if ext == ".swc":
        with atomic_path(path) as tmp:
            tmp.write_text(swc_text(cell))
    elif ext in (".asc", ".h5"):
        with atomic_path(path) as tmp:
            # morphio picks the writer by the (lower-case) extension of the name it is given
            target = tmp.with_name(tmp.name + ext)
            to_morphio(cell).write(str(target))
            target.replace(tmp)
    else:
        raise ValueError(f"unknown morphology format: {path}")
    return path


def write_morphology_formats(
    directories: dict[str, Path], name: str, cell: SyntheticCell, *, upper_case: bool = False
) -> dict[str, Path]:
    """The same cell as `<dir>/<name>.<ext>` for each {ext: dir} (e.g. the swc, asc and h5
    directories of one population); `upper_case` spells the extension `.ASC` / `.SWC`."""
    written = {}
    for ext, directory in directories.items():
        spelled = ext.upper() if upper_case else ext
        written[ext] = write_cell(cell, Path(directory) / f"{name}.{spelled}")
    return written


# Directory names of an OBI circuit's morphology release: one per format.
FORMAT_DIRS = {"swc": "swc", "asc": "ascii", "h5": "h5v1"}
ALTERNATE_KEYS = {"asc": "neurolucida-asc", "h5": "h5v1"}


def obi_morphology_name(k: int, *, length: int = 0) -> str:
    """A name as OBI circuits spell them: dotted scale factors, no extension; `length`
    pads it with more clone suffixes (real names reach ~150 characters)."""
    scale = 0.9 + 0.025 * (k % 5)
    name = (
        f"dend-C{60114 + k:06d}A{k % 9}_axon-C{61010 + 7 * k:06d}A{(k + 3) % 9}"
        f"_-_Scale_x1.000_y{scale:.3f}_z1.000_-_Clone_{k + 1}"
    )
    while len(name) < length:
        name += f"_-_Clone_{len(name)}"
    return name


def write_obi_morphologies(
    root: PathLike,
    cells: dict[str, SyntheticCell],
    *,
    formats: tuple[str, ...] = ("swc", "asc", "h5"),
    upper_case: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """Write each {name: cell} in every format under `root/<format dir>`; the names in
    `upper_case` get `.ASC`/`.SWC`/`.H5` spellings. Returns the SONATA `components` keys:
    `morphologies_dir` (swc) and `alternate_morphologies` (h5v1, neurolucida-asc)."""
    root = Path(root)
    dirs = {ext: root / FORMAT_DIRS[ext] for ext in formats}
    for name, cell in cells.items():
        write_morphology_formats(dirs, name, cell, upper_case=name in upper_case)
    components: dict[str, object] = {}
    if "swc" in dirs:
        components["morphologies_dir"] = str(dirs["swc"])
    alternates = {ALTERNATE_KEYS[e]: str(d) for e, d in dirs.items() if e in ALTERNATE_KEYS}
    if alternates:
        components["alternate_morphologies"] = alternates
    return components
