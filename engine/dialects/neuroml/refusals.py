"""Refusals of NeuroML content: one line naming the file, the element and its id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.dialects.neuroml import units
from engine.errors import CircuitError


class NeuroMLRefused(CircuitError):
    """An element sonatasim does not simulate (refused before the run)."""


def refuse(path: Path, element: str, ident: Any, why: str = "is not supported") -> NeuroMLRefused:
    return NeuroMLRefused(f"NeuroML <{element}> id '{ident}' {why}", file=path)


def value(path: Path, element: str, ident: Any, text: Any, dimension: str) -> float:
    try:
        return units.parse(text, dimension)
    except units.UnitError as exc:
        raise refuse(path, element, ident, f"has a bad value: {exc}") from None
