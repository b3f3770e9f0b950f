"""Node and edge types CSV files, as the Allen/bmtk dialect writes them.

One row per type id (`node_type_id` / `edge_type_id`), one column per attribute shared by
all nodes (edges) of that type: model_type, model_template, dynamics_params, morphology,
syn_weight, delay, ... libsonata ignores these files, so the engine reads them here.

Format accepted: a header line, then rows; fields separated by spaces (bmtk writes one
space; several are accepted), by commas or by tabs, chosen from the header line. Fields
holding spaces are double-quoted (pandas does that, e.g. `"['basal', 'apical']"`).
`NULL`, `None`, `NaN` and empty fields mean "no value for this type".
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import CircuitError

MISSING = {"", "null", "none", "nan", "na"}


@dataclass(frozen=True)
class TypesTable:
    """A parsed types CSV: type ids and typed columns, both in file row order."""

    path: Path
    id_column: str
    ids: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def rows_of(self, type_ids: np.ndarray) -> np.ndarray:
        """Row index of each type id; an id missing from the file is an error naming it."""
        type_ids = np.asarray(type_ids, dtype=np.int64)
        if type_ids.size == 0:
            return np.zeros(0, dtype=np.int64)
        order = np.argsort(self.ids, kind="stable")
        sorted_ids = self.ids[order]
        pos = np.searchsorted(sorted_ids, type_ids)
        pos = np.clip(pos, 0, max(sorted_ids.size - 1, 0))
        found = sorted_ids.size > 0 and np.all(sorted_ids[pos] == type_ids)
        if not found:
            known = set(self.ids.tolist())
            missing = sorted({int(t) for t in type_ids.tolist() if int(t) not in known})
            shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise CircuitError(
                f"{self.id_column} {shown} not in the types file",
                file=self.path,
                key=self.id_column,
            )
        return order[pos]

    def values(self, name: str, type_ids: np.ndarray) -> np.ndarray:
        """Column `name` for each of `type_ids` (the attribute of every node/edge)."""
        return self.columns[name][self.rows_of(type_ids)]


def _split_rows(text: str, path: Path) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise CircuitError("empty types file (no header line)", file=path)
    header = lines[0]
    if "\t" in header:
        return list(csv.reader(io.StringIO("\n".join(lines)), delimiter="\t"))
    if "," in header and " " not in header.strip():
        return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=","))
    # Only double quotes group (pandas quotes fields holding the separator); single quotes
    # are data, as in ['basal', 'apical'] written without spaces. Repeated spaces separate.
    text = "\n".join(line.strip() for line in lines)
    return list(csv.reader(io.StringIO(text), delimiter=" ", quotechar='"', skipinitialspace=True))


def _typed(values: list[str]) -> np.ndarray:
    """int64 when every value is an integer, float64 when numbers (NaN = missing), else str."""
    present = [v for v in values if v.strip().lower() not in MISSING]
    if present:
        try:
            ints = [int(v) for v in present]
            if len(present) == len(values):
                return np.array(ints, dtype=np.int64)
        except ValueError:
            pass
        try:
            return np.array(
                [np.nan if v.strip().lower() in MISSING else float(v) for v in values],
                dtype=np.float64,
            )
        except ValueError:
            pass
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v.strip().lower() in MISSING else v for v in values]
    return out


def parse_types_csv(text: str, path: Path, id_column: str) -> TypesTable:
    rows = _split_rows(text, path)
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if id_column not in header:
        raise CircuitError(
            f"no '{id_column}' column (columns: {', '.join(header)})", file=path, key=id_column
        )
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise CircuitError(
                f"row {number} has {len(row)} fields, the header has {len(header)}"
                " (quote values that contain spaces)",
                file=path,
            )
    columns = {name: _typed([row[i] for row in body]) for i, name in enumerate(header)}
    ids = columns.pop(id_column)
    if ids.dtype != np.int64:
        raise CircuitError(f"'{id_column}' values must be integers", file=path, key=id_column)
    unique, counts = np.unique(ids, return_counts=True)
    if np.any(counts > 1):
        raise CircuitError(
            f"{id_column} {int(unique[counts > 1][0])} appears twice", file=path, key=id_column
        )
    return TypesTable(path=path, id_column=id_column, ids=ids, columns=columns)


@lru_cache(maxsize=64)
def _cached(path: Path, mtime: float, id_column: str) -> TypesTable:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CircuitError(f"cannot read the types file: {exc}", file=path) from None
    return parse_types_csv(text, path, id_column)


def read_types_csv(path: str | Path, id_column: str) -> TypesTable:
    """Parse (once per process and file version) a node or edge types CSV file."""
    path = Path(path).resolve()
    if not path.is_file():
        raise CircuitError("types file not found", file=path, key=id_column)
    return _cached(path, path.stat().st_mtime, id_column)


def write_types_csv(path: str | Path, id_column: str, rows: list[dict[str, object]]) -> None:
    """Write a types CSV as bmtk does: space separated, quoted when needed, NULL = missing."""
    from engine.io.atomic import atomic_path

    names = [id_column] + sorted({k for row in rows for k in row} - {id_column})

    def cell(value: object) -> str:
        if value is None:
            return "NULL"
        text = str(value)
        return f'"{text}"' if (" " in text or not text) else text

    lines = [" ".join(names)]
    lines += [" ".join(cell(row.get(name)) for name in names) for row in rows]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
