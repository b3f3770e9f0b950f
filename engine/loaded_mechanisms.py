"""What the running NEURON knows: the mechanisms built in or loaded (engine.mechanisms builds
and loads them; this only asks)."""

from __future__ import annotations

from typing import Any


def mechanism_names(h: Any, kinds: tuple[int, ...] = (0, 1)) -> list[str]:
    """Every density mechanism (kind 0) and point process (kind 1) NEURON knows (built in or
    loaded)."""
    names = []
    for kind in kinds:
        types = h.MechanismType(kind)
        selected = h.ref("")
        for index in range(int(types.count())):
            types.select(index)
            types.selected(selected)
            names.append(str(selected[0]))
    return names


def mechanism_exists(h: Any, name: str) -> bool:
    """Whether NEURON knows a density mechanism or point process called `name`."""
    return name in mechanism_names(h)
