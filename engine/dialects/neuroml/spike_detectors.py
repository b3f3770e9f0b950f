"""Where a multi-compartment cell's outgoing connections watch its membrane.

Why: jNeuroML's NEURON export gives each connection a NetCon watching v at its
preSegmentId / preFractionAlong (at the cell's spikeThresh) and records the cell's own
spikes at soma(0.5). The engine does the same: a cell's gid detects at soma(0.5) (its
recorded spikes, and the connections leaving from there); each other place its
connections leave from gets one more detector. `convert --to sonata` writes the node
attribute DETECTORS (those places, "section:position;...", in first-seen order) and the
edge attribute DETECTOR (0: the soma detector, k: the k-th place of the source cell).
"""

from __future__ import annotations

import numpy as np

DETECTORS = "neuroml_spike_detectors"
DETECTOR = "neuroml_spike_detector"
SOMA = (0, 0.5)  # the cell's own detector


class SpikeDetectors:
    """The places the converted connections leave from, per population and cell."""

    def __init__(self) -> None:
        self._places: dict[str, dict[int, list[tuple[int, float]]]] = {}

    def indices(
        self, population: str, cells: np.ndarray, sections: np.ndarray, positions: np.ndarray
    ) -> np.ndarray:
        """The DETECTOR of each connection (cells: NeuroML cell ids of the pre side)."""
        found = np.zeros(len(cells), np.int64)
        for k, (cell, section, position) in enumerate(zip(cells, sections, positions, strict=True)):
            place = (int(section), float(position))
            if place == SOMA:
                continue
            places = self._places.setdefault(population, {}).setdefault(int(cell), [])
            if place not in places:
                places.append(place)
            found[k] = places.index(place) + 1
        return found

    def node_attributes(self, population: str, index: dict[int, int]) -> dict[str, np.ndarray]:
        """{DETECTORS: text per node} of a population some connection leaves off the soma."""
        cells = self._places.get(population)
        if not cells:
            return {}
        text = np.full(len(index), "", dtype=object)
        for cell, places in cells.items():
            text[index[cell]] = format_places(places)
        return {DETECTORS: text}


def format_places(places: list[tuple[int, float]]) -> str:
    return ";".join(f"{section}:{float(position)!r}" for section, position in places)


def parse_places(text: str) -> list[tuple[int, float]]:
    """The (section id, position) places of a DETECTORS value ("" : none)."""
    places = []
    for item in filter(None, str(text).split(";")):
        section, _, position = item.partition(":")
        places.append((int(section), float(position)))
    return places
