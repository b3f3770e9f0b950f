"""What a CoreNEURON run cannot do, found before the run (one line naming it).

Why before: CoreNEURON fails (or silently does something else) mid-run on Python callbacks
and on mechanisms it lacks, after the user waited for the build. Each check names the
config key or the mechanism.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

# Input modules that need a NEURON feature CoreNEURON lacks.
UNSUPPORTED_INPUTS = {
    "spatially_uniform_e_field": "NEURON's extracellular mechanism",
}
# Density mechanisms that exist in NEURON only (CoreNEURON has no copy of them).
NEURON_ONLY_MECHANISMS = ("extracellular",)
# Built into both NEURON and CoreNEURON without a .mod file.
CORE_BUILTINS = {"capacitance", "morphology"}
_DECLARATION = re.compile(r"^\s*(SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)", re.MULTILINE)


def _enum(value: Any) -> str:
    return str(value.name) if hasattr(value, "name") else str(value)


def refuse_unsupported(simulation: Any) -> None:
    """Raise ConfigError for the first feature of the built model CoreNEURON cannot run."""
    setup, h = simulation.setup, simulation.sim.h
    where = setup.config_path
    for name in setup.input_names:
        module = _enum(setup.input(name).module)
        if module in UNSUPPORTED_INPUTS:
            raise ConfigError(
                f"input {name!r} ({module}) needs {UNSUPPORTED_INPUTS[module]}, which"
                " CoreNEURON does not have; use target_simulator NEURON",
                file=where,
                key=f"inputs.{name}.module",
            )
    if int(h.secondorder) != 0:
        raise ConfigError(
            "run.integration_method other than euler (0) is not supported with CoreNEURON",
            file=where,
            key="run.integration_method",
        )
    if simulation.delayed_weight_changes:
        raise ConfigError(
            "connection_overrides with a delay change weights during the run through Python"
            " events, which CoreNEURON cannot call; use target_simulator NEURON",
            file=where,
            key="connection_overrides",
        )
    from engine.mechanisms import build_directory

    available = coreneuron_mechanisms(build_directory(simulation.library))
    available -= set(NEURON_ONLY_MECHANISMS)
    refuse_missing_mechanisms(h, available, where)
    if bool(h.cvode.active()):
        raise ConfigError(
            "CoreNEURON integrates with a fixed time step only (CVODE is active)",
            file=where,
            key="target_simulator",
        )


def mechanism_names(mod_files: list[Path]) -> set[str]:
    """Mechanism names declared by .mod files (SUFFIX / POINT_PROCESS / ARTIFICIAL_CELL)."""
    names = set()
    for path in mod_files:
        text = path.read_text(errors="replace")
        names.update(m.group(2) for m in _DECLARATION.finditer(text))
    return names


def coreneuron_mechanisms(build_dir: Path) -> set[str]:
    """What CoreNEURON can run: its built-in mechanisms (the wheel's modfile directory)
    and every .mod file compiled into this build."""
    import neuron

    wheel = Path(neuron.__file__).parent / ".data" / "share" / "modfile"
    mods = sorted(wheel.glob("*.mod")) + sorted(build_dir.glob("*.mod"))
    return mechanism_names(mods) | CORE_BUILTINS


def refuse_missing_mechanisms(h: Any, available: set[str], where: Path) -> None:
    """A point process or artificial cell the model uses that CoreNEURON lacks."""
    types = h.MechanismType(1)
    selected = h.ref("")
    for index in range(int(types.count())):
        types.select(index)
        types.selected(selected)
        name = str(selected[0])
        if name in available:
            continue
        if int(h.List(name).count()) > 0:
            raise ConfigError(
                f"the model uses {name}, which has no CoreNEURON version (not in CoreNEURON"
                " nor compiled from a .mod file); use target_simulator NEURON",
                file=where,
                key="target_simulator",
            )
    density = h.MechanismType(0)
    missing = []
    for index in range(int(density.count())):
        density.select(index)
        density.selected(selected)
        name = str(selected[0])
        if name not in available and not name.endswith("_ion"):
            missing.append(name)
    for name in missing:
        section = _first_section_with(h, name)
        if section is not None:
            raise ConfigError(
                f"section {section} has the mechanism {name!r}, which has no CoreNEURON"
                " version; use target_simulator NEURON",
                file=where,
                key="target_simulator",
            )


def _first_section_with(h: Any, mechanism: str) -> str | None:
    for section in h.allsec():
        if section.has_membrane(mechanism):
            return section.name()
    return None
