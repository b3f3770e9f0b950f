"""Reading NeuroML files once per process, and finding the components they define.

Why: a circuit names the same cell file for thousands of nodes; it is parsed once (by
libNeuroML), and anything the engine cannot run is refused before the run with one line
naming the file, the element and its id.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from engine.errors import CircuitError

# NeuroMLDocument list attribute -> NeuroML element name, for the components we run.
POINT_CELL_LISTS = {
    "iaf_cells": "iafCell",
    "iaf_ref_cells": "iafRefCell",
    "izhikevich_cells": "izhikevichCell",
    "izhikevich2007_cells": "izhikevich2007Cell",
    "ad_ex_ia_f_cells": "adExIaFCell",
}
SYNAPSE_LISTS = {
    "exp_one_synapses": "expOneSynapse",
    "exp_two_synapses": "expTwoSynapse",
    "alpha_synapses": "alphaSynapse",
    "gap_junctions": "gapJunction",
}
# Lists of elements the engine refuses (their NeuroML element name), checked when a file
# is asked for a cell or a synapse it does not define as a supported type.
REFUSED_LISTS = {
    "iaf_tau_cells": "iafTauCell",
    "iaf_tau_ref_cells": "iafTauRefCell",
    "fitz_hugh_nagumo_cells": "fitzHughNagumoCell",
    "fitz_hugh_nagumo1969_cells": "fitzHughNagumo1969Cell",
    "pinsky_rinzel_ca3_cells": "pinskyRinzelCA3Cell",
    "exp_three_synapses": "expThreeSynapse",
    "blocking_plastic_synapses": "blockingPlasticSynapse",
    "double_synapses": "doubleSynapse",
    "graded_synapses": "gradedSynapse",
    "linear_graded_synapses": "linearGradedSynapse",
    "silent_synapses": "silentSynapse",
    "exp_cond_synapses": "expCondSynapse",
    "alpha_cond_synapses": "alphaCondSynapse",
    "exp_curr_synapses": "expCurrSynapse",
    "alpha_curr_synapses": "alphaCurrSynapse",
}


@functools.lru_cache(maxsize=256)
def read_document(path: Path) -> Any:
    """The libNeuroML document of a file (with its includes), parsed once per process."""
    from neuroml.loaders import read_neuroml2_file

    if not path.is_file():
        raise CircuitError(f"NeuroML file not found: {path}", file=path)
    try:
        return read_neuroml2_file(str(path), include_includes=True)
    except Exception as exc:  # libNeuroML raises plain Exceptions on bad XML
        raise CircuitError(f"cannot read NeuroML file: {exc}", file=path) from None


def components(document: Any, lists: dict[str, str]) -> dict[str, tuple[str, Any]]:
    """id -> (element name, libNeuroML object) for the document's elements in `lists`."""
    found: dict[str, tuple[str, Any]] = {}
    for attribute, element in lists.items():
        for item in getattr(document, attribute, None) or []:
            found[str(item.id)] = (element, item)
    return found


def refused_elements(document: Any) -> dict[str, str]:
    """id -> element name of the document's components we know and do not run."""
    found = {i: e for i, (e, _) in components(document, REFUSED_LISTS).items()}
    for cell in getattr(document, "cells", None) or []:
        found.setdefault(str(cell.id), "cell")
    for name in ("component_types",):
        for item in getattr(document, name, None) or []:
            found.setdefault(str(getattr(item, "name", "?")), "ComponentType")
    return found


def find_file(name: str, directories: tuple[Path | None, ...], nodes_file: Path, key: str) -> Path:
    """A model file named by a node or edge attribute, in the first directory holding it."""
    candidate = Path(name)
    if candidate.is_absolute():
        if candidate.is_file():
            return candidate
    else:
        for directory in directories:
            if directory is not None and (Path(directory) / candidate).is_file():
                return Path(directory) / candidate
    searched = ", ".join(str(d) for d in directories if d is not None) or "no directory"
    raise CircuitError(
        f"NeuroML file '{name}' not found (searched {searched})", file=nodes_file, key=key
    )
