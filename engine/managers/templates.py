"""hoc cell templates (`model_template: hoc:Name`), called the way neurodamus calls them.

Constructor arguments: (0-based node id, morphology directory, morphology file name, 0).
Our own templates build their sections through the morphio loader; templates that load
their morphology themselves (BBP emodels with Import3d) work unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import NodePopulationInfo
from engine.errors import CircuitError


def load_template(h: Any, info: NodePopulationInfo, name: str) -> None:
    """Load `<biophysical_neuron_models_dir>/<name>.hoc` once per process."""
    if hasattr(h, name):
        return
    models_dir = info.biophysical_neuron_models_dir
    if models_dir is None:
        raise CircuitError(
            f"population '{info.name}' has no biophysical_neuron_models_dir",
            key="components.biophysical_neuron_models_dir",
        )
    path = models_dir / f"{name}.hoc"
    if not path.exists():
        raise CircuitError("hoc template not found", file=path, key="model_template")
    if not h.load_file(str(path)) or not hasattr(h, name):
        raise CircuitError(f"file does not define template {name}", file=path)


def instantiate_hoc_cell(
    h: Any,
    info: NodePopulationInfo,
    name: str,
    node_id: int,
    morph_dir: Path,
    morphology: str,
    ext: str,
    loader: Any,
) -> tuple[Any, list[Any]]:
    """Build one cell; returns the hoc object and its sections in SONATA section-id order."""
    load_template(h, info, name)
    morph_file = morphology if Path(morphology).suffix else f"{morphology}.{ext}"
    try:
        hoc = getattr(h, name)(node_id, str(morph_dir), morph_file, 0)
    except RuntimeError as exc:
        error = getattr(loader, "last_error", None)
        if isinstance(error, CircuitError):
            raise error from None
        raise CircuitError(
            f"template {name} failed for node {node_id} (morphology {morph_file}): {exc}",
            file=info.nodes_file,
        ) from None
    sections = loader.sections_of(hoc) or list(hoc.all)
    return hoc, sections
