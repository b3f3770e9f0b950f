"""Registry of input families: `@register("linear")` on a class is all a new input needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_REGISTRY: dict[str, type] = {}


def register(*modules: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        for module in modules:
            _REGISTRY[module] = cls
        return cls

    return decorate


def module_name(block: Any) -> str:
    module = block.module
    return str(module.name) if hasattr(module, "name") else str(module)


def lookup(module: str) -> type | None:
    _load_builtin_modules()
    return _REGISTRY.get(module)


def supported() -> list[str]:
    _load_builtin_modules()
    return sorted(_REGISTRY) + ["synapse_replay"]


def _load_builtin_modules() -> None:
    """Import every module of engine.stimuli so their decorators run."""
    import importlib
    import pkgutil

    import engine.stimuli as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "registry":
            importlib.import_module(f"engine.stimuli.{info.name}")
